"""Property-based tests of the loader: nothing is lost, every row is either loaded or counted with a reason."""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from queries.sources.dataset import load_dataset

BASE = dt.datetime(2025, 1, 1)
timestamps = st.one_of(
    st.integers(0, 10**7).map(lambda s: (BASE + dt.timedelta(seconds=s)).isoformat(sep=" ")),
    st.sampled_from(["", "not a time", "2025-02-30 10:00", "2025-01-01T10:00:00Z", "2025-01-01T10:00:00+05:30"]),
)
FIELDS = ["ticket_id", "created_at", "closed_at", "source", "handle_seconds", "note"]
records = st.lists(
    st.one_of(
        st.none(),  # a blank line
        st.fixed_dictionaries(
            {
                "ticket_id": st.one_of(st.integers(0, 30).map(str), st.just("")),
                "created_at": timestamps,
                "closed_at": timestamps,
                "source": st.sampled_from(["user_report", "proactive_model", "legal", "", "carrier pigeon"]),
                "handle_seconds": st.one_of(
                    st.floats(-10, 1000, allow_nan=False).map(str), st.sampled_from(["", "x", "nan"])
                ),
                "note": st.text(max_size=20),
            }
        ),
    ),
    max_size=40,
)


def empty(cell: str) -> bool:
    """A cell the loader reads as no value: nothing but Unicode white space (which \x1c–\x1f are not)."""
    return all(c.isspace() and c not in "\x1c\x1d\x1e\x1f" for c in cell)


@given(records)
@settings(max_examples=60, deadline=None)
def test_every_row_is_loaded_or_counted(lines):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tickets.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS)
            writer.writeheader()
            for record in lines:
                if record is None:
                    handle.write("\n")
                else:
                    writer.writerow(record)
        ds = load_dataset(folder)
        report = ds.reports["tickets"]
        # Blank lines, and lines without a value in any mapped column (`note` maps to no field), are not rows:
        # neither read nor rejected.
        mapped = [f for f in FIELDS if f != "note"]
        assert report.rows_read == sum(1 for r in lines if r is not None and not all(empty(r[f]) for f in mapped))
        assert report.rows_loaded + report.rows_rejected + report.rows_superseded == report.rows_read
        t = ds.tables["tickets"]
        assert t["ticket_id"].null_count() == 0 and t["ticket_id"].n_unique() == t.height
        assert (t["closed_at"].is_null() | (t["closed_at"] >= t["created_at"])).all()
        assert t["source"].drop_nulls().is_in(["user_report", "proactive_model", "legal"]).all()
        assert (t["handle_seconds"].drop_nulls() >= 0).all()
