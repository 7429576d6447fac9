"""``integrity``'s verification shortcut: an artifact that verified and has not changed since is
not hashed again, and any change (same size included) is verified afresh."""

from __future__ import annotations

import json
from pathlib import Path

from coral_dagster.orchestration.integrity import check_dir, check_record
from coral_dagster.pipeline.records import Scores
from coral_dagster.pipeline.scoring import failed_scores
from coral_dagster.pipeline.store import ArtifactStore

KEY = "ab" * 32


class CountingStore(ArtifactStore):
    """A real store that counts the verifying reads."""

    reads = 0

    def read_record(self, cls, key=None):
        CountingStore.reads += 1
        return super().read_record(cls, key)


def test_an_unchanged_record_is_verified_once_and_a_same_size_edit_is_caught(tmp_path: Path):
    store = CountingStore(tmp_path / "store")
    path = Path(store.write_record(failed_scores(KEY, "boom"), KEY).path)
    CountingStore.reads = 0
    assert check_record(store, Scores, KEY) is None
    assert check_record(store, Scores, KEY) is None
    assert CountingStore.reads == 1

    doc = json.loads(path.read_text())
    doc["data"]["reason"] = "bang"  # same length, checksum left as it was
    path.write_text(json.dumps(doc, indent=1, sort_keys=True))
    problem = check_record(store, Scores, KEY)
    assert problem is not None and problem[0] == str(path) and "checksum" in problem[1]
    assert CountingStore.reads == 2
    assert check_record(store, Scores, KEY) is not None  # damage is never remembered as good


def test_a_published_directory_is_verified_again_after_one_of_its_files_changes(tmp_path: Path):
    store = ArtifactStore(tmp_path / "store")
    local = tmp_path / "local"
    local.mkdir()
    (local / "report.md").write_text("# report\n")
    store.publish_dir(local, "reports/g0000")
    assert check_dir(store, "reports/g0000") is None
    published = Path(store.path("reports/g0000/report.md").path)
    published.write_text("# rep0rt\n")
    problem = check_dir(store, "reports/g0000")
    assert problem is not None and problem[0] == str(published)
