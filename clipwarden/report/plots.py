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
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
