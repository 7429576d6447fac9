"""The ``training_corpus`` stage: the injected-bug corpus as a Hugging Face ``datasets.Dataset``.

The corpus is a deterministic function of its recipe: the train split's problems, the corpus
settings and ``INJECTOR_VERSION`` (``benchmark.corpus``). Its fingerprint,

    corpus_fingerprint = SHA-256(canonical JSON of the recipe),

is computed without building it, so the adapter keys of generation 0 are known before the
corpus is built (``coral population``), and it enters every adapter key. The built dataset is
written with ``Dataset.save_to_disk`` into the store at ``corpus/<fingerprint>/`` under a
checksum manifest; training loads it back with ``datasets.load_from_disk``.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coral_dagster.benchmark.corpus import (
    CHECK_TIMEOUT_SECONDS,
    INJECTOR_VERSION,
    BugPair,
    inject_bugs,
)
from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.benchmark.problems import ProblemSet
from coral_dagster.benchmark.splits import Split
from coral_dagster.domain.config import CorpusConfig, SandboxConfig
from coral_dagster.domain.hashing import content_hash
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.store import ArtifactStore

COLUMNS = (
    "program",
    "origin",
    "operator",
    "buggy_source",
    "fixed_source",
    "hunk_start",
    "hunk_count",
    "fixed_lines",
)


def corpus_sandbox(sandbox: SandboxConfig) -> SandboxConfig:
    """The sandbox settings of the corpus check: the experiment's, with a per-test wall clock
    of at most ``CHECK_TIMEOUT_SECONDS`` (timeouts decide nothing there)."""
    timeout = min(sandbox.timeout_seconds, CHECK_TIMEOUT_SECONDS)
    return sandbox.model_copy(update={"timeout_seconds": timeout})


def corpus_fingerprint(problem_set: ProblemSet, split: Split, corpus: CorpusConfig) -> str:
    """SHA-256 of the corpus recipe: train programs, support modules, settings, injector."""
    return content_hash(
        {
            "train": [[n, problem_set.problems[n].fingerprint()] for n in split.train],
            "support": dict(problem_set.support_files),
            "corpus": corpus.model_dump(mode="json"),
            "injector": INJECTOR_VERSION,
        }
    )


@dataclass(frozen=True)
class CorpusSummary:
    """What the stored corpus holds: pairs per origin, operator and program."""

    fingerprint: str
    pairs: int
    by_origin: dict[str, int]
    by_operator: dict[str, int]
    by_program: dict[str, int]
    cached: bool


def _summary(fingerprint: str, rows: list[dict[str, Any]], cached: bool) -> CorpusSummary:
    return CorpusSummary(
        fingerprint=fingerprint,
        pairs=len(rows),
        by_origin=dict(Counter(r["origin"] for r in rows)),
        by_operator=dict(sorted(Counter(r["operator"] for r in rows).items())),
        by_program=dict(sorted(Counter(r["program"] for r in rows).items())),
        cached=cached,
    )


def ensure_corpus(
    store: ArtifactStore,
    problem_set: ProblemSet,
    split: Split,
    corpus: CorpusConfig,
    evaluator: Evaluator,
    local_cache: Path,
) -> CorpusSummary:
    """Build and store the corpus unless a valid copy is stored; its summary either way.
    ``evaluator`` should run with ``corpus_sandbox(config)`` limits."""
    import datasets

    fingerprint = corpus_fingerprint(problem_set, split, corpus)
    relpath = layout.corpus_dir(fingerprint)
    if store.is_valid_dir(relpath):
        return _summary(fingerprint, load_corpus(store, fingerprint, local_cache), cached=True)
    pairs = inject_bugs(
        problem_set, split.train, corpus.mutants_per_program, corpus.seed, evaluator
    )
    rows = [pair.to_dict() for pair in pairs]
    with tempfile.TemporaryDirectory(prefix="coral-corpus-") as tmp:
        datasets.Dataset.from_list(rows).save_to_disk(tmp)
        store.publish_dir(Path(tmp), relpath)
    return _summary(fingerprint, rows, cached=False)


def load_corpus(store: ArtifactStore, fingerprint: str, local_cache: Path) -> list[dict[str, Any]]:
    """The stored corpus's rows (verified against its manifest first)."""
    import datasets

    local = store.local_copy(layout.corpus_dir(fingerprint), local_cache)
    dataset = datasets.load_from_disk(str(local))
    missing = sorted(set(COLUMNS) - set(dataset.column_names))
    if missing:
        raise ValueError(f"corpus {fingerprint[:12]} lacks columns {missing}")
    return dataset.to_list()


def as_pairs(rows: list[dict[str, Any]]) -> list[BugPair]:
    return [BugPair(**{**r, "fixed_lines": tuple(r["fixed_lines"])}) for r in rows]
