"""Use cases over the store, one function each (after cosmicpython): each opens its own transaction."""

from clipwarden.services.clips import (
    delete_clip,
    export_clip,
    fleet_stats,
    get_clip,
    ingest_clip,
    list_clips,
    sweep_retention,
)
from clipwarden.services.households import (
    erase_household,
    mode_at,
    record_mode_changes,
    register_camera,
    register_household,
)
from clipwarden.store.erasure_steps import ErasureScope, ErasureStep, register_erasure_step

__all__ = [
    "ErasureScope",
    "ErasureStep",
    "delete_clip",
    "erase_household",
    "export_clip",
    "fleet_stats",
    "get_clip",
    "ingest_clip",
    "list_clips",
    "mode_at",
    "record_mode_changes",
    "register_camera",
    "register_erasure_step",
    "register_household",
    "sweep_retention",
]

# Stages that hold derived copies of clips register their erasure steps when imported; import them here
# so that no deletion can run without them.
from clipwarden.services import audit_trail as _audit_trail  # noqa: F401
from clipwarden.services import reviewer as _reviewer  # noqa: F401
from clipwarden.services import room_models as _room_models  # noqa: F401
from clipwarden.services import users as _users  # noqa: F401
from clipwarden.store import datasets as _datasets  # noqa: F401
