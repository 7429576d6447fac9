import subprocess
import sys

from domain_helpers import REPO

CHECK = """
import importlib, pkgutil, sys
import coral_dagster.domain as domain
for info in pkgutil.iter_modules(domain.__path__):
    importlib.import_module(f"coral_dagster.domain.{info.name}")
heavy = {"dagster", "torch", "transformers", "peft"}
banned = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
print(",".join(banned))
"""


def test_domain_imports_neither_dagster_nor_torch():
    result = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
