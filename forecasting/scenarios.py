"""Saved what-if scenarios, in any SQLAlchemy database (a SQLite file by default).

Every save adds a new version under its name: nothing is ever overwritten, and concurrent
saves from several sessions each get their own version (the unique key decides; a writer
that loses the race retries with the next number).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from forecasting.plan import Scenario

METADATA = sa.MetaData()
SCENARIOS = sa.Table(
    "bellwether_scenarios",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("saved_at", sa.DateTime, nullable=False),
    sa.Column("parameters", sa.Text, nullable=False),
    sa.UniqueConstraint("name", "version", name="uq_scenario_name_version"),
)
RETRIES = 50


@dataclass(frozen=True)
class SavedScenario:
    name: str
    version: int
    author: str
    saved_at: dt.datetime
    scenario: Scenario


class ScenarioStore:
    """Versioned scenario storage behind a SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        connect_args = {"timeout": 30} if url.startswith("sqlite") else {}
        self.engine = sa.create_engine(url, connect_args=connect_args)
        METADATA.create_all(self.engine)

    @classmethod
    def sqlite_file(cls, path: Path) -> ScenarioStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{path}")

    def save(self, name: str, scenario: Scenario, author: str) -> int:
        """Store a new version of `name`; returns its version number."""
        name = name.strip()
        if not name:
            raise ValueError("a scenario needs a name")
        parameters = json.dumps(scenario.to_dict(), sort_keys=True)
        for attempt in range(RETRIES):
            try:
                with self.engine.begin() as conn:
                    latest = conn.execute(
                        sa.select(sa.func.max(SCENARIOS.c.version)).where(SCENARIOS.c.name == name)
                    ).scalar()
                    version = (latest or 0) + 1
                    conn.execute(
                        SCENARIOS.insert().values(
                            name=name,
                            version=version,
                            author=author or "anonymous",
                            saved_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
                            parameters=parameters,
                        )
                    )
                return version
            except (IntegrityError, OperationalError):
                time.sleep(0.005 * (attempt + 1))  # another writer took this version or held the lock
        raise RuntimeError(f"could not save scenario {name!r} after {RETRIES} attempts")

    def list(self) -> pl.DataFrame:
        """Every saved version, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(SCENARIOS.c.name, SCENARIOS.c.version, SCENARIOS.c.author, SCENARIOS.c.saved_at).order_by(
                    SCENARIOS.c.saved_at.desc(), SCENARIOS.c.id.desc()
                )
            ).all()
        schema = {"name": pl.String, "version": pl.Int64, "author": pl.String, "saved_at": pl.Datetime("us")}
        return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")

    def load(self, name: str, version: int | None = None) -> SavedScenario:
        """A saved scenario (latest version unless one is given)."""
        query = sa.select(SCENARIOS).where(SCENARIOS.c.name == name)
        query = query.where(SCENARIOS.c.version == version) if version else query.order_by(SCENARIOS.c.version.desc())
        with self.engine.connect() as conn:
            row = conn.execute(query.limit(1)).mappings().first()
        if row is None:
            raise KeyError(f"no saved scenario {name!r}" + (f" version {version}" if version else ""))
        return SavedScenario(
            row["name"],
            row["version"],
            row["author"],
            row["saved_at"],
            Scenario.from_dict(json.loads(row["parameters"])),
        )
