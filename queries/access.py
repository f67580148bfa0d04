"""Who may see and do what: roles from a small config file, and vendor scoping enforced on the data.

A vendor-scoped user's dataset holds only that vendor's rows — tickets, staffing and QA reviews — so
no page, filter, URL parameter or export built on it can show another vendor's data. Platform-wide
tables (daily active users, events that name no vendor) stay whole; the validation report keeps its counts of the
scoped rows only and drops row examples, which could quote other vendors' rows.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from queries.dataset import Dataset
from queries.errors import SourceError

ROLES = ("viewer", "planner", "admin")
LOCAL_ADMIN = "local"  # the user name when sign-in is not configured (the local demo)


@dataclass(frozen=True)
class User:
    """A signed-in person: `role` decides what they may do, `vendor` (if set) what rows they may see."""

    name: str
    role: str
    vendor: str | None = None

    @property
    def can_save_scenarios(self) -> bool:
        return self.role in ("planner", "admin")

    @property
    def sees_validation_details(self) -> bool:
        return self.role == "admin" and self.vendor is None


@dataclass(frozen=True)
class AccessPolicy:
    """Users by e-mail, and what an unlisted signed-in user gets (None: no access)."""

    users: dict[str, User]
    default_role: str | None = None

    def user(self, email: str) -> User | None:
        """The user with this e-mail (case-insensitive), the default role for unlisted ones, or None."""
        listed = self.users.get(email.strip().lower())
        if listed:
            return listed
        return User(email, self.default_role) if self.default_role else None


def load_access_policy(path: str | Path) -> AccessPolicy:
    """Read config/access.toml: [users."e-mail"] role = "…", vendor = "…"; [defaults] role = "…"."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceError(
            f"Access file {path} does not exist.", fix="Create it from config/access.example.toml."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise SourceError(f"Access file {path} is not valid TOML: {exc}.", fix="Fix the syntax at that line.") from None
    users = {}
    for email, body in raw.get("users", {}).items():
        role = body.get("role") if isinstance(body, dict) else None
        if role not in ROLES:
            raise SourceError(
                f"Access file {path}: user {email!r} has role {role!r}.", fix=f"Use one of {', '.join(ROLES)}."
            )
        vendor = body.get("vendor")
        users[email.strip().lower()] = User(email, role, str(vendor) if vendor else None)
    default = raw.get("defaults", {}).get("role")
    if default is not None and default not in ROLES:
        raise SourceError(f"Access file {path}: default role {default!r}.", fix=f"Use one of {', '.join(ROLES)}.")
    return AccessPolicy(users, default)


def scope_dataset(ds: Dataset, vendor: str) -> Dataset:
    """The dataset as a user of `vendor` may see it: only that vendor's tickets, staffing and QA reviews."""
    tables = dict(ds.tables)
    tickets = ds.tables["tickets"].filter(pl.col("vendor") == vendor)
    tables["tickets"] = tickets
    if "staffing" in tables:
        tables["staffing"] = tables["staffing"].filter(pl.col("vendor") == vendor)
    if "qa_reviews" in tables:
        qa = tables["qa_reviews"]
        own = pl.col("ticket_id").is_in(tickets["ticket_id"].implode())
        # A review counts when QA names the vendor, or, where QA has no vendor, through the reviewed ticket.
        tables["qa_reviews"] = qa.filter(
            pl.when(pl.col("vendor").is_null()).then(own).otherwise(pl.col("vendor") == vendor)
        )
    if "events" in tables:  # vendor-specific annotations (training, staffing episodes) are that vendor's own
        tables["events"] = tables["events"].filter(pl.col("vendor").is_null() | (pl.col("vendor") == vendor))
    reports = {
        name: replace(
            report,
            rows_read=tables[name].height,
            rows_loaded=tables[name].height,
            rows_superseded=0,
            rejections=(),
            location="(scoped)",
        )
        for name, report in ds.reports.items()
    }
    return replace(ds, tables=tables, reports=reports, signature=f"{ds.signature}:{vendor}")
