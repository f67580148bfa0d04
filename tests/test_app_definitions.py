"""Metric definitions on screen read with display names: each tile's help (Overview, Turnaround & SLA) comes from the
one definition in queries.definitions through queries.display.definition_words, never with the identifiers
docs/metrics.md keeps (`source = proactive_model` reads "Detection source: Proactive model")."""

from __future__ import annotations

import re

import pytest

from tests.apptest import run

CODE_SPAN = re.compile(r"`([^`]*)`")
RAW = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)+|[a-z0-9_]+=[a-z0-9_]+")  # an identifier, or a `field=value`


def raw_in_help(text: str) -> list[str]:
    """Identifiers a help text shows: code spans (but file syntax, a quoted value) and snake_case words outside
    quoted names (an SLA rule's name is the user's own)."""
    spans = [c for c in CODE_SPAN.findall(text) if '"' not in c]
    return spans + RAW.findall(re.sub(r"“[^”]*”", "", CODE_SPAN.sub("", text)))


@pytest.mark.usefixtures("app_env")
@pytest.mark.parametrize(
    ("page", "params", "tile"),
    [
        ("overview", {}, "Proactive detection"),
        ("turnaround", {}, "SLA attainment"),
        ("turnaround", {"turnaround.tab": "sources"}, "Detected proactively"),
    ],
)
def test_tile_definitions_name_fields_and_values_by_their_display_names(page: str, params: dict, tile: str):
    at = run(page, params)
    helps = {m.label: m.proto.help for m in at.metric}
    assert tile in helps, sorted(helps)
    assert {label: raw_in_help(text) for label, text in helps.items() if raw_in_help(text)} == {}
    if "roactive" in tile:
        assert "(Detection source: Proactive model)" in helps[tile]
