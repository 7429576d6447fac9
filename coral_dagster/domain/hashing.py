"""Content hashing: canonical JSON + SHA-256 for every cache key.

Canonical JSON: keys sorted, no whitespace, tuples/sets as lists (sets sorted), dataclasses and
objects with ``to_dict`` as their dicts, numpy scalars as Python numbers, and floats normalised
so that ``16`` and ``16.0`` are the same value (integral floats become ints; other floats are
rounded to 12 significant digits). Never Python's salted ``hash()``: the same inputs give the
same key in any process, on any machine.

Keys (see DESIGN.md):
    adapter_key = H(heavy genes, base-model fingerprint, training-data fingerprint,
                    training config incl. its version)
    genome_key  = H(adapter_key, CA seed, cheap knobs, evaluation-context fingerprint)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from coral_dagster.domain.genome import CASeed, CheapKnobs, HeavyGenes

KEY_SCHEMA_VERSION = 1


def normalize(obj: Any) -> Any:
    """Turn ``obj`` into plain JSON types with a single representation per value."""
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return normalize(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return normalize(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"canonical JSON needs string keys, got {key!r}")
            out[key] = normalize(value)
        return out
    if isinstance(obj, (set, frozenset)):
        return sorted(normalize(v) for v in obj)
    if isinstance(obj, (list, tuple)):
        return [normalize(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return normalize(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        if not math.isfinite(value):
            raise ValueError(f"cannot hash non-finite float {value!r}")
        if value.is_integer():
            return int(value)
        return float(f"{value:.12g}")
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(f"cannot put {type(obj).__name__} into canonical JSON: {obj!r}")


def canonical_json(obj: Any) -> str:
    """Serialise ``obj`` to canonical JSON (sorted keys, compact separators, normalised numbers)."""
    return json.dumps(normalize(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def content_hash(obj: Any) -> str:
    """SHA-256 hex digest of the canonical JSON of ``obj``."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def adapter_key(
    genes: HeavyGenes,
    base_model_id: str,
    training_data_fingerprint: str,
    training_config: Mapping[str, Any],
) -> str:
    """Key of a trained adapter: same genes + base model + data + training config, same key."""
    return content_hash(
        {
            "kind": "adapter",
            "schema": KEY_SCHEMA_VERSION,
            "genes": genes,
            "base_model": base_model_id,
            "train_data": training_data_fingerprint,
            "training": training_config,
        }
    )


def genome_key(
    adapter_key_: str,
    seed: CASeed,
    knobs: CheapKnobs,
    evaluation_context_fingerprint: str,
) -> str:
    """Key of a genome's evaluation (generated code and test scores)."""
    return content_hash(
        {
            "kind": "genome",
            "schema": KEY_SCHEMA_VERSION,
            "adapter": adapter_key_,
            "seed": seed,
            "knobs": knobs,
            "eval": evaluation_context_fingerprint,
        }
    )
