"""Where the app finds its data, from environment variables with demo defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class SourceOption:
    """A source the user can pick in the sidebar."""

    key: str
    label: str
    path: str
    mapping: str | None
    is_demo: bool


def data_dir() -> Path:
    """BELLWETHER_DATA_DIR, default data/ in the repository."""
    return Path(os.environ.get("BELLWETHER_DATA_DIR", REPO_ROOT / "data"))


def demo_tickets_per_day() -> int:
    """Size of a demo generated on first start (BELLWETHER_DEMO_TICKETS_PER_DAY, default 2,000 ≈ 1.46M tickets)."""
    return int(os.environ.get("BELLWETHER_DEMO_TICKETS_PER_DAY", "2000"))


def source_options() -> list[SourceOption]:
    """The demo warehouse, plus the user's extracts when BELLWETHER_SOURCE is set."""
    options = [SourceOption("demo", "Demo warehouse (generated)", str(data_dir() / "demo"), None, True)]
    extracts = os.environ.get("BELLWETHER_SOURCE")
    if extracts:
        mapping = os.environ.get("BELLWETHER_MAPPING") or None
        options.append(SourceOption("extracts", f"Your extracts ({extracts})", extracts, mapping, False))
    return options


def scenario_store_url() -> str:
    """Where saved scenarios live: BELLWETHER_SCENARIO_URL (any SQLAlchemy URL) or a SQLite file in the data folder."""
    return os.environ.get("BELLWETHER_SCENARIO_URL") or f"sqlite:///{data_dir() / 'scenarios.db'}"


def access_file() -> Path | None:
    """The access policy (roles, vendor scopes): BELLWETHER_ACCESS or config/access.toml; None = no sign-in."""
    configured = os.environ.get("BELLWETHER_ACCESS")
    path = Path(configured) if configured else REPO_ROOT / "config" / "access.toml"
    return path if configured or path.exists() else None
