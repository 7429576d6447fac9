"""How well adapters rank each fix among the wrong ``edit`` candidates of its place, on the
injected-bug training corpus (no sandbox: a candidate fixes when its program equals the fixed
program as an AST).

    CORAL_CACHE_DIR=... python bench/corpus_ranking.py --config configs/quixbugs.yaml \\
        --home HOME [--pairs 60] [--adapter NAME=DIR ...]

``HOME`` is a coral home whose store holds the config's training corpus (any finished run of
the config). For ``--pairs`` pairs drawn from the corpus with ``--seed``, every candidate of
the pair's place (``pipeline.repair.edit_candidates``, as generation builds them) plus the fix
is scored by the base model and by each adapter (``model.scoring``, mean log-probability per
token and total); printed per model: how often the fix ranks first, and the fix's mean rank
(1 = first) over the pairs, with the chance rank ``(candidates + 1) / 2``. An adapter's own
training pairs are included: this measures fit (did the ranking loss learn to order
candidates?), not transfer, which ``bench/repair_probe.py`` measures on QuixBugs.
"""

from __future__ import annotations

import argparse
import ast
import random
import tempfile
from pathlib import Path

import torch
import yaml

from coral_dagster.benchmark.localization import Hunk
from coral_dagster.domain.config import parse_config
from coral_dagster.model.base_model import resolve_base_model
from coral_dagster.model.generation import PatchGenerator
from coral_dagster.model.prompts import LineTask, line_response_text
from coral_dagster.model.scoring import score_line_candidates
from coral_dagster.orchestration.home import cache_dir
from coral_dagster.pipeline.corpus import as_pairs, load_corpus
from coral_dagster.pipeline.inputs import load_inputs
from coral_dagster.pipeline.repair import answer_text, edit_candidates
from coral_dagster.pipeline.store import ArtifactStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--adapter", action="append", default=[], help="NAME=DIR (repeatable)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    config = parse_config(yaml.safe_load(args.config.read_text()), str(args.config))
    if config.patch.localization != "oracle":
        raise SystemExit("corpus_ranking: the config must use patch.localization: oracle")
    inputs = load_inputs(config)
    store = ArtifactStore(args.home / "artifacts")
    fingerprint = inputs.key_context.training_data_fingerprint
    rows = load_corpus(store, fingerprint, Path(tempfile.mkdtemp()))
    pairs = random.Random(args.seed).sample(as_pairs(rows), min(args.pairs, len(rows)))

    tasks = []  # (task, answers with the fix first)
    for pair in pairs:
        task = LineTask(pair.program, pair.buggy_source, pair.hunk_start, pair.hunk_count)
        first = pair.fixed_lines[0] if pair.fixed_lines else ""
        place = Hunk(
            pair.hunk_start,
            pair.hunk_count,
            pair.fixed_lines,
            first[: len(first) - len(first.lstrip())],
        )
        fixed = ast.dump(ast.parse(pair.fixed_source))
        wrong = [
            c.answer
            for c in edit_candidates(pair.program, pair.buggy_source, place, config.patch)
            if ast.dump(ast.parse(c.program)) != fixed
        ]
        fix = line_response_text(task, answer_text(pair.fixed_lines).splitlines())
        if wrong:
            tasks.append((task, [fix, *wrong]))

    base = resolve_base_model(config.model.base_model, cache_dir(args.home))
    generator = PatchGenerator(base, device="cpu")
    models: list[tuple[str, str | None]] = [("base", None)]
    for spec in args.adapter:
        name, _, directory = spec.partition("=")
        generator.load_adapter(name, Path(directory))
        models.append((name, name))
    chance = sum((len(a) + 1) / 2 for _, a in tasks) / len(tasks)
    print(
        f"{len(tasks)} corpus pairs, {sum(len(a) for _, a in tasks) / len(tasks):.1f} "
        f"candidates each (fix included); chance: first {sum(1 / len(a) for _, a in tasks):.1f}, "
        f"mean rank {chance:.1f}"
    )
    print(
        f"{'model':<28}{'first (mean)':>14}{'rank (mean)':>13}{'first (sum)':>13}{'rank (sum)':>12}"
    )
    for label, adapter in models:
        ranks = {"mean": [], "sum": []}
        for task, answers in tasks:
            scores = score_line_candidates(generator, task, answers, adapter)
            for kind in ranks:
                values = [s.mean_logprob if kind == "mean" else s.sum_logprob for s in scores]
                ranks[kind].append(1 + sum(v > values[0] for v in values[1:]))
        cells = []
        for kind in ("mean", "sum"):
            cells += [sum(r == 1 for r in ranks[kind]), sum(ranks[kind]) / len(ranks[kind])]
        print(
            f"{label:<28}{cells[0]:>14}{cells[1]:>13.2f}{cells[2]:>13}{cells[3]:>12.2f}", flush=True
        )


if __name__ == "__main__":
    main()
