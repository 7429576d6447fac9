"""Does an adapter's training make it rank fixes first on bugs of programs it never trained on?
Training settings side by side, on the config's validation bugs only (never the test split).

    CORAL_CACHE_DIR=... python bench/validation_transfer.py --config configs/quick.yaml \\
        --store /tmp/transfer [--mutants 10] [--variant NAME=max_steps=24,ranking_weight=1 ...]

The bugs: the validation programs' own bugs an ``edit`` candidate fixes, and the hard injected
bugs of ``benchmark.validation_bugs`` (``--mutants`` per program; ``pipeline.validation_bugs``:
real, reachable by an edit, and the base model's top-ranked candidate fails a test, so the base
model never ranks their fix first). Oracle localisation and the config's ``patch`` settings, as
generation ranks candidates. The training corpus and the bugs are built into ``--store`` (an
artifact store; reused when already there), as the shared step builds them.

Each ``--variant`` trains one adapter with ``--genes`` on the config's corpus, its ``training``
settings overridden by the variant's ``key=value`` pairs and the rest taken from the config
(``configs/quick.yaml`` trains with the ranking loss: ``ranking_weight=0`` turns it off). Kept
under ``--store``/bench-adapters/``NAME-<the adapter key the platform would give it>``, so an
unchanged variant is not trained again and a changed one never reuses a stale adapter.
``--mutants`` defaults to the config's ``benchmark.validation_bugs.mutants_per_program``, else
10. Candidates are ranked as generation ranks them (the config's device and dtype; the bugs'
hardness is decided on CPU in float32, so on another device the base row may differ from 0).
Printed per model (the base model first): the bugs whose fix it ranks first, the mean over bugs
of the best-ranked fix's rank (1 = first), the rank per bug, and the seconds the training took
(model loading included).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import yaml
from bundled_examples import bench_base_model

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.domain.config import ConfigError, ExperimentConfig, parse_config
from coral_dagster.domain.genome import HeavyGenes
from coral_dagster.domain.hashing import adapter_key
from coral_dagster.model.generation import BASE_ADAPTER, PatchGenerator
from coral_dagster.model.training import train_adapter
from coral_dagster.pipeline.adapters import training_examples
from coral_dagster.pipeline.corpus import as_pairs, corpus_sandbox, ensure_corpus, load_corpus
from coral_dagster.pipeline.inputs import load_inputs
from coral_dagster.pipeline.repair import candidate_scores, fix_rank, repair_tasks
from coral_dagster.pipeline.store import ArtifactStore
from coral_dagster.pipeline.validation_bugs import (
    build_validation_bugs,
    ensure_validation_bugs,
    evaluation_inputs,
)

# The genes of the quick profile's evolved genome with validation bugs on (DoRA r8, alpha 8,
# all four attention projections, lr 0.002).
GENES = "adapter_type=dora,rank=8,alpha=8,dropout=0.05,target_modules=k_proj+o_proj+q_proj+v_proj,learning_rate=0.002"  # noqa: E501
# Every variant names the settings it is about (a variant inherits the rest from the config,
# and configs/quick.yaml trains with the ranking loss: a language-model variant must turn it off).
VARIANTS = (
    "lm-12=max_steps=12,ranking_weight=0",
    "lm-60=max_steps=60,ranking_weight=0",
    "ranking-12=max_steps=12,ranking_weight=1,ranking_negatives=8",
    "ranking-24=max_steps=24,ranking_weight=1,ranking_negatives=8",
    "ranking-24-batch-1=max_steps=24,batch_size=1,ranking_weight=1,ranking_negatives=8",
    "ranking-24-n4=max_steps=24,ranking_weight=1,ranking_negatives=4",
    "ranking-24-n2=max_steps=24,ranking_weight=1,ranking_negatives=2",
    "ranking-36-n2=max_steps=36,ranking_weight=1,ranking_negatives=2",
)


def settings(text: str) -> dict[str, object]:
    """``key=value,key=value`` with YAML values (``1`` is an int, ``0.5`` a float)."""
    pairs = [item.split("=", 1) for item in text.split(",") if item]
    if any(len(p) != 2 for p in pairs):
        raise SystemExit(f"bad settings {text!r}: expected key=value,key=value")
    return {key: yaml.safe_load(value) for key, value in pairs}


def parse_genes(text: str) -> HeavyGenes:
    values = settings(text)
    if "target_modules" in values:
        values["target_modules"] = tuple(str(values["target_modules"]).split("+"))
    try:
        return HeavyGenes(**values)
    except (TypeError, ValueError) as error:
        raise SystemExit(f"--genes {text!r}: {error}") from None


def checked_config(raw: dict, source: str) -> ExperimentConfig:
    try:
        return parse_config(raw, source)
    except ConfigError as error:
        raise SystemExit(f"{source}: " + "; ".join(error.problems)) from None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--store", type=Path, required=True, help="artifact store folder")
    parser.add_argument(
        "--mutants",
        type=int,
        default=None,
        help="injected bugs per program (default: the config's, else 10)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the injected bugs")
    parser.add_argument("--genes", default=GENES)
    parser.add_argument("--variant", action="append", help="NAME=key=value,... (repeatable)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    # Everything a user typed is checked before anything is built or trained.
    raw = yaml.safe_load(args.config.read_text()) or {}
    benchmark = raw.setdefault("benchmark", {})
    benchmark.pop("heldout_dataset", None)  # the bundled splits only
    bugs_settings = benchmark.get("validation_bugs") or {}
    benchmark["validation_bugs"] = bugs_settings
    if args.mutants is not None:
        bugs_settings["mutants_per_program"] = args.mutants
    if args.seed is not None:
        bugs_settings["seed"] = args.seed
    bugs_settings.setdefault("mutants_per_program", 10)
    raw.setdefault("patch", {}).update({"format": "edit", "localization": "oracle"})
    config = checked_config(raw, str(args.config))
    if config.benchmark.validation_bugs.mutants_per_program < 1:
        raise SystemExit("--mutants must be at least 1: the bench ranks injected bugs")
    genes = parse_genes(args.genes)
    variants: dict[str, ExperimentConfig] = {}
    for spec in args.variant or VARIANTS:
        name, _, overrides = spec.partition("=")
        if not name or "." in name or "/" in name or name in (*variants, BASE_ADAPTER):
            raise SystemExit(
                f"--variant {spec!r}: the name must be unique, not {BASE_ADAPTER}, "
                "without '.' or '/'"
            )
        training = {**raw.get("training", {}), **settings(overrides)}
        variants[name] = checked_config({**raw, "training": training}, f"--variant {spec!r}")

    inputs = load_inputs(config)
    base = bench_base_model(config.model.base_model)
    store = ArtifactStore(args.store)
    local = args.store / "bench-local"
    sandbox = corpus_sandbox(config.sandbox)
    ensure_corpus(
        store,
        inputs.problem_set,
        inputs.split,
        config.corpus,
        Evaluator(inputs.problem_set, sandbox),
        local / "corpus",
    )
    batch_size = config.generation.batch_size
    ensure_validation_bugs(
        store,
        inputs,
        lambda: build_validation_bugs(
            inputs,
            PatchGenerator(base, device="cpu", dtype="float32"),
            lambda problem_set: Evaluator(problem_set, sandbox),
            batch_size,
        ),
    )
    evaluated = evaluation_inputs(store, inputs)

    problems = evaluated.problem_set.problems
    tasks = repair_tasks(evaluated.problem_set, list(evaluated.validation_names), config.patch)
    found = {
        name: task.fixing_candidates(problems[name].correct_source) for name, task in tasks.items()
    }
    fixes = {name: indices for name, indices in found.items() if indices}
    print(
        f"{len(fixes)} validation bugs an edit fixes ({len(evaluated.added_validation)} injected)",
        file=sys.stderr,
        flush=True,
    )

    corpus_fingerprint = inputs.key_context.training_data_fingerprint
    corpus = as_pairs(load_corpus(store, corpus_fingerprint, local / "corpus"))
    folders: dict[str, Path] = {}
    trained: dict[str, float | None] = {}
    for name, variant in variants.items():
        # The platform's adapter key: a changed variant never reuses a stale adapter, and
        # settings that change nothing (negatives without the ranking loss) train nothing new.
        variant_inputs = load_inputs(variant)
        context = variant_inputs.key_context
        key = adapter_key(
            genes, context.base_model_id, context.training_data_fingerprint, context.training_config
        )
        out = folders[name] = args.store / "bench-adapters" / f"{name}-{key[:16]}"
        if not (out / "adapter_model.safetensors").exists():
            out.mkdir(parents=True, exist_ok=True)
            start = time.perf_counter()
            train_adapter(
                base,
                genes,
                training_examples(variant_inputs, corpus),
                variant.training,
                out,
                dtype=config.model.dtype,
                ranking_score=config.patch.candidate_score,
            )
            trained[name] = time.perf_counter() - start
        else:
            trained[name] = None  # trained by an earlier run of this bench
        print(f"{name}: adapter ready ({out})", file=sys.stderr, flush=True)

    generator = PatchGenerator(base, dtype=config.model.dtype)
    for name, folder in folders.items():
        generator.load_adapter(name, folder)
    rows = []
    for model in (None, *trained):
        ranks = {}
        for bug, indices in fixes.items():
            scores = candidate_scores(generator, tasks[bug], config.patch, model, batch_size)
            ranks[bug] = fix_rank(scores, indices)
        seconds = trained.get(model) if model else None
        row = {
            "model": model or "base",
            "first": sum(r == 1 for r in ranks.values()),
            "bugs": len(ranks),
            "mean_rank": sum(ranks.values()) / len(ranks),
            "ranks": ranks,
            "training_seconds": None if seconds is None else round(seconds, 1),
        }
        rows.append(row)
        if not args.json:
            took = "" if seconds is None else f"  (trained in {seconds:.0f} s)"
            print(
                f"{row['model']:<20} fix first {row['first']}/{row['bugs']}  "
                f"mean rank {row['mean_rank']:.2f}  ranks {list(ranks.values())}{took}",
                flush=True,
            )
    if args.json:
        print(json.dumps({"bugs": list(fixes), "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
