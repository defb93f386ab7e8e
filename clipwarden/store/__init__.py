"""Where clipwarden keeps things: the database (SQLAlchemy Core, Alembic migrations) and clip media blobs."""

from clipwarden.store.blobs import BlobMissing, BlobStore, FileBlobStore, content_address
from clipwarden.store.db import Store, open_store

__all__ = ["BlobMissing", "BlobStore", "FileBlobStore", "Store", "content_address", "open_store"]
