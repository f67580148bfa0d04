"""The layers hold: parsed from every module's imports (docs/architecture.md draws them).

dashboard.app and queries.cli (the entries) → pages → dashboard → forecasting → queries; inside queries: vocabulary ←
frames ← sources ← engines ← metrics ← analyses ← the command line. No import cycle anywhere, no Streamlit
below dashboard/, and no check of a source's kind outside the one function that picks its engine.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("queries", "forecasting", "dashboard", "pages")
TOP = {"pages": 3, "dashboard": 2, "forecasting": 1, "queries": 0}  # a package imports only packages below it
# Entry points sit above every layer: the app builds the navigation of the pages; the command line's leadership
# reports (alerts with the forecast, the snapshot with the dashboard's charts) compose queries, forecasting and charts.
ENTRIES = {"dashboard.app", "queries.cli"}
# Inside queries: each layer imports only its own layer and those below (a lower number).
VOCABULARY = {"contract", "filters", "errors", "histogram", "sla", "export", "definitions", "calc", "intervals"}
VOCABULARY |= {"display", "progress"}  # display names and number formats for people; how long steps report
QUERIES_LAYERS = {
    **dict.fromkeys(VOCABULARY, 0),
    "frames": 1,
    "sources": 2,
    "engines": 3,
    "metrics": 4,
    "analyses": 5,
    "demo": 5,
    "docs": 6,
    "commandline": 6,
    "cli": 7,
    "__main__": 8,
}
SOURCE_KINDS = {"Dataset", "RolledUpSource", "Warehouse"}
PICKER = "queries.engines"  # engine_for: the one place that may ask which kind a source is


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Project modules `name` imports (at any depth of its code), resolved to the modules that exist."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            submodules = [f"{base}.{a.name}" for a in node.names]
            # `from package import name`: the package itself, unless every name is one of its modules
            candidates = submodules + ([base] if any(s not in MODULES for s in submodules) else [])
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in MODULES:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                targets.add(candidate)
    return targets


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


def _queries_layer(module: str) -> int:
    return QUERIES_LAYERS[module.split(".")[1] if "." in module else "__main__"]


def test_the_modules_were_found():
    assert {"queries.metrics", "queries.engines.rows", "dashboard.app", "forecasting.plan"} <= set(MODULES)
    assert IMPORTS["queries.metrics"] >= {"queries.engines", "queries.definitions"}


def test_no_import_cycle():
    cycles, state = [], {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(IMPORTS[module]):
            if state.get(target) == "open":
                cycles.append([*path[path.index(target) :], target] if target in path else [module, target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(MODULES):
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_package_imports_only_the_packages_below_it(module: str):
    own = max(TOP.values()) + 1 if module in ENTRIES else TOP[module.split(".")[0]]
    above = sorted(t for t in IMPORTS[module] if TOP[t.split(".")[0]] > own)
    assert not above, f"{module} imports {above}, which sit above it"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("queries.") and m != "queries"))
def test_queries_layers_import_only_their_layer_or_below(module: str):
    own = _queries_layer(module)
    above = sorted(t for t in IMPORTS[module] if t.startswith("queries.") and _queries_layer(t) > own)
    assert not above, f"{module} (layer {own}) imports {above}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.split(".")[0] in ("queries", "forecasting")))
def test_no_streamlit_below_dashboard(module: str):
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [n for n in names if n.split(".")[0] == "streamlit"], module


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != PICKER))
def test_only_the_engine_picker_asks_which_kind_a_source_is(module: str):
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance":
            kinds = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)} if len(node.args) > 1 else set()
            assert not kinds & SOURCE_KINDS, f"{module}:{node.lineno} checks a source's kind; ask its engine"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_700_lines(module: str):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= 700, f"{module} has {lines} lines"
