"""Where a CORAL experiment lives on disk: ``CORAL_HOME`` (default ``./.coral``).

$CORAL_HOME/experiment.yaml   the experiment config in effect (one experiment per home)
$CORAL_HOME/dagster/          DAGSTER_HOME: the SQLite Dagster instance
$CORAL_HOME/artifacts/        the artifact store (unless CORAL_ARTIFACT_ROOT points elsewhere)
$CORAL_HOME/cache/            converted base models, local adapter copies, locks
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "quick.yaml"


def coral_home() -> Path:
    return Path(os.environ.get("CORAL_HOME", ".coral")).resolve()


def dagster_home(home: Path) -> Path:
    return home / "dagster"


def artifact_root(home: Path) -> str:
    return os.environ.get("CORAL_ARTIFACT_ROOT") or str(home / "artifacts")


def cache_dir(home: Path) -> Path:
    return Path(os.environ.get("CORAL_CACHE_DIR") or home / "cache")


def experiment_config_path(home: Path) -> Path:
    """The home's recorded experiment config, else ``CORAL_CONFIG``, else configs/quick.yaml."""
    recorded = home / "experiment.yaml"
    if recorded.is_file():
        return recorded
    return Path(os.environ.get("CORAL_CONFIG") or DEFAULT_CONFIG)
