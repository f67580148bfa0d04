"""Events on the volume charts: one shaded span per event, drawn as plotly's add_vrect draws it, after any span the
chart shades itself (the selected period), and one hoverable marker each."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import polars as pl

from dashboard.charts.volumes import EVENT_COLOURS, weekly_trend_chart

WEEKS = [dt.date(2026, 6, 1) + dt.timedelta(days=7 * i) for i in range(6)]
EVENTS = pl.DataFrame(
    {
        "start": [dt.date(2026, 6, 3), dt.date(2026, 6, 10), dt.date(2026, 7, 1)],
        "end": [dt.date(2026, 6, 3), dt.date(2026, 6, 14), dt.date(2026, 7, 2)],
        "kind": ["holiday", "news_event", None],
        "title": ["Bank holiday", "Election", "Untyped"],
    }
)


def test_each_event_is_a_span_as_add_vrect_draws_it_after_the_selected_period() -> None:
    trend = pl.DataFrame({"week": WEEKS, "tickets": [100, 120, 90, 110, 130, 95]})
    fig = weekly_trend_chart(trend, EVENTS, highlight=(WEEKS[2], WEEKS[2] + dt.timedelta(days=6)))
    reference = go.Figure()
    reference.add_vrect(
        x0=WEEKS[2], x1=WEEKS[2] + dt.timedelta(days=7), fillcolor="#FFD54F", opacity=0.15, line_width=0
    )
    for row in EVENTS.iter_rows(named=True):
        colour = EVENT_COLOURS.get(row["kind"] or "", "#757575")
        end = row["end"] + dt.timedelta(days=1)
        reference.add_vrect(x0=row["start"], x1=end, fillcolor=colour, opacity=0.08, line_width=0)
    assert [s.to_plotly_json() for s in fig.layout.shapes] == [s.to_plotly_json() for s in reference.layout.shapes]
    markers = [t for t in fig.data if t.name == "events"]
    assert len(markers) == 1 and list(markers[0].x) == EVENTS["start"].to_list()
    assert "Election" in markers[0].text[1]
