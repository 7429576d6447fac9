"""The artifact store: atomic writes, manifests with checksums, corruption detection, locks."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from coral_dagster.pipeline import layout
from coral_dagster.pipeline.records import ExperimentBinding
from coral_dagster.pipeline.store import ArtifactCorrupt, ArtifactMissing, ArtifactStore


def test_record_round_trip_leaves_no_temp_files(tmp_path: Path):
    store = ArtifactStore(tmp_path / "store")
    binding = ExperimentBinding(experiment_id="abc", name="quick")
    store.write_record(binding)
    assert store.read_record(ExperimentBinding) == binding
    assert [p.name for p in (tmp_path / "store").iterdir()] == ["experiment.json"]


def test_missing_artifact_error_names_it(tmp_path: Path):
    store = ArtifactStore(tmp_path)
    with pytest.raises(ArtifactMissing, match=r"missing experiment \(experiment.json\)"):
        store.read_record(ExperimentBinding)


def _publish(tmp_path: Path, store: ArtifactStore) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "adapter_model.safetensors").write_bytes(b"\x00weights" * 100)
    (src / "adapter_config.json").write_text('{"r": 8}')
    store.publish_dir(src, layout.adapter_dir("k1"))


def test_published_dir_verifies(tmp_path: Path):
    store = ArtifactStore(tmp_path / "store")
    _publish(tmp_path, store)
    manifest = store.verify_dir(layout.adapter_dir("k1"))
    assert set(manifest["files"]) == {"adapter_model.safetensors", "adapter_config.json"}
    assert store.is_valid_dir(layout.adapter_dir("k1"))


def test_corrupted_file_is_detected(tmp_path: Path):
    store = ArtifactStore(tmp_path / "store")
    _publish(tmp_path, store)
    weights = tmp_path / "store" / "adapters" / "k1" / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[3] ^= 0xFF  # same size, different content
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactCorrupt, match=r"checksum mismatch for adapter_model\.safetensors"):
        store.verify_dir(layout.adapter_dir("k1"))
    assert not store.is_valid_dir(layout.adapter_dir("k1"))


def test_half_written_dir_without_manifest_is_not_valid(tmp_path: Path):
    store = ArtifactStore(tmp_path / "store")
    half = tmp_path / "store" / "adapters" / "k2"
    half.mkdir(parents=True)
    (half / "adapter_model.safetensors").write_bytes(b"partial")
    with pytest.raises(ArtifactMissing, match="never completed"):
        store.verify_dir(layout.adapter_dir("k2"))


def _hold_lock(root: str, lock_dir: str, log: str, tag: str) -> None:
    store = ArtifactStore(root)
    with store.lock("adapter-x", Path(lock_dir)):
        with open(log, "a") as fh:
            fh.write(f"start {tag}\n")
        time.sleep(0.3)
        with open(log, "a") as fh:
            fh.write(f"end {tag}\n")


def test_lock_excludes_other_processes(tmp_path: Path):
    log = tmp_path / "log.txt"
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_hold_lock, args=(str(tmp_path / "s"), str(tmp_path / "l"), str(log), t))
        for t in "ab"
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    # start/end pairs never interleave: start X, end X, start Y, end Y
    events = log.read_text().splitlines()
    assert [e.split()[0] for e in events] == ["start", "end", "start", "end"]
    assert events[0].split()[1] == events[1].split()[1]
    assert events[2].split()[1] == events[3].split()[1]


def test_a_store_is_bound_to_one_experiment(tmp_path: Path):
    from coral_dagster.pipeline.population import bind_experiment

    store = ArtifactStore(tmp_path / "store")
    bind_experiment(store, "abc123", "quick")
    bind_experiment(store, "abc123", "quick")  # the same experiment again: fine
    with pytest.raises(ValueError, match=r"belongs to experiment 'quick' \(abc123\), not 'other'"):
        bind_experiment(store, "def456", "other")


@pytest.mark.parametrize(
    ("manifest", "problem"),
    [
        ('{"files": {"adapter_model.safetensors": {"sha2', "not valid JSON"),
        ('{"files": {"adapter_model.safetensors": 5}}', "bad entry for 'adapter_model"),
        ('{"files": {"adapter_model.safetensors": {"sha256": 1, "bytes": 2}}}', "bad entry"),
        ('{"files": {"../../x": {"sha256": "' + "0" * 64 + '", "bytes": 1}}}', "bad file name"),
        ('{"files": []}', "not a manifest"),
        ("[]", "not a manifest"),
        ('{"files": {}}', "does not list adapter_config.json, adapter_model.safetensors"),
    ],
)
def test_a_manifest_that_is_not_one_is_corrupt_and_named(
    tmp_path: Path, manifest: str, problem: str
):
    """Truncated, hand-edited or emptied: an ArtifactCorrupt naming MANIFEST.json, never a
    TypeError (which once crashed every resume) and never an adapter taken as valid."""
    store = ArtifactStore(tmp_path / "store")
    _publish(tmp_path, store)
    path = tmp_path / "store" / "adapters" / "k1" / "MANIFEST.json"
    path.write_text(manifest)
    with pytest.raises(ArtifactCorrupt, match=problem) as raised:
        store.verify_dir("adapters/k1")
    assert raised.value.path == str(path)
    assert not store.is_valid_dir("adapters/k1")


def test_a_record_that_is_not_utf8_is_corrupt_and_named(tmp_path: Path):
    store = ArtifactStore(tmp_path / "store")
    store.write_record(ExperimentBinding(experiment_id="abc", name="quick"))
    path = tmp_path / "store" / "experiment.json"
    path.write_bytes(b'{"kind": "experiment", "data": "\xe9"}')
    with pytest.raises(ArtifactCorrupt, match="not UTF-8") as raised:
        store.read_record(ExperimentBinding)
    assert raised.value.path == str(path)
