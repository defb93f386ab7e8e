"""The erasure plan's parts that every layer may fill: the scope of one erasure, the steps registered by
each store that holds a person's data, and the clips an erasure covers.

It lives below the stages that register steps (review queues, renditions, sessions, training sets), so
that none of them reaches up into the services that run the plan (``services/erasure.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, select

from clipwarden.store import Store
from clipwarden.store.schema import clips

SubjectType = Literal["clip", "household", "retention"]
Artefact = dict[str, Any]
ALL_SUBJECTS: frozenset[SubjectType] = frozenset({"clip", "household", "retention"})


@dataclass(frozen=True)
class ClipRef:
    """A clip in an erasure's scope, as it was when the erasure was planned."""

    id: str
    status: str
    sha256: str
    size_bytes: int


@dataclass(frozen=True)
class ErasureScope:
    """What one erasure covers."""

    subject_type: SubjectType
    subject_id: str  # the clip id, the household id, or the sweep's instant
    clips: tuple[ClipRef, ...]  # clips whose media and derived data go
    clip_status: Literal["deleted", "expired"]  # what those clips' rows become
    at: datetime

    @property
    def clip_ids(self) -> tuple[str, ...]:
        return tuple(clip.id for clip in self.clips)


def _nothing_to_verify(store: Store, artefacts: list[Artefact]) -> bool:
    return True


@dataclass(frozen=True)
class ErasureStep:
    """One store's part of an erasure: ``run`` removes and reports; ``verify`` checks, once every step
    has run, that what it reported removed is gone. Lower ``order`` runs first."""

    name: str
    subjects: frozenset[SubjectType]
    run: Callable[[Connection, Store, ErasureScope], list[Artefact]]
    verify: Callable[[Store, list[Artefact]], bool] = _nothing_to_verify
    order: int = 50


_STEPS: list[ErasureStep] = []


def register_erasure_step(step: ErasureStep) -> None:
    if any(known.name == step.name for known in _STEPS):
        raise ValueError(f"erasure step {step.name!r} is registered already")
    _STEPS.append(step)
    _STEPS.sort(key=lambda known: known.order)


def erasure_steps() -> tuple[ErasureStep, ...]:
    return tuple(_STEPS)


def plan_clips(conn: Connection, *criteria: ColumnElement[bool]) -> tuple[ClipRef, ...]:
    """The clips matching ``criteria``, in recording order, row-locked until the transaction ends."""
    rows = conn.execute(
        select(clips.c.id, clips.c.status, clips.c.blob_sha256, clips.c.size_bytes)
        .where(*criteria)
        .order_by(clips.c.started_at, clips.c.id)
        .with_for_update()
    )
    return tuple(ClipRef(row.id, row.status, row.blob_sha256, row.size_bytes) for row in rows)
