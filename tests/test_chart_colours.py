"""Category colours in the charts: every chart that draws one series per value of a dimension colours it by the
palette's category mapping (dashboard.palette.field_colours), so a value has the same colour on every chart and
page and under any filter, and the series of one chart never share a colour."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
import pytest

from dashboard.charts.capacity import backlog_chart, interval_staffing_chart
from dashboard.charts.quality import error_types_chart, vendor_trend_chart
from dashboard.charts.turnaround import duration_distribution_chart, percentile_trend_chart
from dashboard.charts.volumes import volume_chart, weekly_trend_chart
from dashboard.palette import OTHER, OTHER_COLOUR, PALETTE, field_colours
from queries.contract import ERROR_TYPES
from queries.display import display_value
from tests.apptest import run

DAYS = [dt.date(2026, 6, 1) + dt.timedelta(days=7 * i) for i in range(3)]
VENDORS = ["atlas_cx", "beacon", "cobalt", "delta_ops"]
DOMAINS = ["child_safety", "harassment_bullying", "integrity_spam_scams", "youth_safety"]
NO_EVENTS = pl.DataFrame()


def colours_of(fig: go.Figure) -> dict[str, str]:
    """Series name (its legend group where it has one) → its colour, as drawn: bars' fill, lines' stroke."""
    drawn = {}
    for trace in fig.data:
        if trace.showlegend is False or trace.name in (None, "events"):
            continue
        key = trace.legendgroup or trace.name
        drawn[key] = trace.marker.color if isinstance(trace, go.Bar) else trace.line.color
    return drawn


def vendor_trend(vendors: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"vendor": v, "period": d, "qa_accuracy": 0.9 + i / 100} for i, v in enumerate(vendors) for d in DAYS]
    )


def vendor_plan(vendors: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"vendor": v, "week": d, "backlog_hours_end": 10.0 * (i + 1)} for i, v in enumerate(vendors) for d in DAYS]
    )


def domain_rows(domains: list[str | None], **columns: object) -> list[dict]:
    """Rows per domain and day, larger counts for later domains (so a chart's largest-first order is not sorted)."""
    return [
        {"policy_domain": name, "tickets": 10 * (i + 1), **columns, "day": day}
        for i, name in enumerate(domains)
        for day in DAYS
    ]


def weekly(domains: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame(domain_rows(domains)).rename({"day": "week"}).select("week", "policy_domain", "tickets")


def volumes(domains: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame(domain_rows(domains, share=0.2, days=7, partial=False)).rename({"day": "period"})


def durations(domains: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame(domain_rows(domains, p90_hours=2.0)).rename({"day": "period"})


def histogram(domains: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"policy_domain": d, "lower_hours": lo, "upper_hours": hi, "share": 0.5, "tickets": 5, "cum_share": c}
            for d in domains
            for lo, hi, c in ((0.0, 1.0, 0.5), (1.0, 4.0, 1.0))
        ]
    )


def shown(domains: list[str]) -> list[str]:
    return [display_value("policy_domain", d) for d in domains]


def test_a_vendor_has_the_same_colour_on_every_chart_and_when_another_vendor_is_filtered_out():
    colours = field_colours("vendor", VENDORS)
    trend = colours_of(vendor_trend_chart(vendor_trend(VENDORS), "qa_accuracy", colours=colours))
    backlog = colours_of(backlog_chart(vendor_plan(VENDORS), colours=colours))
    filtered = colours_of(backlog_chart(vendor_plan(["beacon", "delta_ops"]), colours=colours))
    assert trend == backlog == {v: colours[v] for v in VENDORS}
    assert filtered == {"beacon": trend["beacon"], "delta_ops": trend["delta_ops"]}
    assert len(set(trend.values())) == len(VENDORS)  # distinct within a chart


def test_a_vendors_interval_band_has_its_line_colour():
    colours = field_colours("vendor", VENDORS)
    trend = vendor_trend(["cobalt"]).with_columns(qa_ci_low=pl.lit(0.8), qa_ci_high=pl.lit(0.95))
    fig = vendor_trend_chart(trend, "qa_accuracy", low="qa_ci_low", high="qa_ci_high", colours=colours)
    band, line = fig.data
    assert band.fillcolor == line.line.color == colours["cobalt"]


def test_a_policy_domain_has_the_same_colour_on_every_chart_and_under_a_filter():
    colours = field_colours("policy_domain", DOMAINS)  # every domain the source has
    charts = [
        weekly_trend_chart(weekly(shown(DOMAINS)), NO_EVENTS, colours=colours),
        volume_chart(volumes(shown(DOMAINS)), "tickets", NO_EVENTS, colours=colours),
        percentile_trend_chart(durations(shown(DOMAINS)), "policy_domain", colours=colours),
        duration_distribution_chart(histogram(shown(DOMAINS)), "policy_domain", colours=colours),
    ]
    expected = {name: colours[name] for name in shown(DOMAINS)}
    assert [colours_of(fig) for fig in charts] == [expected] * len(charts)
    assert len(set(expected.values())) == len(DOMAINS)
    rest = shown(DOMAINS[1:])  # the first domain filtered out: the others keep theirs
    filtered = [
        weekly_trend_chart(weekly(rest), NO_EVENTS, colours=colours),
        volume_chart(volumes(rest), "share", NO_EVENTS, colours=colours),
        percentile_trend_chart(durations(rest), "policy_domain", colours=colours),
        duration_distribution_chart(histogram(rest), "policy_domain", colours=colours),
    ]
    assert [colours_of(fig) for fig in filtered] == [{name: colours[name] for name in rest}] * len(filtered)


def test_queues_keep_their_colour_in_the_staffing_chart_bars_and_load_lines():
    queues = ["live_p0", "live_p1", "reports"]
    colours = field_colours("queue", queues)
    staffing = pl.DataFrame(
        [
            {"queue": display_value("queue", q), "interval_start": dt.datetime(2026, 6, 1, h), "agents": 3}
            | {"traffic_erlangs": 2.0}
            for q in queues[1:]
            for h in range(2)
        ]
    )
    fig = interval_staffing_chart(staffing, colours=colours)
    for trace in fig.data:
        drawn = trace.marker.color if isinstance(trace, go.Bar) else trace.line.color
        assert drawn == colours[trace.legendgroup], trace.name
    assert {t.legendgroup for t in fig.data} == {"Live P1", "Reports"}


def test_error_types_keep_their_colour_whichever_appear():
    kinds = list(ERROR_TYPES)
    colours = field_colours("error_type", kinds)
    errors = pl.DataFrame(
        [
            {"error_type": display_value("error_type", k), "vendor": v, "error_share": 0.1, "errors": 1, "reviews": 9}
            for k in kinds[1:]
            for v in VENDORS[:2]
        ]
    )
    drawn = colours_of(error_types_chart(errors, colours=colours))
    assert drawn == {display_value("error_type", k): colours[display_value("error_type", k)] for k in kinds[1:]}


def test_series_stay_distinct_when_the_source_has_more_values_than_the_palette_has_colours():
    many = [f"m{i:02}" for i in range(len(PALETTE) + 2)]  # m00 and m12 share a palette position
    colours = field_colours("market", many)
    assert colours["m00"] == colours["m12"]
    trend = pl.DataFrame(
        [
            {"market": m, "period": d, "tickets": 5, "share": 0.5, "days": 7, "partial": False}
            for m in many
            for d in DAYS
        ]
    ).filter(pl.col("market").is_in(["m00", "m05", "m12"]))
    drawn = colours_of(volume_chart(trend, "tickets", NO_EVENTS, colours=colours))
    assert drawn["m00"] == colours["m00"] and drawn["m05"] == colours["m05"]  # the first in the source's order keeps
    assert len(set(drawn.values())) == 3


def test_a_group_without_a_value_gets_a_colour_of_its_own_and_other_is_grey():
    colours = field_colours("policy_domain", DOMAINS)
    names = [*shown(DOMAINS[:2]), None, OTHER]
    drawn = colours_of(weekly_trend_chart(weekly(names), NO_EVENTS, colours=colours))
    assert drawn[OTHER] == OTHER_COLOUR
    assert len(set(drawn.values())) == len(names)
    assert {n: drawn[n] for n in shown(DOMAINS[:2])} == {n: colours[n] for n in shown(DOMAINS[:2])}


def test_without_colours_a_chart_colours_by_name_not_by_size():
    small_first = colours_of(weekly_trend_chart(weekly(DOMAINS), NO_EVENTS))
    big_first = colours_of(weekly_trend_chart(weekly(DOMAINS[::-1]), NO_EVENTS))  # the same domains, sizes reversed
    assert small_first == big_first
    assert len(set(small_first.values())) == len(DOMAINS)


# --- Pages: the same domain in the same colour on Overview, Trends and Turnaround ----------------------------------


def page_colours(at, key: str, categories: dict[str, str]) -> dict[str, str]:
    """Series of the page's chart `key` that are categories (not events, goals or "Other") → their colour."""
    spec = json.loads(next(c for c in at.get("plotly_chart") if c.key == key).proto.spec)
    drawn = {}
    for trace in spec["data"]:
        name = trace.get("legendgroup") or trace.get("name")
        if name in categories and trace.get("showlegend") is not False:
            drawn[name] = trace["marker"]["color"] if trace["type"] == "bar" else trace["line"]["color"]
    return drawn


@pytest.mark.usefixtures("app_env")
def test_a_policy_domain_has_one_colour_on_every_page_and_under_a_filter(data_dir: Path):
    domains = sorted(pl.read_parquet(data_dir / "demo" / "tickets.parquet")["policy_domain"].unique().to_list())
    colours = {name: c for name, c in field_colours("policy_domain", domains).items() if name != OTHER}
    overview = page_colours(run("overview"), "overview.trend", colours)
    trends = run("trends", {"trends.by": "policy_domain", "trends.series": "15"})
    by_page = [overview, page_colours(trends, "trends.volume_chart", colours)]
    turnaround = page_colours(run("turnaround", {"turnaround.by": "policy_domain"}), "turnaround.trend", colours)
    filtered = run("turnaround", {"turnaround.by": "policy_domain", "policy_domain": domains[1:3]})
    for drawn in [*by_page, turnaround, page_colours(filtered, "turnaround.trend", colours)]:
        assert drawn and drawn == {name: colours[name] for name in drawn}
    assert len(overview) >= 3 and set(turnaround) == set(shown(domains))  # display names, every domain
    assert set(page_colours(filtered, "turnaround.distribution", colours)) == set(shown(domains[1:3]))
