"""The Public benchmark page through AppTest."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.apptest import run

pytestmark = pytest.mark.usefixtures("app_env")


def test_benchmark_page_compares_platforms_and_shows_gaps():
    at = run("benchmark")
    assert at.title[0].value.startswith("Public benchmark")
    assert len(at.get("plotly_chart")) == 5  # volume, detection, decision, delay, category mix
    assert any("CC BY 4.0" in c.value for c in at.caption)
    at.date_input(key="benchmark.period").set_value((dt.date(2024, 6, 1), dt.date(2024, 6, 30))).run()
    assert not at.exception
    gaps = at.dataframe[0].value
    tiktok = gaps[gaps["platform"] == "TikTok"]
    assert tiktok[["first_day", "last_day", "days"]].values.tolist()[0][2] == 5


def test_benchmark_page_without_own_data_in_range_still_draws():
    at = run("benchmark")
    at.multiselect(key="benchmark.platforms").set_value(["Discord"]).run()
    assert not at.exception and at.selectbox(key="benchmark.mix_platform").value == "Discord"
