"""The report's pictures, drawn with matplotlib's object API on its Agg canvas (no display, no global pyplot
state) as PNG bytes with no time or version in them, so that the same figures give the same bytes."""

from __future__ import annotations

import io
from typing import Any

from matplotlib.figure import Figure

_RATES = (  # (field, title, scale)
    ("false_alarms_per_100", "False alarms per 100 clips", 1.0),
    ("intruder_recall", "Intruder recall (%)", 100.0),
    ("accuracy", "Accuracy, 7 labels (%)", 100.0),
)
_COLOURS = ("#8a94a6", "#2b6cb0")  # before: grey, after: blue


def before_after_png(before: dict[str, Any], after: dict[str, Any], names: tuple[str, str]) -> bytes:
    """Three panels, each the two scorecards' rate with its 95% interval as an error bar."""
    figure = Figure(figsize=(10, 3.4), dpi=100)
    axes = figure.subplots(1, len(_RATES))
    for axis, (field, title, scale) in zip(axes, _RATES, strict=True):
        if before[field] is None and after[field] is None:
            # Recall has no value on a day without intruders: say so rather than draw an empty frame.
            note = "no intruder among\nthe held-out clips"
            axis.text(0.5, 0.5, note, ha="center", va="center", transform=axis.transAxes)
        if scale == 100.0:
            axis.set_ylim(0, 100)
        for position, (card, colour) in enumerate(zip((before, after), _COLOURS, strict=True)):
            value, interval = card[field], card[f"{field}_ci95"]
            if value is None:
                continue
            low, high = interval
            error = [[scale * (value - low)], [scale * (high - value)]]
            axis.bar(position, scale * value, color=colour, yerr=error, capsize=6, width=0.6)
            axis.annotate(f"{scale * value:.1f}", (position, scale * high), ha="center", va="bottom", fontsize=9)
        axis.set_xticks([0, 1], names)
        axis.set_title(title, fontsize=10)
        axis.set_ylim(bottom=0, top=max(axis.get_ylim()[1], 1.0) * 1.12)  # room for the figures above the bars
    figure.suptitle("Held-out clips: the rules before, the learned camera AI after (bars: 95% intervals)", fontsize=10)
    return _png(figure)


_STUDY_PANELS = (  # (field, title, scale)
    ("accuracy", "Accuracy, 7 labels (%)", 100.0),
    ("false_alarms_per_100", "False alarms per 100 clips", 1.0),
    ("intruder_recall", "Intruder recall (%)", 100.0),
)
_CURVES = {"uncertainty": "#c05621", "random": "#8a94a6"}  # selection curves: orange, grey


def study_png(study: dict[str, Any]) -> bytes:
    """The privacy-utility study: each held-out rate against the person-views of home video it took. The
    share-rate sweep is a line, the other one-factor cells are labelled points, the selection axis's rounds are
    curves, the rules a dashed line; error bars are 95% intervals over the pooled held-out clips."""
    figure = Figure(figsize=(13, 4.2), dpi=100)
    axes = figure.subplots(1, len(_STUDY_PANELS))
    cells = study["cells"]
    sweep = sorted((c for c in cells if _varies_share(c, study["baseline"])), key=lambda c: c["share_rate"])
    others = [c for c in cells if c not in sweep and c["selection"] == "all"]
    for axis, (field, title, scale) in zip(axes, _STUDY_PANELS, strict=True):
        _points(axis, sweep, field, scale, "-o", _COLOURS[1], "share rate (labels: % shared)")
        for cell in sweep:
            if cell[field] is not None:
                axis.annotate(f"{100 * cell['share_rate']:g}%", (cell["person_views"], scale * cell[field]), fontsize=7)
        for marker, cell in zip("sD^v<>p*h", others, strict=False):
            _points(axis, [cell], field, scale, marker, "#2f855a", _short(cell, study["baseline"]))
        for name, colour in _CURVES.items():
            if name in study["selection"]:
                _points(axis, study["selection"][name]["curve"], field, scale, "-.", colour, f"{name} sampling, rounds")
        if study["rules"][field] is not None:
            axis.axhline(scale * study["rules"][field], color="#4a5568", linestyle="--", linewidth=1, label="rules")
        if all(cell[field] is None for cell in cells):
            axis.text(
                0.5, 0.5, "no intruder among\nthe held-out clips", ha="center", va="center", transform=axis.transAxes
            )
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("person-views of home video (mean per seed)", fontsize=8)
        axis.set_ylim(bottom=0, top=100 if scale == 100.0 else max(axis.get_ylim()[1], 1.0))
    axes[0].legend(fontsize=7, loc="lower right")
    figure.suptitle(
        "Privacy-utility study: what each protection costs the camera AI (bars: 95% intervals)", fontsize=10
    )
    return _png(figure)


def _png(figure: Figure) -> bytes:
    """The figure, laid out, as PNG bytes with no software version in them."""
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _varies_share(cell: dict[str, Any], baseline: dict[str, Any]) -> bool:
    return all(cell[key] == baseline[key] for key in baseline if key != "share_rate")


def _short(cell: dict[str, Any], baseline: dict[str, Any]) -> str:
    changed = [f"{key}={cell[key]}" for key in baseline if cell[key] != baseline[key]]
    return ", ".join(changed) or "baseline"


def _points(
    axis: Any, rows: list[dict[str, Any]], field: str, scale: float, style: str, colour: str, label: str
) -> None:
    shown = [row for row in rows if row[field] is not None]
    if not shown:
        return
    x = [row["person_views"] for row in shown]
    y = [scale * row[field] for row in shown]
    low = [scale * (row[field] - row[f"{field}_ci95"][0]) for row in shown]
    high = [scale * (row[f"{field}_ci95"][1] - row[field]) for row in shown]
    axis.errorbar(x, y, yerr=[low, high], fmt=style, color=colour, capsize=3, markersize=5, label=label, linewidth=1)
