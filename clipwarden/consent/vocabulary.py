"""The fixed words of consent: purposes (CONTRACT), reviewer sites, and consent states (W3C DPV 2.x)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Purpose = Literal["troubleshooting", "human_review_for_model_improvement", "automated_training", "tester_program"]
PURPOSES: tuple[Purpose, ...] = get_args(Purpose)
# Enrolment in the tester programme covers every clip of the account; every other purpose is given per clip.
ACCOUNT_WIDE_PURPOSES: frozenset[str] = frozenset({"tester_program"})

CONTROLLER = "clipwarden demo operator"


@dataclass(frozen=True)
class ReviewerSite:
    """A place where people may watch shared clips, and who runs it."""

    code: str
    city: str
    country: str
    in_eu: bool
    contractor: str | None  # None: the controller's own staff; else the (fictional) contractor that runs it


SITES: dict[str, ReviewerSite] = {
    site.code: site
    for site in (
        ReviewerSite("in-hyd", "Hyderabad", "India", False, "Deccan Label Works Pvt Ltd"),
        ReviewerSite("ro-buc", "Bucharest", "Romania", True, "Carpathia Annotation SRL"),
        ReviewerSite("us-sea", "Seattle", "United States", False, None),
    )
}

ConsentState = Literal[
    "ConsentRequested",
    "ConsentRequestDeferred",
    "ConsentRefused",
    "ConsentGiven",
    "RenewedConsentGiven",
    "ConsentWithdrawn",
    "ConsentRevoked",
    "ConsentExpired",
    "ConsentInvalidated",
    "ConsentUnknown",
]
CONSENT_STATES: tuple[ConsentState, ...] = get_args(ConsentState)
# DPV: only these two states permit processing.
VALID_STATES: frozenset[str] = frozenset({"ConsentGiven", "RenewedConsentGiven"})
# States a consent never leaves: after them, only a new consent permits processing again.
FINAL_STATES: frozenset[str] = frozenset(
    {"ConsentRefused", "ConsentWithdrawn", "ConsentRevoked", "ConsentExpired", "ConsentInvalidated"}
)
