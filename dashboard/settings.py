"""Where the app finds its data, from environment variables with demo defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from queries.demo.world import SCALES
from queries.errors import SourceError
from queries.sources.warehouse import is_database_url, mask_password

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


# The demo the dashboard generates on first start: the full-size operation (≈ 8.8M tickets), served from rollups
# built during first start (docs/performance.md, "The default demo in the dashboard").
FIRST_START_SCALE = "default"


def demo_tickets_per_day() -> int:
    """Size of a demo generated on first start: BELLWETHER_DEMO_TICKETS_PER_DAY, else BELLWETHER_DEMO_SCALE
    (`default`: 12,000 a day ≈ 8.8M tickets over two years; `small`: 2,000 a day ≈ 1.46M)."""
    if count := os.environ.get("BELLWETHER_DEMO_TICKETS_PER_DAY"):
        return int(count)
    scale = os.environ.get("BELLWETHER_DEMO_SCALE", FIRST_START_SCALE)
    if scale not in SCALES:
        raise SourceError(
            f"BELLWETHER_DEMO_SCALE={scale!r} is not a demo scale.", fix=f"Use one of: {', '.join(SCALES)}."
        )
    return SCALES[scale]


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
    except (ArgumentError, ValueError):  # connect_warehouse explains a malformed URL (ValueError: a bad port)
        label = "Warehouse (malformed URL)"
    return SourceOption(key, label, url, mapping, False, is_warehouse=True)


SECRETS_URL_FIELDS = ("dialect", "driver", "username", "password", "host", "port", "database", "query")
SECRETS_FIX = (
    'Write url = "dialect+driver://user:password@host:port/database" under [connections.warehouse] '
    "(see .streamlit/secrets.example.toml), or remove the section."
)


def warehouse_url_from_secrets(section: Any) -> str:
    """The SQLAlchemy URL a [connections.warehouse] section of .streamlit/secrets.toml gives: its `url`, or the
    fields Streamlit's SQL connection accepts (dialect, driver, username, password, host, port, database, query).

    Raises SourceError (never quoting the password) when the section cannot make a URL.
    """
    where = "The [connections.warehouse] section of .streamlit/secrets.toml"
    if not isinstance(section, Mapping):
        raise SourceError(f"{where} is not a table.", fix=SECRETS_FIX)
    unknown = sorted(set(section) - {"url", *SECRETS_URL_FIELDS})
    if unknown:
        raise SourceError(f"{where} has unknown keys: {', '.join(unknown)}.", fix=SECRETS_FIX)
    try:
        if "url" in section:
            if not isinstance(section["url"], str):
                raise ValueError("url is not a string")
            url = make_url(section["url"])
        elif "dialect" in section:
            fields = {k: section[k] for k in SECRETS_URL_FIELDS if k in section}
            drivername = fields.pop("dialect") + (f"+{fields.pop('driver')}" if "driver" in fields else "")
            url = URL.create(drivername, **fields)
        else:
            raise SourceError(f"{where} has neither url nor dialect.", fix=SECRETS_FIX)
        if url.port is not None and not 0 < url.port < 65536:
            raise ValueError("the port is out of range")
        url.get_dialect()  # an unknown dialect fails here; a missing driver package when connecting
    except NoSuchModuleError:
        raise SourceError(
            f"{where} cannot be used: SQLAlchemy has no dialect {url.drivername!r}.", fix=SECRETS_FIX
        ) from None
    except (ArgumentError, ValueError, TypeError) as exc:
        reason = "its port is not a number" if "int()" in str(exc) else "it is not a database URL"
        raise SourceError(f"{where} cannot be used: {reason}.", fix=SECRETS_FIX) from None
    return url.render_as_string(hide_password=False)


def scenario_store_url() -> str:
    """Where saved scenarios live: BELLWETHER_SCENARIO_URL (any SQLAlchemy URL) or a SQLite file in the data folder."""
    return os.environ.get("BELLWETHER_SCENARIO_URL") or f"sqlite:///{data_dir() / 'scenarios.db'}"


def access_file() -> Path | None:
    """The access policy (roles, vendor scopes): BELLWETHER_ACCESS or config/access.toml; None = no sign-in."""
    configured = os.environ.get("BELLWETHER_ACCESS")
    path = Path(configured) if configured else REPO_ROOT / "config" / "access.toml"
    return path if configured or path.exists() else None
