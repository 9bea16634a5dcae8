"""The weekly digest's chart: the last weeks of cases opened vs resolved, NPS and update compliance.

Rendered with matplotlib's Agg backend (no display, no global pyplot state: a Figure per call, safe in
threads) as a PNG readable at Slack's preview size. The figures drawn are also written into the PNG's
text chunk (``advocacy-data``), so anyone — and the tests — can check the picture against the JSON.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DATA_KEY = "advocacy-data"
OPENED, RESOLVED, NPS, COMPLIANCE = "#1d3557", "#2a9d8f", "#e76f51", "#457b9d"


@dataclass(frozen=True)
class ChartWeek:
    week: str  # ISO week, 2026-W47
    opened: int
    resolved: int
    nps: int | None  # -100..100; None when nobody answered
    compliance: float | None  # 0..1; None when no update was due


def render_chart(weeks: Sequence[ChartWeek]) -> bytes:
    """A PNG of ``weeks`` (oldest first): three stacked panels sharing the week axis."""
    figure = Figure(figsize=(8, 7.5), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    top, middle, bottom = figure.subplots(3, 1, sharex=True, height_ratios=(2.2, 1.4, 1.4))
    labels = [w.week.split("-")[-1] for w in weeks]  # W47: the year is in the title
    x = list(range(len(weeks)))
    width = 0.38
    opened = top.bar([i - width / 2 for i in x], [w.opened for w in weeks], width, label="opened", color=OPENED)
    resolved = top.bar([i + width / 2 for i in x], [w.resolved for w in weeks], width, label="resolved",
                       color=RESOLVED)
    top.bar_label(opened, fontsize=9)
    top.bar_label(resolved, fontsize=9)
    top.set_title("Cases opened vs resolved", fontsize=13, loc="left")
    top.legend(loc="upper left", fontsize=10, frameon=False)
    top.set_ylim(0, max([w.opened for w in weeks] + [w.resolved for w in weeks] + [1]) * 1.25)

    _line(middle, x, [w.nps for w in weeks], NPS, "{:+d}")
    middle.set_title("NPS (−100…+100)", fontsize=13, loc="left")
    middle.set_ylim(-100, 100)
    middle.axhline(0, color="#999999", linewidth=0.8)

    percent = [round(w.compliance * 100) if w.compliance is not None else None for w in weeks]
    _line(bottom, x, percent, COMPLIANCE, "{}%")
    bottom.set_title("Customer updates on time", fontsize=13, loc="left")
    bottom.set_ylim(0, 105)
    bottom.set_xticks(x, labels, fontsize=11)
    for axis in (top, middle, bottom):
        axis.tick_params(axis="y", labelsize=10)
        axis.spines[["top", "right"]].set_visible(False)
        axis.grid(axis="y", alpha=0.25)
    if weeks:
        figure.suptitle(f"Customer advocacy · {weeks[0].week} to {weeks[-1].week}", fontsize=14)
    out = io.BytesIO()
    data = json.dumps([asdict(w) for w in weeks], separators=(",", ":"))
    figure.savefig(out, format="png", metadata={DATA_KEY: data})
    return out.getvalue()


def _line(axis: object, x: list[int], values: list[int | None], color: str, label: str) -> None:
    """A line through the weeks that have a value (gaps stay gaps), each point labelled."""
    points = [(i, v) for i, v in zip(x, values, strict=True) if v is not None]
    if not points:
        axis.text(0.5, 0.5, "no answers in these weeks", transform=axis.transAxes,  # type: ignore[attr-defined]
                  ha="center", va="center", color="#777777", fontsize=10)
        return
    # NaN where a week has no value: matplotlib breaks the line there instead of bridging the gap
    axis.plot(x, [float("nan") if v is None else v for v in values], marker="o", color=color,  # type: ignore[attr-defined]
              linewidth=2)
    for i, v in points:
        axis.annotate(label.format(v), (i, v), textcoords="offset points", xytext=(0, 7),  # type: ignore[attr-defined]
                      ha="center", fontsize=9)


def chart_data(png: bytes) -> list[dict[str, object]]:
    """The figures a chart was drawn from, read back from its PNG text chunk."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return list(json.loads(image.text[DATA_KEY]))  # type: ignore[attr-defined]
