"""Overview KPI changes: no change against a previous period without data, and no change hidden by rounding."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboard.components import NO_PREVIOUS_DATA, format_change
from queries.analyses.overview import Kpi, overview_kpis
from queries.filters import Filters
from queries.sources.dataset import Dataset, load_dataset

FIRST_DAY = dt.date(2026, 3, 2)  # a Monday; DE has tickets every day to 29 March, FR only from 16 March


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    src = tmp_path_factory.mktemp("overview")
    lines = ["ticket_id,created_at,first_action_at,closed_at,market,decision,appealed,appeal_overturned"]
    for d in range(28):
        day = FIRST_DAY + dt.timedelta(days=d)
        overturned = "true" if day >= dt.date(2026, 3, 16) else "false"  # none in the first two weeks
        lines.append(f"de{d},{day} 10:00:00,{day} 10:30:00,{day} 11:00:00,DE,violating,true,{overturned}")
        if day >= dt.date(2026, 3, 16):
            lines.append(f"fr{d},{day} 12:00:00,{day} 12:10:00,,FR,violating,false,false")
    (src / "tickets.csv").write_text("\n".join(lines) + "\n")
    return load_dataset(src)


def kpis(ds: Dataset, filters: Filters) -> dict[str, Kpi]:
    return {k.key: k for k in overview_kpis(ds, filters)}


@pytest.mark.parametrize(
    "filters",
    [
        Filters(FIRST_DAY, dt.date(2026, 3, 15)),  # the previous 14 days lie entirely before the data
        Filters(dt.date(2026, 3, 9), dt.date(2026, 3, 22)),  # the previous 14 days start a week before the data
    ],
)
def test_a_previous_period_before_the_data_has_no_previous_values(dataset: Dataset, filters: Filters):
    tiles = kpis(dataset, filters)
    assert tiles["received"].value > 0
    for kpi in tiles.values():
        assert kpi.previous is None and kpi.change is None
        assert kpi.no_previous is not None and "2026-03-02" in kpi.no_previous, kpi
        assert format_change(kpi) == (NO_PREVIOUS_DATA if kpi.value is not None else None)  # no change for "–"


def test_a_previous_period_without_tickets_for_the_filters_has_no_previous_values(dataset: Dataset):
    tiles = kpis(dataset, Filters(dt.date(2026, 3, 16), dt.date(2026, 3, 29), market=("FR",)))
    assert tiles["received"].value == 14
    assert all(k.previous is None and k.no_previous for k in tiles.values())
    assert "no tickets" in tiles["received"].no_previous
    assert format_change(tiles["received"]) == NO_PREVIOUS_DATA  # not "+14"


def test_a_zero_in_a_covered_previous_period_is_a_real_change(dataset: Dataset):
    tiles = kpis(dataset, Filters(dt.date(2026, 3, 16), dt.date(2026, 3, 29), market=("DE",)))
    overturn = tiles["overturn_rate"]
    assert (overturn.previous, overturn.value, overturn.no_previous) == (0.0, 1.0, None)
    assert format_change(overturn) == "+100.0 pts"
    assert tiles["received"].previous == 14 and format_change(tiles["received"]) == "±0"


def change(value: float, previous: float, unit: str) -> str | None:
    return format_change(Kpi("k", "label", value, previous, unit, None, "definition"))


@pytest.mark.parametrize(
    ("value", "previous", "unit", "text"),
    [
        (951 / 1001, 950 / 1000, "share", "+0.005 pts"),  # both read 95.0 %: the change must still show
        (0.9410, 0.9412, "share", "-0.02 pts"),
        (0.95, 0.95, "share", "±0.0 pts"),
        (0.9731, 0.9512, "share", "+2.2 pts"),
        (0.0036, 0.0035, "hours", "+0.4 s"),  # 13 s vs 13 s
        (0.0, 0.002, "hours", "-7 s"),
        (0.5, 0.5, "hours", "±0 s"),
        (10, 10, "count", "±0"),
        (12, 10, "count", "+2 (+20.0%)"),
        (45_013, 45_010, "count", "+3 (+0.01%)"),
        (9, 10, "count", "-1 (-10.0%)"),
        (11.0712, 11.0708, "per_million", "+0.0004"),
    ],
)
def test_a_change_is_shown_at_the_precision_that_makes_it_visible(value, previous, unit, text):
    assert change(value, previous, unit) == text


def test_no_change_without_a_value_to_compare():
    assert change(None, 0.9, "share") is None
    assert change(0.9, None, "share") is None
