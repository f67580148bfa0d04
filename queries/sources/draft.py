"""A drafted mapping file for a user's export: read the header and a sample, guess what maps where.

`python -m queries init-mapping --source FILE_OR_FOLDER --out mapping.toml` writes the draft; the Data
health page offers the same as a download. Unedited, the draft loads a typical export; every guess is
commented, so the user edits from there.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from queries.contract import DECISIONS, PRIORITIES, SOURCES
from queries.errors import SourceError
from queries.sources.mapping import dimension_name

SAMPLE_ROWS = 5_000
SEPARATORS = (",", ";", "\t", "|")
# Formats tried on text timestamps, most common exports first; None is ISO 8601 (the loader's default).
DATETIME_FORMATS: tuple[str | None, ...] = (
    None,
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%m/%d/%Y",
    "%d/%m/%Y",
)
# ISO 8601 spelled out, for a column that differs from the table's datetime_format.
ISO_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d")
_ISO_T = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
EPOCHS = {"epoch_s": (1e8, 5e9), "epoch_ms": (1e11, 5e12), "epoch_us": (1e14, 5e15)}  # plausible magnitudes
# Contract timestamp fields by the words their columns are usually named with (first match wins).
TIME_WORDS = {
    "created_at": ("created", "opened", "open_date", "submitted", "reported", "received", "start", "creation"),
    "first_action_at": ("first_action", "first_response", "responded", "acknowledged", "triaged", "assigned"),
    "closed_at": ("closed", "resolved", "resolution", "completed", "close_date", "end", "done"),
    "updated_at": ("updated", "modified", "last_change", "changed"),
}
ID_WORDS = ("ticket_id", "ticket", "case", "incident", "request", "issue", "number", "key", "ref", "id")
# Contract text fields by the words their columns are usually named with.
FIELD_WORDS = {
    "queue": ("queue", "assignment_group", "agency", "team_queue"),
    "policy_domain": ("policy", "category", "complaint_type", "issue_type", "type", "domain"),
    "market": ("market", "country", "region", "borough", "city"),
    "language": ("language", "lang", "locale"),
    "source": ("source", "channel", "origin", "detection"),
    "priority": ("priority", "severity", "urgency"),
    "vendor": ("vendor", "team", "assignee_group", "agent_group", "site_vendor"),
    "surface": ("surface", "product", "content_type"),
}
# Words in a user's value that say which contract value it is, for the fields with fixed values.
VALUE_WORDS = {
    "source": {
        "user_report": ("report", "call", "phone", "web", "email", "mail", "app", "mobile", "online", "portal", "user"),
        "proactive_model": ("model", "classifier", "auto", "machine", "proactive", "system", "detect"),
        "trusted_flagger": ("trusted", "flagger", "partner"),
        "escalation": ("escalat",),
        "appeal": ("appeal",),
        "legal": ("legal", "court", "police", "government", "law"),
    },
    "priority": {
        "P0": ("p0", "0", "critical", "urgent", "emergency"),
        "P1": ("p1", "1", "high"),
        "P2": ("p2", "2", "medium", "normal", "moderate"),
        "P3": ("p3", "3", "low", "minor"),
    },
    "decision": {
        "violating": ("violat", "removed", "remove", "actioned", "enforced", "upheld"),
        "non_violating": ("non", "no_violation", "no action", "dismiss", "rejected", "allowed", "approved"),
        "escalated": ("escalat",),
    },
}
ALLOWED = {"source": SOURCES, "priority": PRIORITIES, "decision": DECISIONS}
MAX_CATEGORIES = 60  # a text column with at most this many values in the sample is categorical


@dataclass
class Draft:
    """What the sample says, as the mapping file will say it."""

    file: Path
    relative: str | None  # `path` for the mapping (None: the source is the file itself)
    rows: int
    separator: str | None = None
    datetime_format: str | None = None
    columns: dict[str, tuple[str, str]] = field(default_factory=dict)  # field -> (column, why)
    datetime_formats: dict[str, tuple[str, str]] = field(default_factory=dict)  # field -> (format, why)
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # field -> {your value: contract value}
    unmapped: dict[str, list[str]] = field(default_factory=dict)  # field -> values without a guess
    dimensions: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (column, why)
    naive_times: bool = False
    dedupe_by: str | None = None


def draft_mapping(source: str | Path) -> str:
    """A commented mapping file (TOML) for the export at `source` (a file, or a folder holding it)."""
    draft = read_draft(Path(source))
    return render(draft)


def read_draft(source: Path) -> Draft:
    """Look at the export's header and first SAMPLE_ROWS rows and guess the mapping."""
    file = _tickets_file(source)
    separator = _separator(file) if file.suffix.lower() != ".parquet" else None
    sample = _sample(file, separator)
    draft = Draft(file, None if source.is_file() else file.name, sample.height, separator)
    times = _timestamps(sample)
    draft.datetime_format = _table_format(times)
    _assign_times(draft, times)
    _assign_id(draft, sample)
    _assign_text_fields(draft, sample)
    return draft


def render(d: Draft) -> str:
    """The draft as a mapping file, every guess with its reason in a comment."""
    out = [
        f"# Mapping drafted by `python -m queries init-mapping` from {d.file.name} ({d.rows:,} rows sampled).",
        "# Every line says why it was guessed; check the ones marked 'check', then run",
        "#   python -m queries validate --source SOURCE --mapping THIS_FILE",
        "",
        "[tickets]",
    ]
    if d.relative:
        out.append(f"path = {_q(d.relative)}")
    if d.separator and d.separator != ",":
        out.append(f"separator = {_q(d.separator)}  # detected in the header")
    if d.datetime_format:
        out.append(f"datetime_format = {_q(d.datetime_format)}  # parses the sampled times")
    if d.naive_times:
        out.append('# timezone = "America/New_York"  # check: the times carry no zone; without this line they are UTC')
    if d.dedupe_by:
        out.append(f"dedupe_by = {_q(d.dedupe_by)}  # ticket ids repeat: keep each ticket's last row")
    out += ["", "[tickets.columns]  # contract field = your column"]
    out += [f"{f} = {_q(c)}  # {why}" for f, (c, why) in d.columns.items()]
    if d.datetime_formats:
        out += ["", "[tickets.datetime_formats]  # per field, instead of datetime_format"]
        out += [f"{f} = {_q(fmt)}  # {why}" for f, (fmt, why) in d.datetime_formats.items()]
    for name, mapped in d.values.items():
        out += ["", f"[tickets.values.{name}]  # your value = contract value ({', '.join(ALLOWED[name])})"]
        out += [f"{_q(v)} = {_q(c)}" for v, c in mapped.items()]
        out += [f"# {_q(v)} = ?  # check: no guess; unmapped values count as unknown" for v in d.unmapped.get(name, [])]
    if d.dimensions:
        out += ["", "[tickets.dimensions]  # more columns to filter and split by (name = your column)"]
        out += [f"{name} = {_q(c)}  # {why}" for name, (c, why) in d.dimensions.items()]
    return "\n".join(out) + "\n"


def _tickets_file(source: Path) -> Path:
    if source.is_file():
        return source
    if not source.is_dir():
        raise SourceError(f"Source {source} does not exist.", fix="Give the export file or the folder holding it.")
    files = sorted(
        (p for p in source.iterdir() if p.suffix.lower() in (".csv", ".parquet", ".txt", ".tsv") and p.is_file()),
        key=lambda p: (not p.stem.lower().startswith("ticket"), -p.stat().st_size),
    )
    if not files:
        raise SourceError(f"{source} holds no .csv or .parquet file.", fix="Give the export file itself.")
    return files[0]  # tickets.* first, else the largest file


def _separator(file: Path) -> str:
    with file.open(encoding="utf-8", errors="replace", newline="") as handle:
        head = "".join(handle.readline() for _ in range(20))
    try:
        return csv.Sniffer().sniff(head, delimiters="".join(SEPARATORS)).delimiter
    except csv.Error:
        return max(SEPARATORS, key=head.count)


def _sample(file: Path, separator: str | None) -> pl.DataFrame:
    try:
        if separator is None:
            return pl.scan_parquet(file).head(SAMPLE_ROWS).collect()
        return pl.read_csv(
            file,
            separator=separator,
            infer_schema=False,
            n_rows=SAMPLE_ROWS,
            encoding="utf8-lossy",
            truncate_ragged_lines=True,
        )
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SourceError(
            f"Could not read {file} to draft a mapping.", fix="Check it is a CSV or Parquet export.", quote=str(exc)
        ) from None


@dataclass(frozen=True)
class _Times:
    """A column that holds timestamps: how it parses and how well."""

    column: str
    format: str | None  # a strftime format, None for ISO 8601, or an epoch unit
    share: float  # of its non-empty sampled values that parse
    naive: bool
    iso_format: str = ISO_FORMATS[0]  # for an ISO column: the spelled-out format that fits it best


def _timestamps(sample: pl.DataFrame) -> list[_Times]:
    found = []
    for column in sample.columns:
        values = sample[column].drop_nulls()
        if values.dtype == pl.Datetime:
            found.append(_Times(column, None, 1.0, values.dtype.time_zone is None))
            continue
        text = values.cast(pl.String).str.strip_chars()
        text = text.filter(text != "")
        if text.is_empty():
            continue
        best = max(((fmt, _parsed_share(text, fmt)) for fmt in (*EPOCHS, *DATETIME_FORMATS)), key=lambda x: x[1])
        if best[1] >= 0.9:
            zoned = text.str.contains(r"(Z|[+-]\d\d:?\d\d|\bUTC|\bGMT)$").mean() > 0.5
            iso = max(ISO_FORMATS, key=lambda f: _parsed_share(text, f))
            found.append(_Times(column, best[0], best[1], not zoned, iso))
    return found


def _parsed_share(text: pl.Series, fmt: str | None) -> float:
    if fmt in EPOCHS:
        numbers = text.cast(pl.Float64, strict=False)
        low, high = EPOCHS[fmt]
        return float(((numbers >= low) & (numbers < high)).mean() or 0.0)
    if fmt is None:  # ISO 8601 as the loader reads it: a space or T, seconds optional, then Z/offset/UTC
        iso = text.str.replace(r"(Z|[+-]\d\d:?\d\d|\s*UTC|\s*GMT)$", "").str.replace(" ", "T", literal=True, n=1)
        attempts = [iso.str.to_datetime(f, strict=False, time_unit="us") for f in _ISO_T]
        parsed = pl.select(pl.coalesce(attempts)).to_series()
    else:
        parsed = text.str.to_datetime(fmt, strict=False, time_unit="us")
    return float(parsed.is_not_null().mean() or 0.0)


def _table_format(times: list[_Times]) -> str | None:
    """The text format most timestamp columns share (ISO needs no setting)."""
    formats = [t.format for t in times if t.format not in EPOCHS]
    return max(set(formats), key=formats.count) if formats else None


def _assign_times(d: Draft, times: list[_Times]) -> None:
    by_column = {t.column: t for t in times}
    for name, words in TIME_WORDS.items():
        column = _named(list(by_column), words, taken={c for c, _ in d.columns.values()})
        if column is None and name == "created_at" and by_column:
            column = next(c for c in by_column if c not in {c for c, _ in d.columns.values()})
        if column is None:
            continue
        t = by_column[column]
        d.columns[name] = (column, f"by name; {t.share:.0%} of the sample parses")
        d.naive_times = d.naive_times or t.naive
        if t.format != d.datetime_format:
            d.datetime_formats[name] = (t.format or t.iso_format, "this column's own format")


def _assign_id(d: Draft, sample: pl.DataFrame) -> None:
    taken = {c for c, _ in d.columns.values()}
    candidates = [c for c in sample.columns if c not in taken and sample[c].null_count() < sample.height]
    column = _named(candidates, ID_WORDS, taken=set())
    if column is None:
        return
    unique = sample[column].n_unique() == sample.height - sample[column].null_count()
    d.columns = {"ticket_id": (column, "unique in the sample" if unique else "check: ids repeat"), **d.columns}
    if not unique and "updated_at" in d.columns:
        d.dedupe_by = "updated_at"


def _assign_text_fields(d: Draft, sample: pl.DataFrame) -> None:
    taken = {c for c, _ in d.columns.values()}
    categorical = [
        c for c in sample.columns if c not in taken and 1 < sample[c].drop_nulls().n_unique() <= MAX_CATEGORIES
    ]
    for name, words in FIELD_WORDS.items():
        column = _named(categorical, words, taken={c for c, _ in d.columns.values()})
        if column is None:
            continue
        values = sample[column].drop_nulls().cast(pl.String).value_counts(sort=True)[column].to_list()
        shown = ", ".join(values[:3])
        d.columns[name] = (column, f"check: {len(values)} values, e.g. {shown}")
        if name in VALUE_WORDS:
            d.values[name], d.unmapped[name] = _guess_values(name, values)
    used = {c for c, _ in d.columns.values()}
    for column in categorical:
        if column not in used:
            values = sample[column].drop_nulls().n_unique()
            name = dimension_name(column)
            d.dimensions[name if name not in d.dimensions else f"{name}_{len(d.dimensions)}"] = (
                column,
                f"{values} values in the sample",
            )


def _guess_values(name: str, values: list[str]) -> tuple[dict[str, str], list[str]]:
    mapped, unmapped = {}, []
    for value in values:
        folded = value.strip().lower().replace("-", "_")
        exact = next((a for a in ALLOWED[name] if a.lower() == folded), None)
        if exact:
            continue  # already a contract value
        guess = next(
            (target for target, words in VALUE_WORDS[name].items() if any(_word_in(w, folded) for w in words)), None
        )
        if guess:
            mapped[value] = guess
        else:
            unmapped.append(value)
    return mapped, unmapped


def _word_in(word: str, text: str) -> bool:
    return text == word if len(word) <= 2 else word in text


def _named(columns: list[str], words: tuple[str, ...], taken: set[str]) -> str | None:
    """The first column (in `words` order) whose normalised name contains one of the words."""
    normalised = {c: _identifier(c) for c in columns if c not in taken}
    for word in words:
        for column, name in normalised.items():
            if name == word or word in name.split("_") or (len(word) > 3 and word in name):
                return column
    return None


def _identifier(column: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", column.strip().lower()).strip("_") or "column"


def _q(text: str) -> str:
    """A TOML basic string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t") + '"'
