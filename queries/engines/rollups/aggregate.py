"""Counting a batch of ticket rows into rollup tables fast: grouping on packed integer keys, and histograms
counted with numpy over a dense day × dimension × bucket index (docs/rollups.md, *Aggregation*)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from queries.engines.rollups.storage import HIST_LEVELS

DENSE_CELLS = 1 << 25  # largest day × dimension × bucket index counted densely (256 MB of int64 counts)


def bounds(frame: pl.DataFrame, columns: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Smallest and largest physical value (Date: days; integers, such as codes, as they are) of each column."""
    got = frame.select(
        *(pl.col(c).to_physical().cast(pl.Int64).min().alias(f"{c}.min") for c in columns),
        *(pl.col(c).to_physical().cast(pl.Int64).max().alias(f"{c}.max") for c in columns),
    ).row(0, named=True)
    return {c: (got[f"{c}.min"] or 0, got[f"{c}.max"] or 0) for c in columns}


def grouped(
    frame: pl.DataFrame, keys: list[str], aggs: list[pl.Expr], bounds: dict[str, tuple[int, int]]
) -> pl.LazyFrame:
    """frame grouped by keys (Date or integer columns within `bounds`) with aggs, lazily.

    The keys are packed into one UInt64 (each as its physical value − low + 1, 0 for null) and unpacked
    from it after grouping: grouping on one integer is several times faster than on six columns."""
    widths = [(bounds[k][1] - bounds[k][0] + 2).bit_length() for k in keys]
    if sum(widths) > 63:
        return frame.lazy().group_by(keys).agg(aggs)
    packed, shifts = pl.lit(0, pl.UInt64), []
    for key, width in zip(keys, widths, strict=True):
        code = pl.col(key).to_physical().cast(pl.Int64) - bounds[key][0] + 1
        packed = packed * (1 << width) + code.fill_null(0).cast(pl.UInt64)
        shifts.append(sum(widths) - sum(widths[: len(shifts) + 1]))
    unpacked = []
    for key, width, shift in zip(keys, widths, shifts, strict=True):
        code = (pl.col("_key") // (1 << shift) % (1 << width)).cast(pl.Int64)
        value = pl.when(code > 0).then(code - 1 + bounds[key][0])
        unpacked.append(value.cast(frame.schema[key]).alias(key))
    grouped = frame.lazy().group_by(packed.alias("_key")).agg(aggs)
    return grouped.select(*unpacked, pl.exclude("_key"))


def dense(codes: pl.Series, size: int) -> tuple[np.ndarray, pl.Series]:
    """A code column (codes 0…size−1 or null) as numbers with null as `size`, and the code each number stands for."""
    numbers = codes.fill_null(size) if codes.null_count() else codes
    return numbers.to_numpy(), pl.Series(codes.name, [*range(size), None], pl.UInt32)


def histograms(
    days: np.ndarray, buckets: dict[int, np.ndarray], dense: dict[str, tuple[np.ndarray, pl.Series]]
) -> dict[tuple[str, ...], pl.DataFrame]:
    """Per histogram level, (day, dimension, bucket, measure, count) of each measure's buckets (−1: no value).

    `days` are days since 1970 of every row. Counted with numpy.bincount over a dense day × dimension × slot
    index (scanning even a sparse index is faster than hashing it), or with a hash group-by on the same index
    when it would not fit in memory. Each measure's slots number only the buckets it holds (1, 2, …; slot 0
    collects the rows without a value), so the index spans no empty buckets."""
    first_day = int(days.min()) if days.size else 0
    n_days = int(days.max()) - first_day + 1 if days.size else 1
    offset = days.astype(np.intp) - first_day
    slots, held = {}, {}  # per measure: each row's slot, and the bucket each slot from 1 on stands for
    for measure, values in buckets.items():
        held[measure] = np.flatnonzero(np.bincount(values.astype(np.intp) + 1)[1:]).astype(np.int16)
        number = np.zeros(int(held[measure].max(initial=-1)) + 2, np.intp)
        number[held[measure] + 1] = np.arange(1, held[measure].size + 1)
        slots[measure] = number[values + 1]
    width = max((h.size for h in held.values()), default=0) + 1
    out = {}
    for level in HIST_LEVELS:
        codes, values = dense[level[0]] if level else (0, pl.Series([None], dtype=pl.UInt32))
        base = (offset * values.len() + codes) * width
        frames = []
        for measure, slot in slots.items():
            cells, counts = _counted(base + slot, n_days * values.len() * width, width)
            cell, slot_of = np.divmod(cells, width)
            day, code = np.divmod(cell, values.len())
            frame = {"day": pl.Series((day + first_day).astype(np.int32)).cast(pl.Date)}
            frame |= {level[0]: values.gather(code)} if level else {}
            frame |= {
                "bucket": held[measure][slot_of - 1],
                "measure": np.full(cells.size, measure, np.uint8),
                "count": counts.astype(np.uint32),
            }
            frames.append(pl.DataFrame(frame))
        out[level] = pl.concat(frames)
    return out


def _counted(index: np.ndarray, n_cells: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The cells of `index` (0 … n_cells − 1) that occur and how often, leaving out every cell of slot 0 (a multiple
    of width)."""
    if n_cells <= DENSE_CELLS:
        counts = np.bincount(index, minlength=n_cells)
        counts[::width] = 0
        cells = np.flatnonzero(counts)
        return cells, counts[cells]
    grouped = pl.DataFrame({"i": index}).group_by("i").len().filter(pl.col("i") % width != 0)
    return grouped["i"].to_numpy(), grouped["len"].to_numpy()
