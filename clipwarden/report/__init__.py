"""The demo's report: one JSON document and the same facts as a self-contained HTML page."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from clipwarden import words
from clipwarden.report.plots import before_after_png, study_png

_templates = Environment(
    loader=PackageLoader("clipwarden.report", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters.update(label=words.label, purpose=words.purpose)


def write_report(report: dict[str, Any], data_dir: Path) -> tuple[Path, ...]:
    """Write report.json, report.html and, when the loop scored a model, its plot (report-learning.png) into
    the data dir, each replaced atomically; the HTML page carries the plot inline, so that it stands alone.
    A plot left by an earlier run goes: it would show another run's figures."""
    paths: tuple[Path, ...] = (data_dir / "report.json", data_dir / "report.html")
    plot_path = data_dir / "report-learning.png"
    learning = report.get("learning", {})
    plot = None
    if "after" in learning:
        png = before_after_png(learning["before"], learning["after"], ("rules\n(before)", "learned model\n(after)"))
        _write_atomically(plot_path, png)
        plot, paths = base64.b64encode(png).decode(), (*paths, plot_path)
    else:
        plot_path.unlink(missing_ok=True)
    _write_atomically(paths[0], (json.dumps(report, indent=2, default=str) + "\n").encode())
    _write_atomically(paths[1], _templates.get_template("report.html").render(report=report, plot=plot).encode())
    return paths


def write_study(study: dict[str, Any], data_dir: Path) -> tuple[Path, ...]:
    """Write study.json, study.html (the table, the costs and the plot inline) and study.png into the data dir."""
    data_dir.mkdir(parents=True, exist_ok=True)
    png = study_png(study)
    paths = (data_dir / "study.json", data_dir / "study.html", data_dir / "study.png")
    _write_atomically(paths[2], png)
    _write_atomically(paths[0], (json.dumps(study, indent=2, default=str) + "\n").encode())
    page = _templates.get_template("study.html").render(study=study, plot=base64.b64encode(png).decode())
    _write_atomically(paths[1], page.encode())
    return paths


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
