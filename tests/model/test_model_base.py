"""Base model: resolution, fingerprints, atomic one-time builds, loading."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from coral_dagster.model.base_model import (
    EMBEDDED_SPEC,
    TINY_RANDOM_SPEC,
    ResolvedBaseModel,
    _build_once,
    base_model_fingerprint,
    cut_after_stop,
    load_model_and_tokenizer,
    resolve_base_model,
    resolve_dtype,
)


def test_tiny_random_checkpoint_is_complete_and_keyed_by_fingerprint(
    tiny_base: ResolvedBaseModel,
) -> None:
    assert tiny_base.spec == TINY_RANDOM_SPEC
    assert tiny_base.model_id == base_model_fingerprint(TINY_RANDOM_SPEC)
    assert tiny_base.path.name == f"tiny-random-{tiny_base.model_id[:16]}"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"):
        assert (tiny_base.path / name).is_file(), name
    config = json.loads((tiny_base.path / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"]) == (2, 64)
    assert "quantization_config" not in config


def test_resolving_again_reuses_the_built_checkpoint(
    tiny_base: ResolvedBaseModel, model_cache_dir: Path
) -> None:
    weights = tiny_base.path / "model.safetensors"
    mtime = weights.stat().st_mtime_ns
    again = resolve_base_model(TINY_RANDOM_SPEC, model_cache_dir)
    assert again == tiny_base
    assert weights.stat().st_mtime_ns == mtime


def test_fingerprints_are_stable_distinct_and_need_no_torch() -> None:
    code = (
        "import sys\n"
        "from coral_dagster.model.base_model import base_model_fingerprint\n"
        "print(base_model_fingerprint('smollm2-135m'), base_model_fingerprint('tiny-random'))\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    ids_line, modules_line = result.stdout.strip().splitlines()
    smollm2_id, tiny_id = ids_line.split()
    assert smollm2_id == base_model_fingerprint(EMBEDDED_SPEC)  # same in another process
    assert tiny_id == base_model_fingerprint(TINY_RANDOM_SPEC)
    assert smollm2_id != tiny_id
    assert len(smollm2_id) == 64
    assert modules_line == "False False"


def test_checkpoint_dir_fingerprint_follows_content_not_location(
    tiny_base: ResolvedBaseModel, tmp_path: Path
) -> None:
    copy = tmp_path / "elsewhere" / "ckpt"
    shutil.copytree(tiny_base.path, copy)
    copy_id = base_model_fingerprint(str(copy))
    assert copy_id == base_model_fingerprint(str(tiny_base.path))
    resolved = resolve_base_model(str(copy), tmp_path / "unused-cache")
    assert resolved == ResolvedBaseModel(spec=str(copy), path=copy, model_id=copy_id)

    config = json.loads((copy / "config.json").read_text())
    config["rms_norm_eps"] = 1e-6
    (copy / "config.json").write_text(json.dumps(config))
    assert base_model_fingerprint(str(copy)) != copy_id


def test_missing_or_incomplete_checkpoint_dir_names_the_path(
    tiny_base: ResolvedBaseModel, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nope")):
        resolve_base_model(str(tmp_path / "nope"), tmp_path)
    partial = tmp_path / "partial"
    shutil.copytree(tiny_base.path, partial)
    (partial / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=rf"{partial}.*weights"):
        base_model_fingerprint(str(partial))


def _write_fake_checkpoint(out: Path, marker: str) -> None:
    (out / "config.json").write_text(json.dumps({"marker": marker}))
    (out / "model.safetensors").write_text(marker)
    (out / "tokenizer.json").write_text("{}")


def test_failed_build_leaves_nothing_that_looks_valid(tmp_path: Path) -> None:
    target = tmp_path / "base_models" / "model-x"

    def crash(out: Path) -> None:
        (out / "config.json").write_text("{}")
        raise RuntimeError("killed mid-conversion")

    with pytest.raises(RuntimeError, match="killed mid-conversion"):
        _build_once(target, crash)
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir() if not p.name.endswith(".lock")] == []

    _build_once(target, lambda out: _write_fake_checkpoint(out, "second try"))
    assert json.loads((target / "config.json").read_text()) == {"marker": "second try"}


def test_concurrent_builders_build_once(tmp_path: Path) -> None:
    target = tmp_path / "base_models" / "model-y"
    builds: list[str] = []

    def slow_build(out: Path) -> None:
        builds.append(threading.current_thread().name)
        time.sleep(0.2)
        _write_fake_checkpoint(out, threading.current_thread().name)

    threads = [
        threading.Thread(target=_build_once, args=(target, slow_build), name=f"builder-{i}")
        for i in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1
    assert json.loads((target / "config.json").read_text()) == {"marker": builds[0]}
    assert sorted(p.name for p in target.parent.iterdir() if not p.name.startswith(".")) == [
        "model-y"
    ]


def test_load_model_and_tokenizer_for_generation(tiny_base: ResolvedBaseModel) -> None:
    model, tokenizer = load_model_and_tokenizer(tiny_base, device="cpu", dtype="auto")
    assert not model.training
    assert model.dtype == torch.float32
    assert tokenizer.pad_token is not None
    assert tokenizer.padding_side == "left"
    assert tokenizer.chat_template


def test_dtype_resolution() -> None:
    cpu = torch.device("cpu")
    assert resolve_dtype("auto", cpu) == torch.float32
    assert resolve_dtype("bfloat16", cpu) == torch.bfloat16
    with pytest.raises(ValueError, match="float8"):
        resolve_dtype("float8", cpu)


def test_cut_after_stop_keeps_the_first_stop_token_and_nothing_after() -> None:
    assert cut_after_stop([5, 6, 2, 7, 2], frozenset({2})) == [5, 6, 2]
    assert cut_after_stop([5, 9, 6], frozenset({2, 9})) == [5, 9]
    assert cut_after_stop([5, 6], frozenset({2})) == [5, 6]  # no stop: the whole response
