"""The demo's report: one JSON document and the same facts as a self-contained HTML page."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

_templates = Environment(
    loader=PackageLoader("clipwarden.report", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def write_report(report: dict[str, Any], data_dir: Path) -> tuple[Path, Path]:
    """Write report.json and report.html into the data dir, each replaced atomically."""
    json_path = data_dir / "report.json"
    html_path = data_dir / "report.html"
    _write_atomically(json_path, json.dumps(report, indent=2, default=str) + "\n")
    _write_atomically(html_path, _templates.get_template("report.html").render(report=report))
    return json_path, html_path


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
