"""Import layering of ``regionmesh``: dependencies only point downwards.

    cli ─┬─> lab ─> api ─> jobs ─> central ─> region / compute ─> network ─> db ─> config / context
         └─────────> api            (identity and dataplane sit beside them; see ALLOWED)

Every ``*.py`` under src/regionmesh is parsed with ``ast`` (nothing is imported, so modules that do
not import yet are still checked). Every ``import regionmesh...`` / ``from regionmesh... import``
and every relative import counts, including ones inside functions and under ``TYPE_CHECKING``.

To change the rules, edit ALLOWED: the key is a layer (the first package below ``regionmesh``; a
top-level module such as ``regionmesh/config.py`` is its own layer, ``regionmesh/__init__.py`` is
``ROOT``), the value the *other* layers it may import (a layer may always import itself).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = "<root>"


def layers(names: str) -> set[str]:
    return set(names.split())


# layer: the other layers it may import. config/context are the foundation everyone may use.
ALLOWED: dict[str, set[str]] = {
    ROOT: layers("config context"),
    "config": set(),
    "context": layers("config"),
    "db": layers("config context"),
    "network": layers("db config context"),
    "dataplane": layers("network db config context"),
    "identity": layers("db config context"),
    "compute": layers("network identity db config context"),
    "region": layers("network identity dataplane db config context"),
    "central": layers("region compute network identity db config context"),
    "jobs": layers("central region network db config context"),
    "api": layers("central region compute jobs identity network db config context"),
    "lab": layers("api central region compute jobs identity network dataplane db config context"),
    "cli": layers("api lab central region compute jobs identity network dataplane db config context"),
}

# Invariants the table itself must keep (checked below, so editing ALLOWED cannot quietly break them).
ONLY_IMPORTED_BY = {"api": {"cli", "lab"}, "cli": set[str]()}
NETWORK_MUST_NOT_IMPORT = {"central", "region", "compute", "jobs", "api", "identity", "lab", "cli"}
DB_MAY_ONLY_IMPORT = {"config", "context"}
JOBS_MUST_NOT_IMPORT = {"api", "cli", "lab"}

SRC = Path(__file__).resolve().parents[2] / "src" / "regionmesh"


def module_name(path: Path) -> str:
    parts = ["regionmesh", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    assert parts[0] == "regionmesh", module
    return parts[1] if len(parts) > 1 else ROOT


def source_files() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


KNOWN_MODULES = {module_name(p) for p in source_files()}


def imported_modules(path: Path, source: str | None = None) -> Iterator[tuple[int, str]]:
    """(line, absolute module) for each regionmesh import in ``path`` (or ``source``, parsed as it)."""
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    if source is None:
        source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "regionmesh" or alias.name.startswith("regionmesh."):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            if base != "regionmesh" and not base.startswith("regionmesh."):
                continue
            for alias in node.names:
                # `from regionmesh import api` imports the subpackage regionmesh.api
                sub = f"{base}.{alias.name}"
                yield node.lineno, sub if sub in KNOWN_MODULES or _is_package_dir(sub) else base


def _is_package_dir(module: str) -> bool:
    return (SRC.joinpath(*module.split(".")[1:])).is_dir()


def test_source_tree_is_found() -> None:
    assert (SRC / "__init__.py").is_file(), SRC
    assert len(source_files()) > 1


def test_every_layer_is_in_the_table() -> None:
    layers = {layer_of(module_name(p)) for p in source_files()}
    unknown = layers - ALLOWED.keys()
    assert not unknown, f"new package(s) {sorted(unknown)}: add them to ALLOWED in {__file__}"


def test_table_keeps_the_invariants() -> None:
    for layer, allowed in ALLOWED.items():
        assert allowed <= ALLOWED.keys(), (layer, allowed - ALLOWED.keys())
        for target, importers in ONLY_IMPORTED_BY.items():
            if target in allowed:
                assert layer in importers, f"{layer} may not import {target}"
    assert not ALLOWED["network"] & NETWORK_MUST_NOT_IMPORT
    assert ALLOWED["db"] <= DB_MAY_ONLY_IMPORT
    assert not ALLOWED["jobs"] & JOBS_MUST_NOT_IMPORT
    assert {"central", "region", "network", "db"} <= ALLOWED["jobs"]
    assert {"central", "region", "compute"} <= ALLOWED["api"]
    assert "db" in ALLOWED["network"]


def test_table_is_acyclic() -> None:
    """The allowed graph is a DAG, i.e. a real layering (self-imports aside)."""
    state: dict[str, str] = {}

    def visit(layer: str, path: list[str]) -> None:
        if state.get(layer) == "done":
            return
        assert state.get(layer) != "active", "cycle in ALLOWED: " + " -> ".join([*path, layer])
        state[layer] = "active"
        for nxt in sorted(ALLOWED[layer] - {layer}):
            visit(nxt, [*path, layer])
        state[layer] = "done"

    for layer in sorted(ALLOWED):
        visit(layer, [])


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_layering(path: Path) -> None:
    layer = layer_of(module_name(path))
    allowed = ALLOWED.get(layer, set()) | {layer}
    bad = [
        f"{path.relative_to(SRC.parent)}:{line}: {layer} imports {target} (layer {layer_of(target)})"
        for line, target in imported_modules(path)
        if layer_of(target) not in allowed
    ]
    assert not bad, "layering violation(s):\n" + "\n".join(bad) + f"\nallowed for {layer}: {sorted(allowed)}"


def test_resolver_understands_relative_and_package_imports() -> None:
    """Self-check of imported_modules() on a synthetic source parsed as regionmesh/network/__init__.py."""
    code = (
        "from . import exceptions\n"  # a module: regionmesh/network/exceptions.py
        "from ..db import _not_a_module_\n"  # a name inside a package
        "from .. import context\n"
        "from regionmesh import api\n"  # a subpackage
        "import regionmesh.cli.main\n"
        "def f():\n    from regionmesh.jobs import _not_a_module_\n"  # nested imports count too
        "import os\nfrom sqlalchemy import text\n"  # not ours: ignored
    )
    found = [m for _, m in imported_modules(SRC / "network" / "__init__.py", source=code)]
    assert found == [
        "regionmesh.network.exceptions",
        "regionmesh.db",
        "regionmesh.context",
        "regionmesh.api",
        "regionmesh.cli.main",
        "regionmesh.jobs",
    ], found
