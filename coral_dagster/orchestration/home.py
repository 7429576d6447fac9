"""Where a CORAL experiment lives on disk: ``CORAL_HOME`` (default ``./.coral``).

$CORAL_HOME/experiment.yaml   the experiment config in effect (one experiment per home)
$CORAL_HOME/dagster/          DAGSTER_HOME: the SQLite Dagster instance (dagster.yaml) and
                              workspace.yaml, the code location `coral` that `coral ui` serves
$CORAL_HOME/artifacts/        the artifact store (unless CORAL_ARTIFACT_ROOT points elsewhere)
$CORAL_HOME/cache/            converted base models, local adapter copies, locks
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dagster import DagsterInstance

from coral_dagster.domain.config import ExperimentConfig, load_config
from coral_dagster.pipeline.inputs import experiment_id
from coral_dagster.pipeline.store import ArtifactStore

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "quick.yaml"
CONFIG_FILE = "experiment.yaml"
# The code location's name wherever CORAL serves it (pyproject's [tool.dagster], the repository's
# workspace.yaml, the workspace `coral ui` writes); runs record it (see runs.REPOSITORY_LABEL).
LOCATION_NAME = "coral"
CODE_MODULE = "coral_dagster.definitions"
INSTANCE_YAML = "telemetry:\n  enabled: false\n"
WORKSPACE_YAML = (
    "load_from:\n"
    "  - python_module:\n"
    f"      module_name: {CODE_MODULE}\n"
    f"      location_name: {LOCATION_NAME}\n"
)


class HomeError(Exception):
    """A home that cannot be used as it is; the message is one line saying why."""


class HomeMismatch(HomeError, ValueError):
    """The home already holds a different experiment."""


class HomeNotWritable(HomeError):
    """The home (or its Dagster instance) is read-only."""


def require_writable(path: Path, what: str) -> None:
    """``HomeNotWritable`` naming ``path`` unless this process may write there."""
    if path.exists() and not os.access(path, os.W_OK):
        raise HomeNotWritable(
            f"{path} is not writable: {what}; make it writable, or copy the home "
            "(cp -a) and pass the copy as --home"
        )


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
    recorded = home / CONFIG_FILE
    if recorded.is_file():
        return recorded
    return Path(os.environ.get("CORAL_CONFIG") or DEFAULT_CONFIG)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` for the duration of the block."""
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@dataclass(frozen=True)
class Home:
    """An experiment's folder: config copy, Dagster instance, artifact store, caches."""

    path: Path

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def lock_dir(self) -> Path:
        return cache_dir(self.path) / "locks"

    def config(self) -> ExperimentConfig:
        return load_config(self.config_path)

    def store(self) -> ArtifactStore:
        return ArtifactStore(artifact_root(self.path))

    @property
    def dagster_home(self) -> Path:
        return dagster_home(self.path)

    @property
    def workspace_path(self) -> Path:
        return self.dagster_home / "workspace.yaml"

    def prepare_dagster_home(self) -> Path:
        """Create ``<home>/dagster`` with its ``dagster.yaml`` (telemetry off) and a
        ``workspace.yaml`` that loads the code location ``coral``; returns the folder. Files
        that exist are left as they are (a user may have edited them)."""
        dh = self.dagster_home
        dh.mkdir(parents=True, exist_ok=True)
        for name, text in (("dagster.yaml", INSTANCE_YAML), ("workspace.yaml", WORKSPACE_YAML)):
            target = dh / name
            if not target.exists():
                tmp = dh / f".{name}.{uuid.uuid4().hex}"
                tmp.write_text(text)
                tmp.rename(target)
        return dh

    def instance(self) -> DagsterInstance:
        """The persistent SQLite instance in ``<home>/dagster`` (sets ``DAGSTER_HOME``).

        Opened under an exclusive lock: the first open creates the SQLite schemas, and two
        processes creating them at once collide.
        """
        dh = self.dagster_home
        dh.mkdir(parents=True, exist_ok=True)
        require_writable(dh, "Dagster's SQLite instance needs write access, even to be read")
        with _locked(dh / ".instance.lock"):
            self.prepare_dagster_home()
            os.environ["DAGSTER_HOME"] = str(dh)
            return DagsterInstance.get()


def prepare_home(config_file: Path, home_dir: Path) -> Home:
    """Record ``config_file`` as the home's experiment (a different one there is an error).

    Atomic under concurrency: the check and the write happen under an exclusive lock on
    ``<home>/.experiment.lock``, and the copy is written to a unique temporary name and renamed,
    so two drivers starting together agree on one config and the loser gets ``HomeMismatch``.
    """
    home = Home(home_dir.resolve())
    config = load_config(config_file)
    text = Path(config_file).read_text(encoding="utf-8")
    home.path.mkdir(parents=True, exist_ok=True)
    require_writable(home.path, "the experiment home is where the evolution writes")
    with _locked(home.path / ".experiment.lock"):
        if home.config_path.exists():
            recorded = home.config()
            if experiment_id(recorded) != experiment_id(config):
                raise HomeMismatch(
                    f"{home.path} already holds experiment {recorded.name!r} "
                    f"({experiment_id(recorded)}); {config_file} is a different config "
                    f"({experiment_id(config)}): use another --home"
                )
        else:
            tmp = home.path / f".{CONFIG_FILE}.{uuid.uuid4().hex}"
            tmp.write_text(text, encoding="utf-8")
            tmp.rename(home.config_path)
    os.environ["CORAL_HOME"] = str(home.path)
    return home
