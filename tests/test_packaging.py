"""Installed distribution: pinned Dagster versions and a working ``coral`` entry point."""

import shutil
import subprocess
from importlib.metadata import version


def test_dagster_versions_are_the_pinned_trio():
    import dagster
    import dagster_k8s

    assert dagster_k8s.__version__.startswith("0.29.")
    assert version("dagster-k8s").startswith("0.29.")
    assert dagster.__version__ == "1.13.27"
    assert version("dagster") == "1.13.27"


def test_coral_console_script_shows_help():
    exe = shutil.which("coral")
    assert exe is not None, "the `coral` console script is not installed (pip install -e .)"
    result = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Usage: coral" in result.stdout
    for command in ("validate-config", "population"):
        assert command in result.stdout
