"""Finding the files of each table in a source (a directory, or a single file with a mapping)."""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from queries.contract import TABLES
from queries.errors import SourceError
from queries.sources.mapping import Mapping


@dataclass(frozen=True)
class TableFiles:
    """The files that hold one table, all of one format."""

    table: str
    paths: tuple[Path, ...]
    format: str  # "csv" or "parquet"
    hive: bool = False  # a folder of Parquet files, possibly hive-partitioned

    @property
    def label(self) -> str:
        """A short name for messages, as every user may see it (`shown_path`): the file, or the folder holding
        all the files and how many."""
        many = f" ({len(self.paths)} files)" if len(self.paths) > 1 else ""
        return shown_path(self._location) + many

    def quote(self, *details: str | None) -> str | None:
        """A SourceError's quote for a message naming `label`: see `quoted_path`."""
        return quoted_path(self._location, *details)

    @property
    def _location(self) -> Path:
        return self.paths[0] if len(self.paths) == 1 else Path(os.path.commonpath(self.paths))


def shown_path(path: Path) -> str:
    """A path as a message's problem or fix may show it to every user: each key=value (Hive partition) folder
    as key=…, since its value is data (another vendor's name, say). The full path goes in the quote
    (`quoted_path`), which vendor-scoped users do not see."""
    return str(Path(*(_masked(part) for part in path.parts))) if path.parts else str(path)


def quoted_path(path: Path, *details: str | None) -> str | None:
    """A SourceError's quote for a message naming `path` as `shown_path`: the full path when that masks part of
    it, then the `details` given (text from the data or a reader's message); None when there is neither."""
    said = ([f"Full path: {path}."] if shown_path(path) != str(path) else []) + [d for d in details if d]
    return " ".join(said) or None


def _masked(part: str) -> str:
    key, sep, _ = part.partition("=")
    return f"{key}=…" if sep and key else part


def locate_tables(source: str | Path, mapping: Mapping) -> dict[str, TableFiles]:
    """Return the files of every table the source provides; `tickets` must be among them."""
    source = Path(source)
    if not source.exists():
        raise SourceError(
            f"Source {source} does not exist.", fix="Check the path given as --source or BELLWETHER_SOURCE."
        )
    base = source if source.is_dir() else source.parent
    found: dict[str, TableFiles] = {}
    for name in TABLES:
        spec = mapping.table(name)
        if spec.path is not None:
            found[name] = _from_pattern(name, base, spec.path, spec.format)
        elif source.is_file() and name == "tickets":
            found[name] = _from_pattern(name, base, source.name, spec.format)
        elif source.is_dir():
            files = _conventional(name, source)
            if files is not None:
                found[name] = files
    if "tickets" not in found:
        raise SourceError(
            f"No tickets table in {source}.",
            fix="Add tickets.parquet, tickets.csv or a tickets/ folder of Parquet files, "
            'or set [tickets] path = "…" in a mapping file.',
        )
    return found


def source_signature(files: dict[str, TableFiles], mapping_file: Path | None) -> str:
    """A short hash of every file's path, size and modification time: changes when the source does."""
    digest = hashlib.sha256()
    paths = [p for tf in files.values() for p in tf.paths] + ([mapping_file] if mapping_file else [])
    for path in sorted(paths):
        stat = path.stat()
        digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _conventional(name: str, source: Path) -> TableFiles | None:
    for fmt in ("parquet", "csv"):
        path = source / f"{name}.{fmt}"
        if path.is_file():
            return TableFiles(name, (path,), fmt)
    folder = source / name
    if folder.is_dir():
        return _from_folder(name, folder)
    return None


def _from_pattern(name: str, base: Path, pattern: str, fmt: str | None) -> TableFiles:
    target = Path(pattern) if Path(pattern).is_absolute() else base / pattern
    if target.is_dir():
        return _from_folder(name, target)
    paths = matching_files(target)
    if not paths:
        raise SourceError(
            f"The {name} path {target} matches no file.",
            fix=f"Correct [{name}] path in the mapping file (relative paths start from {base}).",
        )
    formats = {fmt or _format_of(name, p) for p in paths}
    if len(formats) > 1:
        raise SourceError(f"The {name} path {target} mixes CSV and Parquet files.", fix="Point it at one format.")
    return TableFiles(name, paths, formats.pop())


def _from_folder(name: str, folder: Path) -> TableFiles:
    paths = matching_files(folder / "**" / "*.parquet")
    if not paths:
        raise SourceError(
            f"The {name} folder {folder} holds no .parquet files.", fix="Put the table's Parquet files there."
        )
    return TableFiles(name, paths, "parquet", hive=True)


def _format_of(name: str, path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".parquet":
        return "parquet"
    if suffixes and suffixes[-1] in (".csv", ".txt"):
        return "csv"
    raise SourceError(
        f"{shown_path(path)} ({name}) is a {path.suffix or 'file without extension'}, which Bellwether cannot read.",
        quote=quoted_path(path),
        fix='Export the table as .parquet or .csv, or set format = "csv" in its mapping section.',
    )


def matching_files(pattern: Path) -> tuple[Path, ...]:
    """The files a glob matches (`**`: any depth), sorted, each real file once.

    Linked folders are followed, but never back into a folder being walked (a link loop would otherwise repeat
    every file dozens of times); a file reached under several names (links) is kept under its first name.
    """
    parts = pattern.parts
    fixed = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))
    start = Path(*parts[:fixed]) if fixed else Path()
    found = sorted(set(_walk(start, parts[fixed:], (os.path.realpath(start),))))
    seen: set[str] = set()
    unique = []
    for path in found:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            unique.append(path)
    return tuple(unique)


def _walk(folder: Path, parts: tuple[str, ...], ancestors: tuple[str, ...]) -> Iterator[Path]:
    """Files under `folder` matching the glob `parts`; `ancestors` are the real paths of the folders walked."""
    if not parts:
        if folder.is_file():
            yield folder
        return
    head, rest = parts[0], parts[1:]
    if head == "**":
        yield from _walk(folder, rest, ancestors)  # zero folders deep
        for sub in _entries(folder, "*"):
            real = os.path.realpath(sub)
            if sub.is_dir() and real not in ancestors:
                yield from _walk(sub, parts, (*ancestors, real))
    else:
        for entry in _entries(folder, head) if glob.has_magic(head) else [folder / head]:
            yield from _walk(entry, rest, (*ancestors, os.path.realpath(entry)) if rest else ancestors)


def _entries(folder: Path, pattern: str) -> list[Path]:
    """The folder's entries whose name matches one glob segment (hidden ones only when it starts with a dot)."""
    try:
        names = os.listdir(folder)
    except (NotADirectoryError, FileNotFoundError, PermissionError):
        return []
    hidden = pattern.startswith(".")
    return [folder / n for n in names if fnmatch.fnmatchcase(n, pattern) and (hidden or not n.startswith("."))]
