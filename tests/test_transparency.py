"""Transparency pack figures against direct computations, the printable report and the safe CSV export."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from queries.analyses.transparency import transparency_figures, transparency_html
from queries.demo import generate_demo
from queries.export import safe_csv
from queries.filters import Filters
from queries.sources.dataset import load_dataset
from tests.apptest import DEMO_END, run

START, END = dt.date(2026, 3, 2), dt.date(2026, 3, 29)


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("tp") / "demo"
    generate_demo(out, days=90, tickets_per_day=300, seed=9, end=dt.date(2026, 3, 31))
    return load_dataset(out)


def figure(figures: pl.DataFrame, section: str, group: str, name: str) -> float:
    row = figures.filter((pl.col("section") == section) & (pl.col("group") == group) & (pl.col("figure") == name))
    assert row.height == 1, (section, group, name)
    return row["value"][0]


def test_figures_match_direct_computations(ds):
    figures = transparency_figures(ds, Filters(START, END))
    t = ds.tables["tickets"]
    acted = t.filter(pl.col("first_action_at").dt.date().is_between(START, END) & (pl.col("decision") == "violating"))
    for domain, count in acted.group_by("policy_domain").len().iter_rows():
        assert figure(figures, "Actions by policy domain", domain, "actions") == count
    for surface, count in acted.group_by("surface").len().iter_rows():
        assert figure(figures, "Actions by type of content", surface, "actions") == count
    created = t.filter(pl.col("created_at").dt.date().is_between(START, END))
    notices = created.filter(
        pl.col("source").is_in(["user_report", "trusted_flagger"]) & pl.col("first_action_at").is_not_null()
    )
    hours = ((notices["first_action_at"] - notices["created_at"]).dt.total_seconds(fractional=True) / 3600).to_numpy()
    import numpy as np

    speed = figures.filter(pl.col("figure") == "Median time to action for notices").row(0, named=True)
    assert speed["unit"] == "minutes"  # the demo acts on notices within minutes
    assert speed["value"] == pytest.approx(np.percentile(hours, 50) * 60)
    assert figure(figures, "Detection and automation", "all", "Detected proactively") == pytest.approx(
        (created["source"] == "proactive_model").mean()
    )
    decided = created.filter(pl.col("decision").is_not_null())
    assert (
        figure(figures, "Appeals", "all", "Restored after appeal")
        == (decided["appeal_overturned"] & decided["appealed"]).sum()
    )
    staffing = ds.tables["staffing"].filter(pl.col("date").is_between(START, END))
    fte_en = staffing.filter(pl.col("language") == "en")["scheduled_fte"].sum() / 28
    assert figure(figures, "Moderators by language", "en", "Moderators (FTE, daily mean)") == pytest.approx(fte_en)
    assert set(figures["period"]) == {f"{START} to {END} (UTC)"}
    assert figures["definition"].str.len_chars().min() > 10


def test_printable_report_and_csv_are_safe(ds):
    figures = transparency_figures(ds, Filters(START, END))
    page = transparency_html(figures, "Pack <test>", dt.datetime(2026, 4, 1, 12))
    assert "<h2>Actions by policy domain</h2>" in page and "Pack &lt;test&gt;" in page
    nasty = pl.DataFrame({"group": ["=HYPERLINK(1)", "+1", "ok"], "value": [1.0, 2.0, 3.0]})
    assert safe_csv(nasty).splitlines() == ["group,value", "'=HYPERLINK(1),1.0", "'+1,2.0", "ok,3.0"]


@pytest.mark.usefixtures("app_env")
def test_transparency_page_renders_with_downloads():
    at = run("transparency")
    assert at.title[0].value == "Transparency pack"
    assert {"Actions by policy domain", "Speed", "Appeals", "Moderators by language"} <= {s.value for s in at.subheader}


@pytest.mark.parametrize(
    ("minutes", "value", "unit"), [(2, 2.0, "minutes"), (45, 45.0, "minutes"), (180, 3.0, "hours")]
)
def test_the_median_time_to_action_is_given_in_the_unit_it_names(tmp_path, minutes, value, unit):
    created = dt.datetime(2026, 3, 2, 10)
    waits = [minutes / 2, minutes, minutes * 1.5]  # the median wait is `minutes`
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,created_at,first_action_at,source\n"
        + "".join(f"{i},{created},{created + dt.timedelta(minutes=w)},user_report\n" for i, w in enumerate(waits))
    )
    figures = transparency_figures(load_dataset(tmp_path), Filters(dt.date(2026, 3, 2), dt.date(2026, 3, 2)))
    speed = figures.filter(pl.col("figure") == "Median time to action for notices").row(0, named=True)
    assert (speed["value"], speed["unit"]) == (pytest.approx(value), unit)
    assert f">{value:,.2f}</td><td>{unit}</td>" in transparency_html(figures, "Pack", dt.datetime(2026, 4, 1))


@pytest.mark.usefixtures("app_env")
def test_the_page_shows_each_value_in_the_unit_next_to_it(data_dir):
    at = run("transparency")
    speed = next(t.value for t in at.table if "Median time to action for notices" in set(t.value["Figure"]))
    row = speed[speed["Figure"] == "Median time to action for notices"].iloc[0].rename(str.lower)
    ds = load_dataset(data_dir / "demo")
    end = DEMO_END
    figures = transparency_figures(ds, Filters(end - dt.timedelta(days=27), end))
    expected = figures.filter(pl.col("figure") == "Median time to action for notices").row(0, named=True)
    assert row["unit"] == expected["unit"] == "minutes"
    assert float(row["value"]) == pytest.approx(expected["value"], abs=0.01)  # "1.08" minutes, not "1.1 min"
