"""Imports every module that registers commands on the `clipwarden` app."""

from clipwarden.cli import access, audit, consent, datasets, fleet, models, owner, review, study  # noqa: F401
