"""Genome value objects: a cellular-automaton seed plus heavy genes, and the cheap knobs.

A genome is (``CASeed``, ``HeavyGenes``). Heavy genes configure a LoRA/DoRA adapter that must be
trained (expensive, cached by adapter key); ``CheapKnobs`` are decoding parameters derived from
the automaton's features (free at inference time). All objects are frozen and hashable, and
``to_dict``/``from_dict`` round-trip through plain JSON types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

AdapterType = Literal["lora", "dora"]
ADAPTER_TYPES: tuple[str, ...] = ("lora", "dora")

_RULE_RE = re.compile(r"^B([0-8]*)/S([0-8]*)$")


def canonical_rule(rule: str) -> str:
    """Return a Life-like rule string in canonical ``B<digits>/S<digits>`` form.

    Digits are the neighbour counts (0..8 of the Moore neighbourhood) for which a dead cell is
    born (B) or a live cell survives (S); they are de-duplicated and sorted, so ``"B3/S32"`` and
    ``"B3/S23"`` are the same rule. Raises ``ValueError`` naming the rule when malformed.
    """
    match = _RULE_RE.match(rule.strip().upper())
    if match is None:
        raise ValueError(f"rule {rule!r} is not a Life-like rule of the form 'B3/S23'")
    birth, survival = (sorted(set(part)) for part in match.groups())
    return f"B{''.join(birth)}/S{''.join(survival)}"


def parse_rule(rule: str) -> tuple[frozenset[int], frozenset[int]]:
    """Split a rule string into (birth counts, survival counts)."""
    match = _RULE_RE.match(canonical_rule(rule))
    assert match is not None
    return frozenset(int(c) for c in match.group(1)), frozenset(int(c) for c in match.group(2))


@dataclass(frozen=True)
class CASeed:
    """Initial state of the automaton: a binary grid (rows of 0/1), a rule and a step count."""

    grid: tuple[tuple[int, ...], ...]
    rule: str
    steps: int

    def __post_init__(self) -> None:
        grid = tuple(tuple(int(c) for c in row) for row in self.grid)
        if not grid or not grid[0]:
            raise ValueError("CA seed grid must be non-empty")
        width = len(grid[0])
        if any(len(row) != width for row in grid):
            raise ValueError("CA seed grid rows must all have the same length")
        if any(c not in (0, 1) for row in grid for c in row):
            raise ValueError("CA seed grid cells must be 0 or 1")
        if int(self.steps) < 1:
            raise ValueError(f"CA seed steps must be >= 1, got {self.steps}")
        object.__setattr__(self, "grid", grid)
        object.__setattr__(self, "rule", canonical_rule(self.rule))
        object.__setattr__(self, "steps", int(self.steps))

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.grid), len(self.grid[0])

    def to_dict(self) -> dict[str, Any]:
        return {"grid": [list(row) for row in self.grid], "rule": self.rule, "steps": self.steps}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CASeed:
        return cls(
            grid=tuple(tuple(r) for r in data["grid"]), rule=data["rule"], steps=data["steps"]
        )


@dataclass(frozen=True)
class HeavyGenes:
    """LoRA/DoRA adapter configuration: what the model learns (trained once per adapter key).

    ``target_modules`` is stored sorted and de-duplicated: module order does not change the
    adapter, so it must not change its key.
    """

    rank: int
    alpha: float
    dropout: float
    target_modules: tuple[str, ...]
    adapter_type: AdapterType
    learning_rate: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "target_modules", tuple(sorted(set(self.target_modules))))
        object.__setattr__(self, "rank", int(self.rank))
        object.__setattr__(self, "alpha", float(self.alpha))
        object.__setattr__(self, "dropout", float(self.dropout))
        object.__setattr__(self, "learning_rate", float(self.learning_rate))
        if self.adapter_type not in ADAPTER_TYPES:
            raise ValueError(
                f"adapter_type must be one of {ADAPTER_TYPES}, got {self.adapter_type!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "alpha": self.alpha,
            "dropout": self.dropout,
            "target_modules": list(self.target_modules),
            "adapter_type": self.adapter_type,
            "learning_rate": self.learning_rate,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HeavyGenes:
        return cls(
            rank=data["rank"],
            alpha=data["alpha"],
            dropout=data["dropout"],
            target_modules=tuple(data["target_modules"]),
            adapter_type=data["adapter_type"],
            learning_rate=data["learning_rate"],
        )


@dataclass(frozen=True)
class CheapKnobs:
    """Decoding parameters for generation (derived from CA features, free at inference)."""

    temperature: float
    top_p: float
    top_k: int
    repetition_penalty: float
    max_new_tokens: int
    do_sample: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "temperature": float(self.temperature),
            "top_p": float(self.top_p),
            "top_k": int(self.top_k),
            "repetition_penalty": float(self.repetition_penalty),
            "max_new_tokens": int(self.max_new_tokens),
            "do_sample": bool(self.do_sample),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheapKnobs:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Genome:
    """One individual: automaton seed (gives the cheap knobs) + heavy genes (give the adapter)."""

    seed: CASeed
    genes: HeavyGenes

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed.to_dict(), "genes": self.genes.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Genome:
        return cls(seed=CASeed.from_dict(data["seed"]), genes=HeavyGenes.from_dict(data["genes"]))
