"""The demo's report: one JSON document and the same facts as a self-contained HTML page."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from clipwarden.report.plots import before_after_png, study_png

_templates = Environment(
    loader=PackageLoader("clipwarden.report", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def write_report(report: dict[str, Any], data_dir: Path) -> tuple[Path, ...]:
    """Write report.json, report.html and the plots (report-learning.png) into the data dir, each replaced
    atomically; the HTML page carries its plots inline, so that it stands alone."""
    json_path = data_dir / "report.json"
    html_path = data_dir / "report.html"
    plots: dict[str, bytes] = {}
    learning = report.get("learning", {})
    if "after" in learning:
        names = ("rules\n(before)", "learned model\n(after)")
        plots["learning"] = before_after_png(learning["before"], learning["after"], names)
    paths = [json_path, html_path]
    for name, png in plots.items():
        paths.append(data_dir / f"report-{name}.png")
        _write_atomically(paths[-1], png)
    inline = {name: base64.b64encode(png).decode() for name, png in plots.items()}
    _write_atomically(json_path, (json.dumps(report, indent=2, default=str) + "\n").encode())
    _write_atomically(html_path, _templates.get_template("report.html").render(report=report, plots=inline).encode())
    return tuple(paths)


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
