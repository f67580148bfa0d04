"""constraints.txt pins every requirement at a version its range allows, so the README's installs are reproducible."""

from __future__ import annotations

from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent


def _lines(name: str) -> list[str]:
    text = (REPO / name).read_text(encoding="utf-8")
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def _requirements(name: str) -> list[Requirement]:
    out = []
    for line in _lines(name):
        if line.startswith("-r "):
            out += _requirements(line.removeprefix("-r ").strip())
        else:
            out.append(Requirement(line))
    return out


def test_every_requirement_is_pinned_in_constraints_within_its_range():
    pins = {}
    for line in _lines("constraints.txt"):
        name, _, version = line.partition("==")
        assert version, f"constraints.txt: {line!r} is not an exact pin (name==version)"
        pins[canonicalize_name(name)] = Version(version)
    requirements = _requirements("requirements-dev.txt")
    assert {canonicalize_name(r.name) for r in requirements} >= {"polars", "streamlit", "pytest"}
    for req in requirements:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is required but not pinned in constraints.txt"
        assert req.specifier.contains(pins[name]), f"constraints.txt pins {req.name}=={pins[name]}, outside {req}"
