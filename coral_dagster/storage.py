"""Artifact store: content-addressed files on any ``universal_pathlib`` URL (default: a folder).

Layout under ``root``::

    experiment.json                      the experiment this store belongs to (id + name)
    problems/<split_fingerprint>.json    problem split
    populations/g0000.json               genomes of generation 0 (records with keys and knobs)
    adapter_specs/<adapter_key>.json     heavy genes + inputs of an adapter key
    genome_specs/<genome_key>.json       genome, knobs, adapter key of a genome key
    adapters/<adapter_key>/              adapter_config.json, adapter_model.safetensors,
                                         training.json, MANIFEST.json (sha256 + size of every
                                         other file, written last)
    generated/<genome_key>.json          raw output + extracted program per validation problem
    scores/<genome_key>.json             per-test verdicts and objective scores
    heldout/g0001.json                   held-out evaluation of the final generation
    reports/g0000/                       evolution report: report.json, report.md, PNG plots
    training_log.jsonl                   a line per adapter training (exactly-once audit)

Writes are atomic: a file is written under a temporary name and renamed; an adapter directory is
valid only when its ``MANIFEST.json`` exists and every checksum matches, and the manifest is
written last. A killed run never leaves a half-written artifact that looks valid.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from upath import UPath

from coral_dagster.domain.hashing import normalize

MANIFEST = "MANIFEST.json"


class ArtifactMissing(FileNotFoundError):
    """An upstream artifact that must exist does not (no silent fallback)."""


class ArtifactCorrupt(ValueError):
    """An artifact exists but fails its checksum: it must be rebuilt, never loaded."""


def sha256_file(path: Path | UPath, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class ArtifactStore:
    """Content-addressed artifacts under ``root`` (a local path or any fsspec URL)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = UPath(root)
        self.root.mkdir(parents=True, exist_ok=True)

    @property
    def is_local(self) -> bool:
        return self.root.protocol in ("", "file", "local")

    def path(self, *parts: str) -> UPath:
        return self.root.joinpath(*parts)

    # ---- JSON documents -------------------------------------------------------------------
    def write_json(self, relpath: str, obj: Any) -> UPath:
        """Write ``obj`` as JSON atomically (temp name + rename); returns the final path."""
        target = self.path(relpath)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(normalize(obj), indent=1, sort_keys=True))
        tmp.rename(target)
        return target

    def read_json(self, relpath: str, what: str | None = None) -> Any:
        target = self.path(relpath)
        if not target.exists():
            raise ArtifactMissing(f"missing artifact {what or relpath}: {target}")
        return json.loads(target.read_text())

    def exists(self, relpath: str) -> bool:
        return self.path(relpath).exists()

    def append_line(self, relpath: str, obj: Any) -> None:
        """Append one JSON line (used for audit logs; a line is written with one write call)."""
        target = self.path(relpath)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a") as fh:
            fh.write(json.dumps(normalize(obj), sort_keys=True) + "\n")

    def read_lines(self, relpath: str) -> list[Any]:
        target = self.path(relpath)
        if not target.exists():
            return []
        return [json.loads(line) for line in target.read_text().splitlines() if line.strip()]

    # ---- directories with a manifest ---------------------------------------------------------
    def publish_dir(self, local_dir: Path, relpath: str) -> dict[str, Any]:
        """Copy ``local_dir``'s files into the store at ``relpath`` and write the manifest last.

        Returns the manifest: ``{"files": {name: {"sha256": ..., "bytes": ...}}}``.
        """
        target = self.path(relpath)
        if target.exists():
            shutil.rmtree(target) if self.is_local else target.rmdir(recursive=True)
        target.mkdir(parents=True, exist_ok=True)
        files = {}
        for src in sorted(p for p in Path(local_dir).iterdir() if p.is_file()):
            if src.name == MANIFEST:
                continue
            dst = target / src.name
            tmp = target / f".{src.name}.{uuid.uuid4().hex}.tmp"
            with src.open("rb") as fin, tmp.open("wb") as fout:
                shutil.copyfileobj(fin, fout)
            tmp.rename(dst)
            files[src.name] = {"sha256": sha256_file(src), "bytes": src.stat().st_size}
        manifest = {"files": files}
        self.write_json(f"{relpath}/{MANIFEST}", manifest)
        return manifest

    def verify_dir(self, relpath: str) -> dict[str, Any]:
        """Check every file of a published directory against its manifest.

        Raises ``ArtifactMissing`` when the directory or its manifest is absent (never finished)
        and ``ArtifactCorrupt`` naming the file whose size or checksum differs.
        """
        target = self.path(relpath)
        manifest_path = target / MANIFEST
        if not manifest_path.exists():
            raise ArtifactMissing(f"artifact {relpath} is absent or was never completed ({target})")
        manifest = json.loads(manifest_path.read_text())
        for name, meta in manifest["files"].items():
            f = target / name
            if not f.exists():
                raise ArtifactCorrupt(
                    f"artifact {relpath}: file {name} listed in manifest is missing"
                )
            if f.stat().st_size != meta["bytes"] or sha256_file(f) != meta["sha256"]:
                raise ArtifactCorrupt(f"artifact {relpath}: checksum mismatch for {name}")
        return manifest

    def is_valid_dir(self, relpath: str) -> bool:
        try:
            self.verify_dir(relpath)
        except (ArtifactMissing, ArtifactCorrupt):
            return False
        return True

    def local_copy(self, relpath: str, cache_dir: Path) -> Path:
        """A local directory with the artifact's files (the store itself when it is local)."""
        self.verify_dir(relpath)
        if self.is_local:
            return Path(self.path(relpath).path)
        dest = cache_dir / relpath
        if not (dest / MANIFEST).exists():
            tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}")
            tmp.mkdir(parents=True)
            for f in self.path(relpath).iterdir():
                with f.open("rb") as fin, (tmp / f.name).open("wb") as fout:
                    shutil.copyfileobj(fin, fout)
            try:
                tmp.rename(dest)
            except OSError:
                # Another process published the same copy first; keep theirs, drop ours.
                if not (dest / MANIFEST).exists():
                    raise
                shutil.rmtree(tmp)
        return dest

    # ---- locks ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, name: str, lock_dir: Path) -> Iterator[None]:
        """An exclusive inter-process lock (``fcntl.flock`` on a local file under ``lock_dir``).

        Guards work that must happen once per key (adapter training) against concurrent runs on
        one machine; on Kubernetes the planner and Dagster's run keys dedupe first.
        """
        lock_dir.mkdir(parents=True, exist_ok=True)
        with (lock_dir / f"{name}.lock").open("w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
