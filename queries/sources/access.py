"""Who may see and do what: roles and vendor scopes from a small config file.

A vendor-scoped user's source is restricted to that vendor's rows by its engine (`queries.engines.scope`), on every
kind of source, so no page, filter, URL parameter or export built on it can show another vendor's data.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from queries.errors import SourceError

ROLES = ("viewer", "planner", "admin")
ENTRY_KEYS = ("role", "vendor")  # what a [users."e-mail"] or [defaults] table may hold
SECTIONS = ("users", "defaults")
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

    @property
    def sees_other_users(self) -> bool:
        """Other people's identities (who saved a scenario): for the unscoped admins who see row-level details."""
        return self.sees_validation_details


@dataclass(frozen=True)
class AccessPolicy:
    """Users by e-mail, and what an unlisted signed-in user gets (no default role: no access)."""

    users: dict[str, User]
    default_role: str | None = None
    default_vendor: str | None = None
    path: str = ""
    vendor_lines: tuple[tuple[int, str], ...] = ()  # (line in the file, vendor) of every vendor it names

    def user(self, email: str) -> User | None:
        """The user with this e-mail (case-insensitive), the default role for unlisted ones, or None."""
        listed = self.users.get(_email_key(email))
        if listed:
            return listed
        return User(email, self.default_role, self.default_vendor) if self.default_role else None

    def check_vendors(self, known: Collection[str]) -> None:
        """SourceError naming each line whose vendor is not in `known` (the current source's vendors).

        A misspelt vendor would scope its users to nothing and hide the mistake; the message names lines,
        not vendors, because it may be shown to any signed-in user.
        """
        unknown = [line for line, vendor in self.vendor_lines if vendor not in known]
        if unknown:
            raise SourceError(
                " ".join(
                    f"{self.path} line {line}: this vendor is not a vendor of the current source." for line in unknown
                ),
                fix="Spell each vendor exactly as the source's vendor column does, or remove the entry.",
            )


def sign_in_refusal(claims: Mapping[str, object]) -> str | None:
    """Why a signed-in identity must be refused (its provider says the e-mail is not verified), or None."""
    # Many identity providers omit `email_verified`: a missing claim is allowed. A present claim must say
    # true (a boolean or the string "true"); false, "false" or anything else is refused (fail closed).
    if "email_verified" not in claims:
        return None
    verified = claims["email_verified"]
    if verified is True or (isinstance(verified, str) and verified.strip().lower() == "true"):
        return None
    return "Your identity provider says this e-mail address is not verified, so it cannot be used to sign in."


def load_access_policy(path: str | Path) -> AccessPolicy:
    """Read config/access.toml: [users."e-mail"] role = "…", vendor = "…"; [defaults] role = "…", vendor = "…".

    Every mistake that could widen access (an unknown or misspelt key or section, an empty value, an e-mail
    listed twice) is a SourceError naming the line; the messages never quote e-mail addresses or vendors.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError(
            f"Access file {path} does not exist.", fix="Create it from config/access.example.toml."
        ) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SourceError(f"Access file {path} is not valid TOML: {exc}.", fix="Fix the syntax at that line.") from None
    where = _Lines(path, text)
    for key, value in raw.items():
        if key not in SECTIONS:
            kind = "section" if isinstance(value, dict) else "key"
            raise where.error(
                where.top(key),
                f"unknown {kind} {key!r}.",
                'The access file holds [users."e-mail"] sections and one [defaults] section only.',
            )
    listed = raw.get("users", {})
    if not isinstance(listed, dict):
        raise where.error(where.top("users"), "users must be sections.", 'Write one [users."e-mail"] per person.')
    users: dict[str, User] = {}
    first_lines: dict[str, int | None] = {}
    vendor_lines = []
    for email, body in listed.items():
        line = where.entry(email)
        key = _email_key(email)
        if not key:
            raise where.error(line, "empty e-mail address.", "Give the person's e-mail address, or remove the section.")
        if key in first_lines:
            raise where.error(
                line,
                f"this e-mail is listed twice (also on line {first_lines[key]}).",
                "Keep one section per person (e-mail addresses ignore case and spaces around them).",
            )
        first_lines[key] = line
        role, vendor = _entry(where, line, body, "this user")
        if role is None:
            raise where.error(line, "this user has no role.", f"Add role = one of {', '.join(ROLES)}.")
        users[key] = User(email.strip(), role, vendor)
        if vendor:
            vendor_lines.append((where.key("vendor", line), vendor))
    defaults_line = where.top("defaults")
    default_role, default_vendor = _entry(where, defaults_line, raw.get("defaults", {}), "[defaults]")
    if default_vendor:
        if default_role is None:
            raise where.error(
                defaults_line,
                "[defaults] has a vendor but no role.",
                "Add a role for unlisted users (they see only that vendor), or remove the vendor.",
            )
        vendor_lines.append((where.key("vendor", defaults_line), default_vendor))
    return AccessPolicy(users, default_role, default_vendor, str(path), tuple(vendor_lines))


def _email_key(email: str) -> str:
    return email.strip().lower()


def _entry(where: _Lines, line: int | None, body: object, what: str) -> tuple[str | None, str | None]:
    """The role and vendor of a [users."e-mail"] or [defaults] table, refusing anything else in it."""
    if not isinstance(body, dict):
        raise where.error(line, f"{what} must be a section.", 'Write role = "…" (and vendor = "…") under it.')
    for key in body:
        if key not in ENTRY_KEYS:
            raise where.error(
                where.key(key, line),
                f"unknown key {key!r}.",
                'The keys are role = "…" and, for a vendor\'s user, vendor = "…" (one vendor, lower-case key).',
            )
    role, vendor = body.get("role"), body.get("vendor")
    if role is not None and not isinstance(role, str):
        raise where.error(where.key("role", line), "role must be text.", f"Use one of {', '.join(ROLES)}.")
    if role is not None and role not in ROLES:
        raise where.error(where.key("role", line), f"role {role!r} is not a role.", f"Use one of {', '.join(ROLES)}.")
    if vendor is None:
        return role, None
    if not isinstance(vendor, str):
        problem = "vendor must be text (one vendor in quotes)."
    elif not vendor.strip():
        problem = "vendor is empty."
    elif vendor != vendor.strip():
        problem = "vendor has spaces around it."
    else:
        return role, vendor
    raise where.error(
        where.key("vendor", line), problem, "Give the vendor's name as the source spells it, or remove the line."
    )


class _Lines:
    """Finds the line of a section or key in the access file (tomllib gives no positions)."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def error(self, line: int | None, problem: str, fix: str) -> SourceError:
        """A SourceError starting with "<file> line <n>:"."""
        return SourceError(f"{self.path}{f' line {line}' if line else ''}: {problem}", fix=fix)

    def top(self, key: str) -> int | None:
        """The line of a top-level section header or key."""
        return self._find(rf"^\s*\[*\s*{_key(key)}\s*[\].=]")

    def entry(self, email: str) -> int | None:
        """The line that names a user's e-mail as a key (its section header, or an inline/dotted entry)."""
        return self._find(rf"{_key(email)}\s*[\].=]")

    def key(self, key: str, start: int | None) -> int | None:
        """The line of `key =` in the table that starts at line `start` (else `start`)."""
        if start is None:
            return None
        for number in range(start, len(self.lines) + 1):
            text = self.lines[number - 1]
            if number > start and text.lstrip().startswith("["):  # the next table
                break
            if not text.lstrip().startswith("#") and re.search(rf"{_key(key)}\s*=", text):
                return number
        return start

    def _find(self, pattern: str) -> int | None:
        found = (
            n for n, text in enumerate(self.lines, 1) if not text.lstrip().startswith("#") and re.search(pattern, text)
        )
        return next(found, None)


def _key(key: str) -> str:
    """A TOML key as a pattern: "double-quoted", 'single-quoted', or bare (when it may be written bare)."""
    escaped = re.escape(key)
    bare = rf"|(?<![\w-]){escaped}(?![\w-])" if re.fullmatch(r"[A-Za-z0-9_-]+", key) else ""
    return rf"""(?:"{escaped}"|'{escaped}'{bare})"""
