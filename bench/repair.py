"""Repair on real QuixBugs: evolve, then judge the best genome against baselines on 40 programs.

For each patch format and localisation asked for, a full evolution of ``--config`` runs in its
own home (``--homes DIR``, default a temporary folder; an existing home resumes and does no
finished work twice) with ``benchmark.heldout_dataset`` set to ``--quixbugs``: the adapters
train on the bundled train split's corpus, fitness comes from the bundled validation split,
and the final generation's best genome, the base model (neutral knobs and the evolved knobs),
a standard LoRA and the unchanged buggy program are judged on every QuixBugs program with the
same budget (``heldout.samples_per_problem`` candidates each). For ``edit`` the *ceiling* is
counted too: the programs some edit candidate fixes at all, and the mean test pass rate a
perfect ranking of the candidates would reach (greedy, and with distinct draws).

Prints one table per run (fixed programs, pass@1, pass@5, pass@n, mean test pass rate with its
95% CI) and the best validation fitness per generation. ``--json`` prints one JSON object
instead: ``{"methods": [{"method", "fixed", "programs", "pass_at_1", "mean_pass_rate"}, ...],
"runs": [...]}``, where ``methods`` are the better run's (by fixed programs of the evolved
genome) and ``runs`` hold every run with its format, localisation, ceiling and generations.

    python bench/repair.py --config configs/quixbugs.yaml --quixbugs ~/QuixBugs \\
        [--formats edit,line] [--localization oracle|none|both] [--homes DIR] [--no-ceiling]
        [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]


def run_config(base: dict[str, Any], quixbugs: Path, fmt: str, localization: str) -> dict:
    config = json.loads(json.dumps(base))
    config["name"] = f"{base.get('name', 'repair')}-{fmt}-{localization}"
    config.setdefault("benchmark", {})["heldout_dataset"] = str(quixbugs)
    config["benchmark"].pop("max_test_problems", None)
    config.setdefault("patch", {}).update(format=fmt, localization=localization)
    if fmt != "edit":
        # distinct draws and candidate scores choose among edit candidates; free-text answers
        # are sampled i.i.d.
        config["patch"].pop("draws", None)
        config["patch"].pop("candidate_score", None)
        # hard validation bugs are chosen by the base model's ranking of edit candidates;
        # free-text formats select on the validation programs' own bugs
        config["benchmark"].pop("validation_bugs", None)
    if fmt == "function":
        # the ranking loss orders the edits of a marked line; whole functions have none
        config.get("training", {}).pop("ranking_weight", None)
    return config


def perfect_ranking(rates: dict[str, list[float]], n: int) -> tuple[float, float]:
    """Mean test pass rate a perfect ranking of the candidates would reach with ``n`` samples per
    program: ``(greedy, distinct)``. ``rates``: every candidate's pass rate per program (an empty
    list: no candidate, every sample fails). Greedy: all ``n`` samples are the best candidate, so
    a program scores ``max(rates)``; distinct: the ``n`` best candidates, the pool cycling when it
    holds fewer than ``n`` (as ``draw_candidates`` does), a program scores their mean."""
    greedy, distinct = [], []
    for values in rates.values():
        ranked = sorted(values, reverse=True)
        greedy.append(ranked[0] if ranked else 0.0)
        drawn = [ranked[i % len(ranked)] for i in range(n)] if ranked else [0.0]
        distinct.append(sum(drawn) / len(drawn))
    return sum(greedy) / len(greedy), sum(distinct) / len(distinct)


def edit_ceiling(problem_set, names, config) -> dict[str, Any]:
    """What the ``edit`` candidates of ``config.patch`` allow on ``names`` of ``problem_set`` at
    all: the programs some candidate fixes (``fixable_programs``), and the mean pass rate of a
    perfect ranking with ``heldout.samples_per_problem`` samples (``perfect_ranking``).
    Programs without a required test are left out, as the held-out evaluation does."""
    from coral_dagster.benchmark.evaluator import Evaluator
    from coral_dagster.pipeline.heldout import pass_rate, required_tests
    from coral_dagster.pipeline.repair import repair_tasks

    evaluator = Evaluator(problem_set, config.sandbox)
    required = required_tests(evaluator, problem_set, list(names))
    names = [n for n in names if required[n]]
    if not names:
        raise SystemExit("edit ceiling: no program with a required test to count")
    tasks = repair_tasks(problem_set, names, config.patch)
    items = [(n, c.program) for n in names for c in tasks[n].candidates]
    rates: dict[str, list[float]] = {n: [] for n in names}
    for result in evaluator.evaluate_many(items):
        rates[result.problem].append(pass_rate(result, required[result.problem]))
    greedy, distinct = perfect_ranking(rates, config.heldout.samples_per_problem)
    fixable = sorted(n for n, values in rates.items() if values and max(values) == 1.0)
    return {
        "fixable": len(fixable),
        "programs": len(names),
        "fixable_programs": fixable,
        "candidates": sum(len(values) for values in rates.values()),
        "perfect_ranking_mean_pass_greedy": round(greedy, 4),
        "perfect_ranking_mean_pass_distinct": round(distinct, 4),
    }


def ceiling(inputs) -> dict[str, Any]:
    """``edit_ceiling`` of the held-out set."""
    return edit_ceiling(inputs.heldout_set, inputs.test_names, inputs.config)


def evolve(home_dir: Path, config: dict, echo, with_ceiling: bool = True) -> dict:
    from coral_dagster.definitions import build_defs
    from coral_dagster.orchestration.driver import run_evolution
    from coral_dagster.orchestration.home import prepare_home
    from coral_dagster.pipeline.inputs import load_inputs
    from coral_dagster.pipeline.records import HeldoutResult
    from coral_dagster.pipeline.statistics import generation_table, genome_table

    home_dir.mkdir(parents=True, exist_ok=True)
    path = home_dir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=True))
    home = prepare_home(path, home_dir / "home")
    started = time.perf_counter()
    plan = run_evolution(home, build_defs(home.path), echo=echo)
    seconds = time.perf_counter() - started
    store = home.store()
    result = store.read_record(HeldoutResult, plan.generation)
    summary = generation_table(genome_table(store))
    inputs = load_inputs(home.config())
    top = ceiling(inputs) if with_ceiling and config["patch"]["format"] == "edit" else None
    return {
        "format": config["patch"]["format"],
        "localization": config["patch"]["localization"],
        "seconds": round(seconds, 1),
        "ceiling": top,
        "generations": [
            {
                "generation": int(r.generation),
                "best_fitness": float(r.best_fitness),
                "mean_fitness": float(r.mean_fitness),
            }
            for r in summary.itertuples()
        ],
        "methods": [
            {
                "method": s.method.lower(),
                "fixed": len(s.fully_fixed_problems),
                "programs": s.n_problems,
                "pass_at_1": s.pass_at_1,
                "pass_at_5": s.pass_at_k.get(5),
                "pass_at_n": s.pass_at_k.get(result.samples_per_problem),
                "mean_pass_rate": s.mean_pass_rate,
                "mean_pass_rate_ci": list(s.mean_pass_rate_ci),
                "fixed_programs": list(s.fully_fixed_problems),
            }
            for s in result.summaries
        ],
        "samples_per_problem": result.samples_per_problem,
    }


def print_run(run: dict) -> None:
    n = run["samples_per_problem"]
    head = f"\n{run['format']} patches, localisation {run['localization']} ({run['seconds']:.0f} s)"
    print(head)
    if run["ceiling"]:
        c = run["ceiling"]
        print(f"ceiling: {c['fixable']}/{c['programs']} programs have a fixing edit candidate")
        print(
            "a perfect ranking of the candidates would reach a mean test pass rate of "
            f"{c['perfect_ranking_mean_pass_greedy']:.3f} (greedy: the best candidate every "
            f"sample), {c['perfect_ranking_mean_pass_distinct']:.3f} ({n} distinct draws)"
        )
    print(
        f"{'method':36} {'fixed':>7} {'pass@1':>7} {'pass@5':>7} {f'pass@{n}':>7} "
        f"{'mean pass rate [95% CI]':>26}"
    )
    for m in run["methods"]:
        lo, hi = m["mean_pass_rate_ci"]
        p5 = "-" if m["pass_at_5"] is None else f"{m['pass_at_5']:.3f}"
        pn = "-" if m["pass_at_n"] is None else f"{m['pass_at_n']:.3f}"
        print(
            f"{m['method']:36} {m['fixed']:>3}/{m['programs']:<3} {m['pass_at_1']:>7.3f} "
            f"{p5:>7} {pn:>7} {m['mean_pass_rate']:>10.3f} [{lo:.3f}, {hi:.3f}]"
        )
    fitness = ", ".join(
        f"g{g['generation']:04d} {g['best_fitness']:.3f}" for g in run["generations"]
    )
    print(f"best validation fitness per generation: {fitness}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "quixbugs.yaml")
    parser.add_argument("--quixbugs", type=Path, required=True, help="a QuixBugs-layout dir")
    parser.add_argument("--formats", default="edit,line")
    parser.add_argument("--localization", choices=["oracle", "none", "both"], default="oracle")
    parser.add_argument("--homes", type=Path, default=None, help="keep the homes here")
    parser.add_argument("--model", default=None, help="override model.base_model")
    parser.add_argument(
        "--no-ceiling",
        action="store_true",
        help="skip the edit ceiling (it runs every candidate's tests: about 800 s for 40 "
        "programs with oracle localisation on 2 cores, more without)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    base = yaml.safe_load(args.config.read_text())
    if args.model:
        base.setdefault("model", {})["base_model"] = args.model
    quixbugs = args.quixbugs.expanduser().resolve()
    homes = args.homes or Path(tempfile.mkdtemp(prefix="coral-repair-"))
    os.environ.setdefault("CORAL_CACHE_DIR", str(homes / "cache"))
    localizations = ["oracle", "none"] if args.localization == "both" else [args.localization]
    runs = []
    for fmt in [f.strip() for f in args.formats.split(",") if f.strip()]:
        for localization in localizations:
            config = run_config(base, quixbugs, fmt, localization)
            log = (
                (lambda line: print(line, file=sys.stderr, flush=True))
                if not args.json
                else (lambda line: None)
            )
            home = homes / f"{fmt}-{localization}"
            runs.append(evolve(home, config, log, with_ceiling=not args.no_ceiling))
    best = max(
        runs,
        key=lambda r: next(m["fixed"] for m in r["methods"] if m["method"].startswith("evolved")),
    )
    if args.json:
        print(json.dumps({"methods": best["methods"], "runs": runs}))
        return 0
    for run in runs:
        print_run(run)
    print(f"\nhomes: {homes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
