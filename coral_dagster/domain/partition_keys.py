"""Readable partition keys: a short summary of the genes and knobs before the content key.

Dagster shows partition keys in its UI, and a bare 64-character SHA-256 tells a user nothing.
A partition key is ``<summary>-<content key>``, where the content key is the adapter or genome
key (SHA-256 of canonical JSON) and the summary is derived from the same content, so the
partition key is as stable and unique as the content key itself:

    adapter partition  <type>-r<rank>-a<alpha>-<modules>-<adapter_key>
                       lora-r8-a16-qv-3f2a...          (modules: first letters, q_proj -> q)
    genome partition   <type>-r<rank>-t<temperature>-<greedy|p<top_p>>-<genome_key>
                       dora-r4-t0.72-p0.90-9c1e...

``content_key(partition_key)`` takes the content key back (the last 64 characters).
"""

from __future__ import annotations

import re

from coral_dagster.domain.genome import CheapKnobs, HeavyGenes

CONTENT_KEY = re.compile(r"^[0-9a-f]{64}$")


def _number(value: float) -> str:
    return f"{value:g}"


def _modules(genes: HeavyGenes) -> str:
    return "".join(m[0] for m in genes.target_modules)


def adapter_partition_key(adapter_key: str, genes: HeavyGenes) -> str:
    _check(adapter_key)
    summary = f"{genes.adapter_type}-r{genes.rank}-a{_number(genes.alpha)}-{_modules(genes)}"
    return f"{summary}-{adapter_key}"


def genome_partition_key(genome_key: str, genes: HeavyGenes, knobs: CheapKnobs) -> str:
    _check(genome_key)
    decoding = f"t{knobs.temperature:.2f}-p{knobs.top_p:.2f}" if knobs.do_sample else "greedy"
    return f"{genes.adapter_type}-r{genes.rank}-{decoding}-{genome_key}"


def content_key(partition_key: str) -> str:
    """The adapter or genome key a partition key ends with (``ValueError`` naming it if none)."""
    key = partition_key.rsplit("-", 1)[-1]
    if not CONTENT_KEY.match(key):
        raise ValueError(
            f"partition {partition_key!r} does not end with a 64-hex content key: it was not "
            "made by CORAL (genome and adapter partitions are added by the planner)"
        )
    return key


def _check(key: str) -> None:
    if not CONTENT_KEY.match(key):
        raise ValueError(f"{key!r} is not a 64-hex content key")
