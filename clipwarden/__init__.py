"""clipwarden: a consent-first pipeline for human review of home-camera clips."""

__version__ = "0.1.0"
