"""Display names and numbers for people: identifiers become words, special cases win, data is never renamed."""

from __future__ import annotations

import math
import re

import polars as pl
import pytest

from queries.analyses.spikes import SEGMENT_DEFINITION
from queries.contract import EVENT_KINDS, SOURCES
from queries.definitions import METRICS
from queries.display import (
    NULL_TEXT,
    as_percent,
    definition_words,
    display_name,
    display_value,
    interval_text,
    signless_zeros,
    with_display_values,
)


@pytest.mark.parametrize(
    ("identifier", "name"),
    [
        ("policy_domain", "Policy domain"),
        ("source", "Detection source"),
        ("required_fte_avg", "Required FTE (avg)"),
        ("backlog_hours_at_end", "Backlog at end (h)"),
        ("p90_hours", "P90 (h)"),
        ("mean_handle_seconds", "Mean handle (s)"),
        ("qa_accuracy", "QA accuracy"),  # the metric's own label
        ("sla", "SLA attainment"),
        ("tickets_per_million_dau", "Daily tickets per 1M DAU"),
        ("Already words", "Already words"),
    ],
)
def test_display_names_of_fields_metrics_and_measures(identifier: str, name: str):
    assert display_name(identifier) == name


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("policy_domain", "regulated_goods_gifting", "Regulated goods & gifting"),
        ("policy_domain", "youth_safety", "Youth safety"),
        ("queue", "live_p2", "Live P2"),
        ("surface", "live_stream", "Live stream"),
        ("source", "proactive_model", "Proactive model"),
        ("decision", "non_violating", "Non-violating"),
        ("error_type", "over_enforcement", "Over-enforcement"),
        ("priority", "P0", "P0"),
        ("policy_domain", "Hate speech", "Hate speech"),  # the source's own words stay
        ("market", "ID", "ID"),  # codes stay
        ("language", "id", "id"),
        ("vendor", "atlas_cx", "atlas_cx"),  # a name from the data stays
        ("policy_domain", None, NULL_TEXT),
    ],
)
def test_display_values_of_categories(field: str, value: str | None, shown: str):
    assert display_value(field, value) == shown


def test_every_contract_vocabulary_value_reads_as_words():
    for field, values in (("source", SOURCES), ("kind", EVENT_KINDS)):
        for value in values:
            shown = display_value(field, value)
            assert "_" not in shown and shown[0].isupper(), (value, shown)


def test_display_values_change_the_screen_copy_only():
    frame = pl.DataFrame({"policy_domain": ["youth_safety", None], "vendor": ["atlas_cx", "b"], "tickets": [1, 2]})
    shown = with_display_values(frame, ["policy_domain", "vendor", "absent"])
    assert shown["policy_domain"].to_list() == ["Youth safety", None]  # a table shows "—", a chart its own word
    assert shown["vendor"].to_list() == ["atlas_cx", "b"]
    assert frame["policy_domain"].to_list() == ["youth_safety", None]


def test_percentages_and_rounding_never_show_negative_zero():
    frame = pl.DataFrame({"share": [0.92361, -0.0001, None], "change": [-0.04, 1.26, 3.0]})
    percent = as_percent(frame, ["share"])
    assert percent["share"].to_list()[:2] == [92.4, 0.0]
    assert not math.copysign(1, percent["share"][1]) < 0
    assert percent["share"][2] is None
    tidy = signless_zeros(frame, {"change": 1})
    assert tidy["change"].to_list() == [0.0, 1.26, 3.0]  # other values keep their precision
    assert math.copysign(1, tidy["change"][0]) > 0


def test_an_interval_reads_as_one_text():
    frame = pl.DataFrame({"low": [0.0364, None, -0.00001], "high": [0.048, 0.5, 0.02]})
    shares = frame.select(interval_text("low", "high", percent=True).alias("ci"))["ci"].to_list()
    assert shares == ["3.6–4.8%", None, "0.0–2.0%"]
    plain = frame.select(interval_text("low", "high", percent=False, digits=2).alias("ci"))["ci"].to_list()
    assert plain[0] == "0.04–0.05"


# --- category colours (dashboard.palette) ---------------------------------------------------------


def cie76(a: str, b: str) -> float:
    """CIE76 ΔE between two sRGB hex colours (D65), computed by hand."""

    def lab(colour: str) -> tuple[float, float, float]:
        def linear(c: float) -> float:
            return ((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92

        r, g, b = (linear(int(colour[i : i + 2], 16) / 255) for i in (1, 3, 5))
        x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
        y = 0.2126 * r + 0.7152 * g + 0.0722 * b
        z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

        def f(t: float) -> float:
            return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

        return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))

    return math.dist(lab(a), lab(b))


def test_the_palette_has_twelve_colours_far_apart_and_none_is_the_grey_of_other():
    from dashboard.palette import OTHER_COLOUR, PALETTE

    assert len(PALETTE) == 12
    for i, a in enumerate([*PALETTE, OTHER_COLOUR]):
        for b in PALETTE[i + 1 :]:
            assert cie76(a, b) >= 30, (a, b)


def test_a_category_keeps_its_colour_whatever_else_a_chart_shows():
    import plotly.graph_objects as go

    from dashboard.palette import OTHER, OTHER_COLOUR, category_colours, recolour

    values = [f"domain {i}" for i in range(10)]
    colours = category_colours(values)
    assert len({colours[v] for v in values}) == 10  # ten series, ten colours
    assert colours[OTHER] == OTHER_COLOUR
    fig = go.Figure([go.Scatter(name="domain 9", y=[1]), go.Bar(name=OTHER, y=[1]), go.Scatter(name="events")])
    recolour(fig, colours)
    assert fig.data[0].line.color == colours["domain 9"] and fig.data[1].marker.color == OTHER_COLOUR
    assert fig.data[2].line.color is None  # not a category: left alone


def test_other_is_listed_last_in_the_legend():
    import plotly.graph_objects as go

    from dashboard.palette import OTHER, category_colours, recolour

    fig = go.Figure([go.Bar(name="domain 1", y=[1]), go.Bar(name=OTHER, y=[1]), go.Bar(name="domain 2", y=[1])])
    recolour(fig, category_colours(["domain 1", "domain 2"]))
    ranks = {trace.name: trace.legendrank if trace.legendrank is not None else 1000 for trace in fig.data}
    assert ranks[OTHER] > max(r for name, r in ranks.items() if name != OTHER)


CODE_SPAN = re.compile(r"`([^`]*)`")
RAW = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)+|[a-z0-9_]+=[a-z0-9_]+")  # an identifier, or a `field=value`


def test_a_definition_reads_with_display_names_on_screen_and_keeps_its_identifiers_in_the_docs():
    proactive = METRICS["proactive"].definition  # the one definition: docs/metrics.md shows it as written
    assert "(`source = proactive_model`)" in proactive
    assert "(Detection source: Proactive model)" in definition_words(proactive)
    appeals = definition_words(METRICS["appeals"].definition)
    assert "Appeal rate = Appealed / Tickets" in appeals and "`" not in appeals
    automation = definition_words(METRICS["automation"].definition)
    assert "Tickets × (1 − Automated share)" in automation
    sla = definition_words(METRICS["sla"].definition)
    assert '`due_measure = "close"` in config/sla.toml' in sla  # what to type in a file stays as it is typed


@pytest.mark.parametrize(
    "text", [*(m.definition for m in METRICS.values()), SEGMENT_DEFINITION], ids=[*METRICS, "spike_segments"]
)
def test_no_definition_shows_a_raw_identifier_on_screen(text: str):
    shown = definition_words(text)
    assert [c for c in CODE_SPAN.findall(shown) if '"' not in c] == []  # only file syntax stays code
    words = re.sub(r"“[^”]*”", "", CODE_SPAN.sub("", shown))  # a quoted name is a name (an SLA rule's)
    assert RAW.findall(words) == []


def test_a_periods_description_names_the_selections_in_words() -> None:
    import datetime as dt

    from queries.filters import Filters

    chosen = Filters(
        dt.date(2026, 6, 1), dt.date(2026, 6, 7), policy_domain=("youth_safety",), source=("proactive_model",)
    )
    text = chosen.describe()
    assert "youth_safety" not in text and "proactive_model" not in text
    assert f"{display_name('policy_domain')}: {display_value('policy_domain', 'youth_safety')}" in text


def _signed_changes_table() -> None:
    import polars as pl
    import streamlit as st

    from dashboard.components import count_column, table

    frame = pl.DataFrame(
        {"per_hour_change": [-0.04, 0.26, -1.0], "sla_change": [-0.03, 0.0, 2.5], "tickets": [189.59, 530.525, 2.0]}
    )
    table(
        frame,
        "changes",
        {
            "per_hour_change": st.column_config.NumberColumn("Per h", format="%+.1f"),
            "sla_change": st.column_config.NumberColumn("SLA", format="%+.1f pts"),
            "tickets": count_column("Tickets"),
        },
    )


def test_signed_change_columns_never_show_negative_zero_and_counts_are_whole() -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_signed_changes_table).run()
    shown = at.dataframe[0].value
    assert (
        shown["per_hour_change"].tolist() == [0.0, 0.26, -1.0] and not math.copysign(1, shown["per_hour_change"][0]) < 0
    )
    assert shown["sla_change"].tolist() == [0.0, 0.0, 2.5]
    assert shown["tickets"].tolist() == [190.0, 531.0, 2.0]  # expected tickets read as whole tickets


def test_dsa_categories_read_as_words() -> None:
    assert display_value("dsa_category", "OTHER_VIOLATION_TC") == "Other violation of terms & conditions"
    assert display_value("dsa_category", "PROTECTION_OF_MINORS") == "Protection of minors"
