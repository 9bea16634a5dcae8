"""The digest chart: a PNG readable at preview size, whose drawn figures can be read back."""

from __future__ import annotations

import io

from PIL import Image

from bot.digest_chart import ChartWeek, chart_data, render_chart


def test_the_chart_is_a_png_carrying_the_figures_it_draws() -> None:
    weeks = [ChartWeek(f"2026-W{40 + i}", opened=5 + i, resolved=3, nps=None if i == 2 else 10 * i - 30,
                       compliance=None if i == 5 else 0.75) for i in range(8)]
    png = render_chart(weeks)
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        width, height = image.size
    assert 700 <= width <= 1200 and 700 <= height <= 1000  # legible when Slack shrinks it to a preview
    data = chart_data(png)
    assert [d["week"] for d in data] == [w.week for w in weeks]
    assert data[2]["nps"] is None and data[3]["nps"] == 0 and data[5]["compliance"] is None
    assert [d["opened"] for d in data] == [5, 6, 7, 8, 9, 10, 11, 12]


def test_weeks_without_answers_still_draw() -> None:
    png = render_chart([ChartWeek("2026-W47", 0, 0, None, None)])
    assert chart_data(png) == [{"week": "2026-W47", "opened": 0, "resolved": 0, "nps": None, "compliance": None}]
