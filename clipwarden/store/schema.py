"""The database schema (SQLAlchemy Core). The Alembic migrations in ``migrations/`` create it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

# Named constraints, so that migrations (and SQLite batch mode, which rebuilds tables) can refer to them.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant on every backend.

    SQLite has no time zones: SQLAlchemy stores the wall-clock digits and drops the offset. Converting to
    UTC on the way in and labelling as UTC on the way out keeps values comparable (as text, in order) and
    keeps naive datetimes out of the program.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given where a UTC instant is needed")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


HOUSEHOLD_STATUSES = ("active", "erased")
CLIP_STATUSES = ("stored", "deleted", "expired")


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({listed})", name=f"{column}_valid")


households = Table(
    "households",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("jurisdiction", String(2), nullable=False),
    Column("plan", String(16), nullable=False),
    # Personal data: blanked when the household is erased.
    Column("owner_name", Text, nullable=False, default=""),
    Column("address", Text, nullable=False, default=""),
    Column("status", String(8), nullable=False, default="active"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("erased_at", UTCDateTime),
    _one_of("status", HOUSEHOLD_STATUSES),
)

cameras = Table(
    "cameras",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("household_id", String(64), ForeignKey("households.id"), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("placement", String(16), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("fps", Integer, nullable=False),
    Column("motion_masks", JSON, nullable=False),
    Column("privacy_zones", JSON, nullable=False),
)

mode_changes = Table(
    "mode_changes",
    metadata,
    Column("household_id", String(64), ForeignKey("households.id"), primary_key=True),
    Column("at", UTCDateTime, primary_key=True),
    Column("mode", String(4), nullable=False),
    _one_of("mode", ("home", "away")),
)

clips = Table(
    "clips",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("household_id", String(64), ForeignKey("households.id"), nullable=False, index=True),
    # No foreign key: erasure removes the camera row while the clip's tombstone stays, so that a
    # re-upload of an erased clip is recognised and not stored again.
    Column("camera_id", String(64), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("fps", Integer, nullable=False),
    Column("codec", String(16), nullable=False),
    Column("blob_sha256", String(64), nullable=False, index=True),
    Column("size_bytes", BigInteger, nullable=False),
    Column("status", String(8), nullable=False, default="stored"),
    Column("expires_at", UTCDateTime, nullable=False),
    # The camera AI's verdict; cleared with the media, since it was read from the pixels.
    Column("ai_label", String(16)),
    Column("ai_alert", Boolean),
    Column("ai_confidence", Float),
    Column("ai_model_id", String(40)),  # the deployed model that labelled the clip; null: the rules
    # What the camera measured per frame as it recorded (media.capture.track_document); cleared with the
    # media. Null for a clip uploaded without one.
    Column("motion_track", JSON(none_as_null=True)),
    # A small JPEG of a keyframe, for the owner's clip list (media.codec.keyframe_jpeg); cleared with the media.
    Column("thumbnail", LargeBinary),
    Column("created_at", UTCDateTime, nullable=False),
    # When the media went, by deletion or by expiry.
    Column("deleted_at", UTCDateTime),
    # A camera cannot record two clips starting at the same instant: this key makes ingest idempotent.
    UniqueConstraint("camera_id", "started_at"),
    _one_of("status", CLIP_STATUSES),
    Index(None, "status", "expires_at"),
)

deletion_certificates = Table(
    "deletion_certificates",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("subject_type", String(16), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("document", JSON, nullable=False),
    Index(None, "subject_type", "subject_id"),
)

# The audit log (clipwarden.audit): RFC 6962 Merkle leaves, append-only, and the tree heads signed so far.
audit_entries = Table(
    "audit_entries",
    metadata,
    # The leaf's position in the tree, also written inside the leaf, so that a dropped or moved row shows.
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(64), nullable=False),
    # Canonical JSON; the Merkle leaf hashed is exactly these bytes.
    Column("leaf", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
)

audit_tree_heads = Table(
    "audit_tree_heads",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    # Ed25519 over the head's canonical JSON, by the service key named by kid (clipwarden.signing).
    Column("signature", LargeBinary(64), nullable=False),
    Column("kid", String(64), nullable=False),
)

# Consent (clipwarden.consent): the notices as published, the consents given, and each consent's
# history of DPV states. All three are append-only: rows are inserted, never updated or deleted.

notices = Table(
    "notices",
    metadata,
    Column("purpose", String(40), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("sha256", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("human_review", Boolean, nullable=False),
    Column("sites", JSON, nullable=False),
    Column("redacted", Boolean, nullable=False),
    Column("retention_days", Integer, nullable=False),
    Column("material", Boolean, nullable=False),
    Column("published_at", UTCDateTime, nullable=False),
)

consents = Table(
    "consents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("household_id", String(64), ForeignKey("households.id"), nullable=False),
    # NULL: account-wide (the tester program). Clip rows outlive their media as tombstones.
    Column("clip_id", String(40), ForeignKey("clips.id")),
    Column("purposes", JSON, nullable=False),
    Column("notice_versions", JSON, nullable=False),  # {purpose: version} as first given
    Column("allow_unredacted", Boolean, nullable=False),
    Column("sites", JSON, nullable=False),
    Column("jurisdiction", String(2), nullable=False),
    Column("given_at", UTCDateTime, nullable=False),
    Column("given_by", String(64), nullable=False),
    # The enforcement point's lookup: a clip's own consents and its household's account-wide ones.
    Index(None, "household_id", "clip_id"),
    Index(None, "clip_id"),
    Index(None, "given_at"),
)

consent_events = Table(
    "consent_events",
    metadata,
    Column("consent_id", String(36), ForeignKey("consents.id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("state", String(32), nullable=False),  # a DPV consent status
    Column("actor", String(64), nullable=False),
    # Set on RenewedConsentGiven: the notice versions and sites renewed to.
    Column("notice_versions", JSON),
    Column("sites", JSON),
)

USER_ROLES = ("owner", "reviewer", "auditor", "admin")
TASK_STATUSES = ("queued", "done", "removed")
TASK_STAGES = ("annotate", "adjudicate")

# Accounts. API tokens are random and long, so a plain SHA-256 of the token is what is kept.
users = Table(
    "users",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("role", String(8), nullable=False),
    Column("household_id", String(64), ForeignKey("households.id"), index=True),
    Column("site", String(8)),
    # What others see of this account (reviewers are known to owners only by it).
    Column("pseudonym", String(40), nullable=False, unique=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    # Argon2id, for signing in to the web pages (clipwarden.web.sessions); NULL: API token only.
    Column("password_hash", Text),
    # What one signs in with, besides the id; the account's own handle, never shown to others (the pseudonym is).
    Column("name", String(64), nullable=False, unique=True),
    Column("last_sign_in_at", UTCDateTime),
    _one_of("role", USER_ROLES),
)

# Wrong passwords in a row, by the SHA-256 of the account id typed (known or not, so that a pause tells
# nobody whether an account exists, and a mistyped id is not kept); the row goes when the account signs
# in or is erased (clipwarden.services.users).
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("account_sha256", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failed_at", UTCDateTime, nullable=False),
    Column("paused_until", UTCDateTime, nullable=False),
)

# What the enforcement point needs to know of a clip beyond its row: the sensitive-content screen's
# verdict, the owner's confirmation after the warning, and quarantine.
clip_controls = Table(
    "clip_controls",
    metadata,
    Column("clip_id", String(40), ForeignKey("clips.id"), primary_key=True),
    Column("screened_at", UTCDateTime),
    Column("screen_flagged", Boolean),
    Column("screen_score", Float),
    Column("screen_reasons", JSON),
    Column("sensitive_confirmed_at", UTCDateTime),
    Column("quarantined_at", UTCDateTime),
    Column("quarantine_reason", Text),
)

# Clips waiting for human review. The task id is the only handle a reviewer ever gets (invariant 4).
review_tasks = Table(
    "review_tasks",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("clip_id", String(40), ForeignKey("clips.id"), nullable=False),
    Column("consent_id", String(36), ForeignKey("consents.id"), nullable=False),
    Column("purpose", String(40), nullable=False),
    Column("status", String(8), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime),
    Column("closed_reason", Text),
    # Answers wanted from different reviewers; a gold task (known answer) is never done, only answered.
    Column("answers_needed", Integer, nullable=False, server_default="2"),
    Column("gold_label", String(16)),
    Column("stage", String(12), nullable=False, server_default="annotate"),  # annotate | adjudicate
    _one_of("status", TASK_STATUSES),
    _one_of("stage", TASK_STAGES),
    # Withdrawal and deletion look tasks up by consent or clip and state; the queue by state and age.
    Index(None, "consent_id", "status"),
    Index(None, "clip_id", "status"),
    Index(None, "status", "created_at"),
)

# Every decision on a clip for someone other than its owner: the owner's view of who touched it. A
# projection of the audit log's decision entries (audit_index points at the leaf).
access_log = Table(
    "access_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("clip_id", String(40), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor_pseudonym", String(40), nullable=False),
    Column("role", String(8), nullable=False),
    Column("site", String(8)),
    Column("action", String(16), nullable=False),
    Column("purpose", String(40), nullable=False),
    Column("allow", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("audit_index", BigInteger, nullable=False),
)

# GDPR Art. 17 requests, each answered within Art. 12(3)'s month. A request is committed before the
# erasure starts, so that an accepted one survives a crash; the erasure closes it with its certificate.
ERASURE_REQUEST_STATUSES = ("open", "closed")
erasure_requests = Table(
    "erasure_requests",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("subject_type", String(16), nullable=False),  # clip | household
    Column("subject_id", String(64), nullable=False),
    Column("household_id", String(64), ForeignKey("households.id"), nullable=False, index=True),
    Column("requested_by", String(64), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("deadline", UTCDateTime, nullable=False),
    Column("status", String(8), nullable=False),
    Column("closed_at", UTCDateTime),
    Column("certificate_id", String(40), ForeignKey("deletion_certificates.id")),
    _one_of("status", ERASURE_REQUEST_STATUSES),
    Index(None, "status", "deadline"),
)

# Cookie sessions for the web pages (clipwarden.web.sessions). The cookie value itself is never kept: the
# row's id is its SHA-256.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(40), ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),  # the absolute limit, fixed at sign-in
    Column("client_ip", String(45), nullable=False),
    # Echoed in every form the session renders; a post without it is refused (cross-site request forgery).
    Column("csrf_token", String(64), nullable=False),
    Column("ended_at", UTCDateTime),
    Column("ended_reason", String(16)),  # signed_out | idle | expired | password
)

# A reviewer's time-limited hold on a task. Its id is the task token, the only handle the reviewer gets
# (invariant 4). One reviewer never holds two leases on one clip, whatever became of the first.
LEASE_STATUSES = ("active", "submitted", "expired", "stopped", "revoked")
review_leases = Table(
    "review_leases",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("task_id", String(40), ForeignKey("review_tasks.id"), nullable=False),
    Column("clip_id", String(40), ForeignKey("clips.id"), nullable=False),
    Column("reviewer_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("site", String(8), nullable=False),
    Column("leased_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("status", String(10), nullable=False),
    Column("ended_at", UTCDateTime),
    _one_of("status", LEASE_STATUSES),
    UniqueConstraint("clip_id", "reviewer_id"),
    Index(None, "reviewer_id", "leased_at"),
    Index(None, "task_id", "status"),
    Index(None, "status", "expires_at"),
)

review_annotations = Table(
    "annotations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("lease_id", String(40), ForeignKey("review_leases.id"), nullable=False, unique=True),
    Column("task_id", String(40), ForeignKey("review_tasks.id"), nullable=False, index=True),
    Column("clip_id", String(40), ForeignKey("clips.id"), nullable=False, index=True),
    Column("reviewer_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("label", String(16), nullable=False),
    Column("ai_correct", Boolean),
    Column("segments", JSON, nullable=False),
    Column("boxes", JSON, nullable=False),
    Column("gold", Boolean, nullable=False),
    Column("submitted_at", UTCDateTime, nullable=False),
)

# One viewing of a leased clip: the rendition made for it and the payload watermarked into it, so that a
# leaked copy names its session (`clipwarden trace`). Media URLs are bound to the requester's credential.
view_sessions = Table(
    "view_sessions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("payload", String(16), nullable=False, unique=True),  # 64 bits, hex
    Column("lease_id", String(40), ForeignKey("review_leases.id"), nullable=False, index=True),
    Column("reviewer_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("credential_sha256", String(64), nullable=False),
    Column("redaction", String(12), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
    Column("rendition_sha256", String(64), index=True),  # NULL once the file is deleted: few rows hold one
    Column("rendition_bytes", BigInteger),
)

# The consolidated answer for each task (Dawid-Skene over its annotations).
consolidations = Table(
    "consolidations",
    metadata,
    Column("task_id", String(40), ForeignKey("review_tasks.id"), primary_key=True),
    Column("clip_id", String(40), ForeignKey("clips.id"), nullable=False, index=True),
    Column("label", String(16), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("answers", Integer, nullable=False),
    Column("needs_review", Boolean, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("decided_at", UTCDateTime, nullable=False),
)

# Messages to owners about their clips (a reviewer stopped a view and the clip was quarantined, ...).
notifications = Table(
    "notifications",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("household_id", String(64), ForeignKey("households.id"), nullable=False, index=True),
    Column("clip_id", String(40)),
    Column("kind", String(24), nullable=False),
    Column("text", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

# The room model of a camera on a day (UTC): redaction's samples of its clips of that day and the nearest
# few on either side, kept in a file under the data dir (content-addressed), derived from the clips named
# in ``sources`` and erased with any of them. No foreign key on the camera, as for clips: erasure removes
# the camera row.
room_models = Table(
    "room_models",
    metadata,
    Column("camera_id", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("sources", JSON, nullable=False),  # clip ids, in the order of the file's samples
    Column("built_at", UTCDateTime, nullable=False),
)

# Dataset snapshots (clipwarden.learn.datasets): immutable, named by the SHA-256 of their canonical manifest.
# An erasure of a clip they hold deletes that clip's items and marks the snapshot superseded: its manifest
# can no longer be rebuilt, and ``superseded_by`` names the snapshot that replaces it once one is built.
dataset_snapshots = Table(
    "dataset_snapshots",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("min_confidence", Float, nullable=False),
    Column("items", Integer, nullable=False),
    Column("excluded", JSON, nullable=False),  # {reason: count} when it was built
    Column("audit_index", BigInteger, nullable=False),  # the leaf that holds the manifest's hash
    Column("superseded_by", String(40)),
    Column("superseded_at", UTCDateTime),
    Column("superseded_reason", Text),
)

# One item of a snapshot: its lineage record exactly as the manifest holds it, and the clip it came from
# (never in the manifest, which names items by a pseudonym).
dataset_items = Table(
    "dataset_items",
    metadata,
    Column("snapshot_id", String(40), ForeignKey("dataset_snapshots.id"), primary_key=True),
    Column("item_id", String(40), primary_key=True),
    Column("clip_id", String(40), ForeignKey("clips.id"), nullable=False, index=True),
    Column("record", JSON, nullable=False),
    Column("consent_id", String(40), index=True),  # the record's consent, for withdrawals to find
    Column("features", JSON),  # the clip's feature vector, cached by the first training on the snapshot
)

# A trained camera AI: its artefact is the content-addressed file models/SHA256 in the data dir, loaded
# only when it still hashes to ``sha256``; ``card`` is its model card.
models = Table(
    "models",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("snapshot_id", String(40), ForeignKey("dataset_snapshots.id"), nullable=False, index=True),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("shards", Integer, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # active, unlearning, unlearned, retired
    Column("created_at", UTCDateTime, nullable=False),
    Column("card", JSON, nullable=False),
    Column("audit_index", BigInteger, nullable=False),
    Column("replaced_by", String(40)),  # the model that forgot what this one had to
    Column("unlearned_at", UTCDateTime),
)

# The items a model learned from, where they sat (shard and slice): what unlearning retrains, and what an
# owner's view of a clip's models is drawn from.
model_items = Table(
    "model_items",
    metadata,
    Column("model_id", String(40), ForeignKey("models.id"), primary_key=True),
    Column("item_id", String(40), primary_key=True, index=True),
    Column("shard", Integer, nullable=False),
    Column("slice", Integer, nullable=False),
)

# A snapshot exported for outside tools (CVAT, Label Studio, COCO): once written it is out of the system's
# reach, so the row stays after its clips are erased and deletion certificates name it. ``payload`` is the
# invisible watermark (16 hex digits) its media carry, which `trace` reads back to name the export.
dataset_exports = Table(
    "dataset_exports",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("snapshot_id", String(40), ForeignKey("dataset_snapshots.id"), nullable=False, index=True),
    Column("format", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("path", Text, nullable=False),
    Column("payload", String(16), nullable=False, unique=True),
    Column("items", Integer, nullable=False),
    Column("excluded", JSON, nullable=False),  # {reason: count}: items the gate refused at export time
    Column("audit_index", BigInteger, nullable=False),
)

# The items (and their clips) one export carried, and the consent each was allowed by: a withdrawal names the
# exports that carried what it covers.
dataset_export_items = Table(
    "dataset_export_items",
    metadata,
    Column("export_id", String(40), ForeignKey("dataset_exports.id"), primary_key=True),
    Column("item_id", String(40), primary_key=True),
    Column("clip_id", String(40), ForeignKey("clips.id"), nullable=False, index=True),
    Column("consent_id", String(40), nullable=False, index=True),  # the consent the export was allowed by
)

# Each time a model was put on the fleet; the latest row is the one the fleet uses.
model_deployments = Table(
    "model_deployments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", String(40), ForeignKey("models.id"), nullable=False),
    Column("deployed_at", UTCDateTime, nullable=False),
    Column("audit_index", BigInteger, nullable=False),
)
