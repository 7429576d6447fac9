"""The package's shape: layers visible in the tree, imports pointing down only, public Dagster API.

Layers, bottom to top (DESIGN.md): domain <- engines (model, benchmark, reporting) <- pipeline
<- orchestration <- assets / resources / sensors <- definitions <- cli. Every ``import`` in a
module (top level or inside a function) is checked against the layers below it.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "coral_dagster"

LAYER = {
    "domain": 0,
    "model": 1,
    "benchmark": 1,
    "reporting": 1,
    "pipeline": 2,
    "orchestration": 3,
    "assets": 4,
    "resources": 4,
    "sensors": 4,
    "definitions": 5,
    "cli": 6,
}
ENGINES = {"model", "benchmark", "reporting"}


def _part(module: str) -> str | None:
    """The top-level part of ``coral_dagster.<part>...`` (None for other modules)."""
    pieces = module.split(".")
    return pieces[1] if pieces[0] == "coral_dagster" and len(pieces) > 1 else None


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "benchmark" and "data" in relative.parts:
            continue  # benchmark programs, not package code
        part = relative.parts[0].removesuffix(".py")
        if part != "__init__":
            out.append((part, path))
    return out


def test_the_package_root_holds_only_the_layers():
    entries = sorted(p.name for p in PACKAGE.iterdir() if p.name != "__pycache__")
    assert entries == sorted(
        [
            "__init__.py",
            "assets",
            "benchmark",
            "cli",
            "definitions.py",
            "domain",
            "model",
            "orchestration",
            "pipeline",
            "reporting",
            "resources",
            "sensors",
        ]
    )


def test_imports_point_down_only():
    wrong = []
    for part, path in _modules():
        for line, module in _imports(path):
            target = _part(module)
            if target is None or target == part:
                continue
            same_engine_layer = part in ENGINES and target in ENGINES
            if LAYER[target] > LAYER[part] or (
                LAYER[target] == LAYER[part]
                and not (
                    same_engine_layer or (part in {"assets", "sensors"} and target == "resources")
                )
            ):
                wrong.append(f"{path.relative_to(REPO)}:{line}: {part} imports {module}")
    assert wrong == []


@pytest.mark.parametrize(
    ("layer", "banned"),
    [
        ("domain", {"dagster", "torch", "transformers", "peft", "pandas", "matplotlib"}),
        ("pipeline", {"dagster"}),
        ("reporting", {"dagster", "torch"}),
        ("benchmark", {"dagster", "torch"}),
    ],
)
def test_layers_do_not_import_the_frameworks_above_them(layer, banned):
    wrong = [
        f"{path.relative_to(REPO)}:{line}: {module}"
        for part, path in _modules()
        if part == layer
        for line, module in _imports(path)
        if module.split(".")[0] in banned
    ]
    assert wrong == []


def test_importing_the_pipeline_loads_no_dagster():
    code = (
        "import importlib, pkgutil, sys\n"
        "import coral_dagster.pipeline as p\n"
        "for m in pkgutil.iter_modules(p.__path__):\n"
        "    importlib.import_module(f'coral_dagster.pipeline.{m.name}')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'dagster'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "[]"


def test_no_dagster_internals_anywhere_in_the_product():
    private = re.compile(r"^\s*(from|import)\s+dagster(_k8s|_webserver)?\._", re.M)
    offenders = [
        str(path.relative_to(REPO))
        for root in ("coral_dagster", "bench", "scripts")
        for path in (REPO / root).rglob("*.py")
        if private.search(path.read_text())
    ]
    assert offenders == []
