"""Public peer benchmark: daily statistics of the EU DSA Transparency Database, and our own on the same scales.

Source: European Commission, DSA Transparency Database (transparency.dsa.ec.europa.eu), CC BY 4.0.
Daily aggregates by *shantay* 0.6.0 (R. Grimm, Apache-2.0), reshaped by the project. The shipped
extract in data/dsa/ is built from the shared folder's Parquet files by `build_extract` (CLI:
`python -m queries dsa-build`). Counts are statements of reasons (SoRs), one per decision.
A platform-day without a row is a **reporting gap**, never a zero.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import polars as pl

from queries.engines import Source, held_rows
from queries.filters import Filters

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_DIR = REPO_ROOT / "data" / "dsa"
DAILY_FILE = "dsa_daily.csv.gz"
CATEGORY_FILE = "dsa_daily_category.csv.gz"
TAXONOMY_CHANGE = dt.date(2025, 7, 1)  # categories re-defined from this day (observed in the data)
ATTRIBUTION = (
    "Source: European Commission, DSA Transparency Database (transparency.dsa.ec.europa.eu), CC BY 4.0. "
    "Daily aggregates by shantay 0.6.0 (R. Grimm, Apache-2.0), reshaped by the project."
)
DAILY_COLUMNS = (
    "date",
    "platform",
    "statements",
    "automated_detection_yes",
    "automated_decision_fully",
    "automated_decision_partially",
    "moderation_delay_n",
    "moderation_delay_mean_s",
    "source_art16_notice",
    "source_trusted_flagger",
    "source_voluntary",
)
OWN = "Your platform"
BENCHMARK_COLUMNS = (
    "date",
    "platform",
    "reported",
    "statements",
    "automated_detection_share",
    "automated_decision_share",
    "moderation_delay_days",
)  # one row per platform × day, the public platforms' and ours alike


def build_extract(source_dir: Path, out_dir: Path = SHIPPED_DIR) -> dict:
    """Write the shipped extract (gzipped CSV) from the shared Parquet files; returns the manifest."""
    import gzip  # only the build needs it

    daily_src, category_src = (
        source_dir / "dsa_daily_platform.parquet",
        source_dir / "dsa_daily_platform_category.parquet",
    )
    daily = pl.read_parquet(daily_src).select(DAILY_COLUMNS).sort("platform", "date")
    categories = (
        pl.read_parquet(category_src)
        .with_columns(pl.col("category").str.strip_prefix("STATEMENT_CATEGORY_"))
        .sort("platform", "date", "category")
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    for frame, name in ((daily, DAILY_FILE), (categories, CATEGORY_FILE)):
        with gzip.GzipFile(out_dir / name, "wb", mtime=0) as handle:  # mtime 0: byte-identical rebuilds
            frame.write_csv(handle)
    manifest = {
        "attribution": ATTRIBUTION,
        "inputs": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (daily_src, category_src)},
        "outputs": {
            name: {"rows": frame.height, "sha256": hashlib.sha256((out_dir / name).read_bytes()).hexdigest()}
            for frame, name in ((daily, DAILY_FILE), (categories, CATEGORY_FILE))
        },
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def load_daily(folder: Path = SHIPPED_DIR) -> pl.DataFrame:
    """The shipped daily per-platform statistics."""
    return pl.read_csv(folder / DAILY_FILE, try_parse_dates=True, schema_overrides={"platform": pl.String})


def load_categories(folder: Path = SHIPPED_DIR) -> pl.DataFrame:
    """The shipped daily per-platform category counts (short category codes)."""
    return pl.read_csv(folder / CATEGORY_FILE, try_parse_dates=True)


def platforms_by_volume(daily: pl.DataFrame) -> list[str]:
    """Platform names, most statements first."""
    totals = daily.group_by("platform").agg(pl.col("statements").sum())
    return totals.sort(["statements", "platform"], descending=[True, False])["platform"].to_list()


def benchmark_daily(daily: pl.DataFrame, platforms: list[str], start: dt.date, end: dt.date) -> pl.DataFrame:
    """One row per platform × calendar day in [start, end]; days a platform did not report stay null.

    Measures: `statements`; `automated_detection_share` (detected by automated means);
    `automated_decision_share` (fully automated decisions); `moderation_delay_days` (mean days from
    content creation to decision, over SoRs with a valid delay); `reported` (False on a gap).
    """
    days = pl.DataFrame({"date": pl.date_range(start, end, "1d", eager=True)})
    grid = days.join(pl.DataFrame({"platform": platforms}), how="cross")
    rows = daily.filter(pl.col("platform").is_in(platforms) & pl.col("date").is_between(start, end))
    return (
        grid.join(rows, on=["date", "platform"], how="left")
        .with_columns(
            pl.col("statements").is_not_null().alias("reported"),
            _share("automated_detection_yes", "statements").alias("automated_detection_share"),
            _share("automated_decision_fully", "statements").alias("automated_decision_share"),
            (pl.col("moderation_delay_mean_s") / 86_400).alias("moderation_delay_days"),
        )
        .select(BENCHMARK_COLUMNS)
        .sort("platform", "date")
    )


def reporting_gaps(benchmark: pl.DataFrame) -> pl.DataFrame:
    """Runs of consecutive unreported days per platform: `platform`, `first_day`, `last_day`, `days`."""
    runs = benchmark.sort("platform", "date").with_columns(
        (pl.col("reported") != pl.col("reported").shift(1).over("platform")).fill_null(True).cum_sum().alias("run")
    )
    return (
        runs.filter(~pl.col("reported"))
        .group_by("platform", "run")
        .agg(pl.col("date").min().alias("first_day"), pl.col("date").max().alias("last_day"), pl.len().alias("days"))
        .drop("run")
        .with_columns(pl.col("days").cast(pl.Int64))
        .sort("platform", "first_day")
    )


def category_mix(categories: pl.DataFrame, platforms: list[str], start: dt.date, end: dt.date) -> pl.DataFrame:
    """Each category's share of a platform's statements per month (categories change on 2025-07-01)."""
    rows = categories.filter(pl.col("platform").is_in(platforms) & pl.col("date").is_between(start, end))
    monthly = rows.group_by("platform", pl.col("date").dt.truncate("1mo").alias("month"), "category").agg(
        pl.col("statements").sum()
    )
    return monthly.with_columns(
        (pl.col("statements") / pl.col("statements").sum().over("platform", "month")).alias("share")
    ).sort("platform", "month", "category")


def own_daily(ds: Source, start: dt.date, end: dt.date) -> pl.DataFrame:
    """Our own decisions on the benchmark's scales, per day (a platform named "Your platform").

    statements ≈ violating decisions (each would carry a statement of reasons); automated detection ≈
    proactive_model source; automated decision = `automated`; moderation delay = mean days from
    ticket creation to first action (the public figure runs from content creation, so ours is a lower bound).
    """
    f = Filters(start, end)
    tickets = held_rows(ds).lazy().filter(f.in_period("first_action_at") & (pl.col("decision") == "violating"))
    delay_days = (pl.col("first_action_at") - pl.col("created_at")).dt.total_seconds(fractional=True) / 86_400
    daily = (
        tickets.group_by(pl.col("first_action_at").dt.date().alias("date"))
        .agg(
            pl.len().cast(pl.Int64).alias("statements"),
            (pl.col("source") == "proactive_model").mean().alias("automated_detection_share"),
            pl.col("automated").cast(pl.Float64).mean().alias("automated_decision_share"),
            delay_days.mean().alias("moderation_delay_days"),
        )
        .collect()
    )
    days = pl.DataFrame({"date": pl.date_range(start, end, "1d", eager=True)})
    out = days.join(daily, on="date", how="left").with_columns(
        pl.lit(OWN).alias("platform"), pl.col("statements").is_not_null().alias("reported")
    )
    return out.select(BENCHMARK_COLUMNS)


def _share(part: str, whole: str) -> pl.Expr:
    return pl.when(pl.col(whole) > 0).then(pl.col(part) / pl.col(whole))
