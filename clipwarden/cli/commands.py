from clipwarden.cli import app  # noqa: F401
