"""Screenshots of each role's main page for docs/web.md, taken by the browser tests as they walk the pages.

Every run takes them (a page that cannot be drawn fails the test); with ``CLIPWARDEN_UPDATE_SCREENSHOTS=1`` they
replace the ones in docs/screenshots/, so that the documentation shows the pages as they are now.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def keep(page: Any, name: str, elsewhere: Path) -> Path:
    """Save the page as seen at 1280x800 to ``docs/screenshots/NAME.png`` when asked to, else under
    ``elsewhere``; the PNG's path."""
    folder = DOCS if os.environ.get("CLIPWARDEN_UPDATE_SCREENSHOTS") == "1" else elsewhere
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    if path.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError(f"{path} is not a PNG")
    return path
