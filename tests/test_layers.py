"""Imports point one way: geo <- the dispatch domain and solvers <- dispatch.storage <- web and
the dispatcher worker; only dispatch.storage talks to Redis."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("geo", "dispatch", "web")
EDGES = ("dispatch.storage", "dispatch.worker")  # the parts of dispatch that do I/O with Redis


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def wrong_way(importer: str, target: str) -> bool:
    if within(target, "redis"):
        return not within(importer, "dispatch.storage")
    if within(importer, "geo"):
        return within(target, "dispatch") or within(target, "web")
    if within(importer, "dispatch"):
        if within(target, "web") or within(target, "dispatch.worker"):
            return not within(importer, "dispatch.worker") or within(target, "web")
        domain = not any(within(importer, edge) for edge in EDGES)
        return domain and within(target, "dispatch.storage")
    return False


def arrows() -> set[tuple[str, str]]:
    found = set()
    files = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    for path in [*files, ROOT / "app.py"]:
        importer = module_name(path)
        for target in imported(path):
            if wrong_way(importer, target):
                top = target if within(target, "redis") else ".".join(target.split(".")[:2])
                found.add((importer, "redis" if within(target, "redis") else top))
    return found


def test_no_import_points_the_wrong_way() -> None:
    wrong = arrows()
    assert not wrong, f"imports the wrong way (see the module docstring): {sorted(wrong)}"


def test_the_rules_catch_each_kind_of_wrong_arrow() -> None:
    assert wrong_way("web.orders", "redis")
    assert wrong_way("dispatch.intake", "redis.exceptions")
    assert not wrong_way("dispatch.storage.orders", "redis")
    assert wrong_way("geo.index", "dispatch.orders")
    assert wrong_way("dispatch.planner", "web.services")
    assert wrong_way("dispatch.intake", "dispatch.storage.orders")
    assert wrong_way("dispatch.worker", "web.settings")
    assert wrong_way("dispatch.storage.orders", "dispatch.worker")
    assert not wrong_way("dispatch.worker", "dispatch.storage.orders")
    assert not wrong_way("web.orders", "dispatch.storage.orders")
    assert not wrong_way("dispatch.storage.orders", "dispatch.orders")
