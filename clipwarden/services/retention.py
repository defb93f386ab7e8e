"""The retention sweep: clips past their plan's retention, and consents whose shared copy has outlived
the retention its notice promised (each ends as ConsentExpired, which takes its clip out of the queue)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from clipwarden.consent import service as consent_service
from clipwarden.services import clips as clip_service
from clipwarden.services.audit_trail import after_retraction, consent_changed
from clipwarden.store import Store


def sweep(store: Store, at: datetime) -> dict[str, Any]:
    """Expire what is due at ``at``: ``{expired: [clip ids], certificate_id, consents_expired: [ids]}``."""
    swept = clip_service.sweep_retention(store, at)
    expired = consent_service.expire_due(store, at, on_change=consent_changed)
    after_retraction(store, at)  # the leases the expired consents ended, the models that learned their clips
    return swept | {"consents_expired": expired}
