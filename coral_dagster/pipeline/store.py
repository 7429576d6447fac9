"""Artifact store: content-addressed files on any ``universal_pathlib`` URL (default: a folder).

Paths come from ``coral_dagster.pipeline.layout``. Typed records (``records``) are written with
``write_record`` and read with ``read_record``: each file is a JSON envelope
``{"kind": ..., "sha256": SHA-256 of the canonical JSON of data, "data": {...}}``, and every read
checks the kind, the checksum and the record's shape, so a truncated or hand-edited file is an
``ArtifactCorrupt`` error naming the file, never data.

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
from typing import Any, TypeVar

from upath import UPath

from coral_dagster.domain.hashing import content_hash, normalize
from coral_dagster.pipeline.layout import MANIFEST
from coral_dagster.pipeline.records import RecordError

R = TypeVar("R")


class ArtifactMissing(FileNotFoundError):
    """An upstream artifact that must exist does not (no silent fallback). ``path``: the file
    (or directory) that is missing."""

    def __init__(self, message: str, path: str = ""):
        super().__init__(message)
        self.path = path
        self.problem = "missing"

    def __str__(self) -> str:
        return str(self.args[0])


class ArtifactCorrupt(ValueError):
    """An artifact exists but is unreadable or fails its checksum: rebuild it, never load it.
    ``path``: the file at fault; ``problem``: what is wrong with it; the message is both."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def envelope(record: Any) -> dict[str, Any]:
    """The stored form of a record: kind, checksum of the canonical data, data."""
    data = normalize(record.to_dict())
    return {"kind": record.kind, "sha256": content_hash(data), "data": data}


def write_record_file(path: Path, record: Any) -> None:
    """Write a record's envelope to a local file (for directories published with a manifest)."""
    path.write_text(json.dumps(envelope(record), indent=1, sort_keys=True))


def unwrap(text: str, cls: type[R], where: str) -> R:
    """Parse an envelope written by ``envelope`` into ``cls``; ``ArtifactCorrupt`` naming
    ``where`` when it is not JSON, has another kind, fails its checksum or its shape."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise ArtifactCorrupt(where, f"not valid JSON ({err})") from None
    if not isinstance(doc, dict) or set(doc) != {"kind", "sha256", "data"}:
        raise ArtifactCorrupt(where, "not a CORAL artifact (expected kind, sha256, data)")
    if doc["kind"] != cls.kind:  # type: ignore[attr-defined]
        raise ArtifactCorrupt(where, f"holds a {doc['kind']!r}, expected {cls.kind!r}")  # type: ignore[attr-defined]
    try:
        digest = content_hash(doc["data"])
    except (TypeError, ValueError, RecursionError) as err:
        raise ArtifactCorrupt(where, f"data is not canonical JSON ({err})") from None
    if digest != doc["sha256"]:
        raise ArtifactCorrupt(where, "checksum mismatch (the file was changed after writing)")
    try:
        return cls.from_dict(doc["data"])  # type: ignore[attr-defined]
    except (RecordError, TypeError, ValueError, KeyError, AttributeError) as err:
        raise ArtifactCorrupt(where, str(err)) from None


def read_text(path: Path | UPath) -> str:
    """A stored file's text; ``ArtifactCorrupt`` naming it when it is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ArtifactCorrupt(
            str(path), f"not UTF-8 text ({err.reason} at byte {err.start})"
        ) from None


def manifest_entries(text: str, where: str) -> dict[str, tuple[str, int]]:
    """``{file name: (sha256, bytes)}`` of a ``MANIFEST.json``; ``ArtifactCorrupt`` naming
    ``where`` unless it is exactly ``{"files": {name: {"sha256": hex, "bytes": int}}}`` with
    plain file names."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise ArtifactCorrupt(where, f"not valid JSON ({err})") from None
    if not isinstance(doc, dict) or set(doc) != {"files"} or not isinstance(doc["files"], dict):
        raise ArtifactCorrupt(where, 'not a manifest (expected {"files": {...}})')
    entries = {}
    for name, meta in doc["files"].items():
        plain = name and "/" not in name and "\\" not in name and name not in (".", "..")
        if not plain or name == MANIFEST:
            raise ArtifactCorrupt(where, f"bad file name {name!r}")
        if (
            not isinstance(meta, dict)
            or set(meta) != {"sha256", "bytes"}
            or not isinstance(meta["sha256"], str)
            or len(meta["sha256"]) != 64
            or isinstance(meta["bytes"], bool)
            or not isinstance(meta["bytes"], int)
            or meta["bytes"] < 0
        ):
            raise ArtifactCorrupt(where, f"bad entry for {name!r} (expected sha256 and bytes)")
        entries[name] = (meta["sha256"], meta["bytes"])
    return entries


def sha256_file(path: Path | UPath, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


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

    # ---- typed records -----------------------------------------------------------------------
    def _write_text(self, relpath: str, text: str) -> UPath:
        """Write ``text`` atomically (temp name + rename); returns the final path."""
        target = self.path(relpath)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(text)
        tmp.rename(target)
        return target

    def write_record(self, record: Any, key: Any = None) -> UPath:
        """Write ``record`` at ``type(record).relpath(key)``; returns the path."""
        return self._write_text(
            record.relpath(key), json.dumps(envelope(record), indent=1, sort_keys=True)
        )

    def read_record(self, cls: type[R], key: Any = None) -> R:
        """The ``cls`` record stored for ``key``, verified (``ArtifactMissing`` /
        ``ArtifactCorrupt`` naming the file otherwise)."""
        relpath = cls.relpath(key)  # type: ignore[attr-defined]
        target = self.path(relpath)
        if not target.exists():
            raise ArtifactMissing(f"missing {cls.kind} ({relpath}): {target}", str(target))  # type: ignore[attr-defined]
        return unwrap(read_text(target), cls, str(target))

    def has_record(self, cls: type, key: Any = None) -> bool:
        return self.path(cls.relpath(key)).exists()  # type: ignore[attr-defined]

    def exists(self, relpath: str) -> bool:
        return self.path(relpath).exists()

    def append_line(self, relpath: str, obj: Any) -> None:
        """Append one JSON line (used for audit logs; a line is written with one write call)."""
        target = self.path(relpath)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a") as fh:
            fh.write(json.dumps(normalize(obj), sort_keys=True) + "\n")

    def read_lines(self, relpath: str) -> list[Any]:
        """The JSON lines of an audit log ([] when there is none); a line that is not JSON (a
        write cut short by a kill or a full disk) is ``ArtifactCorrupt`` naming the line."""
        target = self.path(relpath)
        if not target.exists():
            return []
        rows = []
        for number, line in enumerate(read_text(target).splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ArtifactCorrupt(
                    str(target),
                    f"line {number} is not JSON ({err.msg}; a write cut short?): delete that "
                    "line, the log is an audit trail that nothing is computed from",
                ) from None
        return rows

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
        self._write_text(f"{relpath}/{MANIFEST}", json.dumps(manifest, indent=1, sort_keys=True))
        return manifest

    def verify_dir(self, relpath: str) -> dict[str, Any]:
        """Check every file of a published directory against its manifest.

        Raises ``ArtifactMissing`` when the directory or its manifest is absent (never finished)
        and ``ArtifactCorrupt`` naming the file at fault: a manifest that is not one (truncated,
        hand-edited), a listed file that is missing or whose size or checksum differs, or a file
        the manifest does not list.
        """
        target = self.path(relpath)
        manifest_path = target / MANIFEST
        if not manifest_path.exists():
            raise ArtifactMissing(
                f"artifact {relpath} is absent or was never completed ({target})", str(target)
            )
        entries = manifest_entries(read_text(manifest_path), str(manifest_path))
        for name, (digest, size) in entries.items():
            f = target / name
            if not f.exists():
                raise ArtifactCorrupt(str(f), f"listed in {MANIFEST} of {relpath} but missing")
            if f.stat().st_size != size or sha256_file(f) != digest:
                raise ArtifactCorrupt(str(f), f"checksum mismatch for {name} (artifact {relpath})")
        extra = sorted(
            f.name
            for f in target.iterdir()
            if f.name != MANIFEST and f.name not in entries and not f.name.startswith(".")
        )
        if extra:
            raise ArtifactCorrupt(str(manifest_path), f"does not list {', '.join(extra)}")
        return {"files": {n: {"sha256": d, "bytes": b} for n, (d, b) in entries.items()}}

    def signature(self, relpath: str) -> tuple | None:
        """What changes whenever a local file's content (or a directory's files') can have
        changed: (inode, bytes, mtime_ns, ctime_ns) of the file, or of each file of the
        directory by name. None for a remote store or a missing path."""
        if not self.is_local:
            return None
        target = Path(self.path(relpath).path)
        try:
            if target.is_dir():
                return tuple(
                    (entry.name, *_identity(entry.stat()))
                    for entry in sorted(os.scandir(target), key=lambda e: e.name)
                )
            return _identity(target.stat())
        except FileNotFoundError:
            return None

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
