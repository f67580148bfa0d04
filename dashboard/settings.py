"""Where the app finds its data, from environment variables with demo defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from queries.warehouse import is_database_url, mask_password

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class SourceOption:
    """A source the user can pick in the sidebar: a folder/file of extracts, or a warehouse URL (`is_warehouse`)."""

    key: str
    label: str
    path: str  # folder, file or glob; for a warehouse the SQLAlchemy URL (may hold a password: show `shown`)
    mapping: str | None
    is_demo: bool
    is_warehouse: bool = False

    @property
    def shown(self) -> str:
        """The location as it may be displayed: a warehouse URL with its password masked."""
        return mask_password(self.path) if self.is_warehouse else self.path


def data_dir() -> Path:
    """BELLWETHER_DATA_DIR, default data/ in the repository."""
    return Path(os.environ.get("BELLWETHER_DATA_DIR", REPO_ROOT / "data"))


def demo_tickets_per_day() -> int:
    """Size of a demo generated on first start (BELLWETHER_DEMO_TICKETS_PER_DAY, default 2,000 ≈ 1.46M tickets)."""
    return int(os.environ.get("BELLWETHER_DEMO_TICKETS_PER_DAY", "2000"))


def rollup_threshold_rows() -> int:
    """Extracts with at least this many tickets are served from rollups, not held in memory
    (BELLWETHER_ROLLUP_ROWS, default 10,000,000)."""
    return int(os.environ.get("BELLWETHER_ROLLUP_ROWS", "10000000"))


def source_options(secrets_warehouse_url: str | None = None) -> list[SourceOption]:
    """The demo, plus the user's source (BELLWETHER_SOURCE: extracts or a SQLAlchemy URL) and warehouse
    (BELLWETHER_WAREHOUSE_URL, else the URL of the `warehouse` connection in .streamlit/secrets.toml)."""
    options = [SourceOption("demo", "Demo warehouse (generated)", str(data_dir() / "demo"), None, True)]
    mapping = os.environ.get("BELLWETHER_MAPPING") or None
    extracts = os.environ.get("BELLWETHER_SOURCE")
    if extracts and is_database_url(extracts):
        options.append(_warehouse_option("extracts", extracts, mapping))
    elif extracts:
        options.append(SourceOption("extracts", f"Your extracts ({extracts})", extracts, mapping, False))
    warehouse = os.environ.get("BELLWETHER_WAREHOUSE_URL") or secrets_warehouse_url
    if warehouse and warehouse != extracts:
        options.append(_warehouse_option("warehouse", warehouse, mapping))
    return options


def _warehouse_option(key: str, url: str, mapping: str | None) -> SourceOption:
    """A warehouse labelled by its database and server (the full URL, password masked, is on Data health)."""
    try:
        parsed = make_url(url)
        where = " on ".join(p for p in (Path(parsed.database or "").name, parsed.host) if p)
        label = f"Warehouse: {where} ({parsed.get_backend_name()})"
    except ArgumentError:  # connect_warehouse explains a malformed URL
        label = "Warehouse (malformed URL)"
    return SourceOption(key, label, url, mapping, False, is_warehouse=True)


def scenario_store_url() -> str:
    """Where saved scenarios live: BELLWETHER_SCENARIO_URL (any SQLAlchemy URL) or a SQLite file in the data folder."""
    return os.environ.get("BELLWETHER_SCENARIO_URL") or f"sqlite:///{data_dir() / 'scenarios.db'}"


def access_file() -> Path | None:
    """The access policy (roles, vendor scopes): BELLWETHER_ACCESS or config/access.toml; None = no sign-in."""
    configured = os.environ.get("BELLWETHER_ACCESS")
    path = Path(configured) if configured else REPO_ROOT / "config" / "access.toml"
    return path if configured or path.exists() else None
