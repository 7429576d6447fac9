"""The reporting engine and the held-out statistics stay below the Dagster/torch layers."""

from __future__ import annotations

import subprocess
import sys


def _modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    return {name.split(".")[0] for name in out.stdout.split()}


def test_reporting_imports_neither_dagster_nor_torch() -> None:
    loaded = _modules_after_import("coral_dagster.reporting")
    assert {"dagster", "torch", "transformers", "peft"} & loaded == set()


def test_heldout_statistics_are_pure() -> None:
    loaded = _modules_after_import("coral_dagster.domain.heldout")
    assert {"dagster", "torch", "transformers", "peft", "matplotlib"} & loaded == set()
