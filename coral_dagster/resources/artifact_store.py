"""The artifact store resource: where adapters, generated code, scores and populations live."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from coral_dagster.pipeline.store import ArtifactStore


class ArtifactStoreResource(ConfigurableResource):
    """Where artifacts live. `root`: a local folder or any `universal_pathlib` URL
    (`s3://bucket/coral`, ...); `local_dir`: a local folder for locks and local copies of remote
    artifacts.
    """

    root: str
    local_dir: str

    def store(self) -> ArtifactStore:
        return ArtifactStore(self.root)

    @property
    def lock_dir(self) -> Path:
        return Path(self.local_dir) / "locks"

    @property
    def adapter_cache(self) -> Path:
        return Path(self.local_dir) / "adapters"
