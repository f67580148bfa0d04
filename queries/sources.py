"""Finding the files of each table in a source (a directory, or a single file with a mapping)."""

from __future__ import annotations

import glob
import hashlib
from dataclasses import dataclass
from pathlib import Path

from queries.contract import TABLES
from queries.errors import SourceError
from queries.mapping import Mapping


@dataclass(frozen=True)
class TableFiles:
    """The files that hold one table, all of one format."""

    table: str
    paths: tuple[Path, ...]
    format: str  # "csv" or "parquet"
    hive: bool = False  # a folder of Parquet files, possibly hive-partitioned

    @property
    def label(self) -> str:
        """A short name for messages: the file, or the folder/glob and how many files."""
        if len(self.paths) == 1:
            return str(self.paths[0])
        return f"{self.paths[0].parent} ({len(self.paths)} files)"


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
    paths = tuple(sorted(Path(p) for p in glob.glob(str(target), recursive=True) if Path(p).is_file()))
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
    paths = tuple(sorted(p for p in folder.rglob("*.parquet") if p.is_file()))
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
        f"{path} ({name}) is a {path.suffix or 'file without extension'}, which Bellwether cannot read.",
        fix='Export the table as .parquet or .csv, or set format = "csv" in its mapping section.',
    )
