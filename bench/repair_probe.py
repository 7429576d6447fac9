"""How far line-level repair gets on real QuixBugs with oracle fault localisation (CPU, SmolLM2).

    python bench/repair_probe.py --quixbugs ~/QuixBugs [--json] [--adapter NAME=DIR ...]

For every QuixBugs program, the changed line comes from the oracle diff
(``benchmark.localization``); the candidates are every single edit of that line
(``benchmark.mutations.line_edits``) or, for a missing line, the insertion candidates
(``insertion_edits``). A program is *fixed* by a candidate when the patched program passes
every test the correct program passes (under this script's sandbox limits, so the slow cases
of knapsack/levenshtein that time out for the correct program too are not required).

Rows of the table:

- oracle: the oracle hunk itself applied (must fix all 40: checks localisation and patching);
- ceiling: bugs with at least one fixing candidate, and candidates per bug (mean/max);
- chance: ``--samples`` candidates drawn uniformly (with replacement, and distinct): with a few
  dozen candidates per line, 20 draws nearly enumerate them, so this is the bar to beat;
- ranking: the model scores every candidate (``model.scoring``, one prompt prefill per bug);
  greedy top-1, the top ``--samples`` (distinct), and ``--samples`` draws at each
  ``--temperatures`` (``draw_candidates``; top_k off, top_p 1) with replacement and distinct,
  by total and by per-token log-likelihood of the answer line and by the whole patched
  program's (``patch.candidate_score``: sum, mean, program); fixed = a drawn candidate fixes;
  then where the best-ranked fix sits (top-1, top-5, mean rank);
- free: ``line``-format generation (``PatchGenerator.generate_lines``): greedy, and
  ``--samples`` samples at ``--free-temperature`` (top_p 0.95); answers parsed strictly
  (``benchmark.patches``), a malformed one fixes nothing.

Tests run in the bubblewrap sandbox in two stages: first up to 3 tests the buggy program fails
(a fix must pass them), then all tests for the survivors. Verdicts, scores and generated
answers are cached under ``--cache-dir`` (keyed by content hashes), so a rerun only computes
what changed. Nothing is written into the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.benchmark.localization import Hunk, oracle_hunks
from coral_dagster.benchmark.mutations import LineEdit, insertion_edits, line_edits
from coral_dagster.benchmark.patches import apply_hunk, apply_lines, try_patch
from coral_dagster.benchmark.problems import Problem, ProblemSet, load_problem_set
from coral_dagster.domain.config import SandboxConfig
from coral_dagster.domain.genome import CheapKnobs
from coral_dagster.model.base_model import resolve_base_model
from coral_dagster.model.generation import LineRequest, PatchGenerator
from coral_dagster.model.prompts import LineTask, line_response_text
from coral_dagster.model.scoring import (
    draw_candidates,
    score_line_candidates,
    score_program_candidates,
)
from coral_dagster.model.versions import PROGRAM_SCORE_VERSION

STAGE_ONE_TESTS = 3
# the candidate scores compared, and their column in a bug's score tuples: the answer line's
# total and per-token log-likelihood in the repair prompt, and the whole patched program's
# (``patch.candidate_score``: sum, mean, program)
SCORE_KINDS = (("sum", 0), ("mean", 1), ("program", 2))


def sha(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


class JsonCache:
    """A dict persisted as one JSON file (written atomically after each update batch)."""

    def __init__(self, path: Path):
        self.path = path
        self.data: dict = json.loads(path.read_text()) if path.is_file() else {}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data))
        os.replace(tmp, self.path)


@dataclass
class Bug:
    name: str
    problem: Problem
    hunk: Hunk
    task: LineTask
    candidates: list[LineEdit]
    programs: list[str]
    fixes: list[bool] = field(default_factory=list)


def load_bugs(quixbugs: Path) -> tuple[ProblemSet, list[Bug]]:
    problem_set = load_problem_set(quixbugs)
    bugs = []
    for name, problem in problem_set.problems.items():
        hunks = oracle_hunks(problem.buggy_source, problem.correct_source, name)
        if len(hunks) != 1 or len(hunks[0].lines) != 1:
            raise SystemExit(f"{name}: expected one one-line hunk, got {hunks}")
        hunk = hunks[0]
        source = problem.buggy_source
        if hunk.is_insertion:
            candidates = insertion_edits(source, hunk.start, hunk.indent)
        else:
            candidates = line_edits(source, hunk.start)
        programs = [
            apply_lines(source, hunk.start, hunk.count, [c.text], hunk.indent) for c in candidates
        ]
        task = LineTask(name, source, hunk.start, hunk.count)
        bugs.append(Bug(name, problem, hunk, task, candidates, programs))
    return problem_set, bugs


class FixOracle:
    """Does a program fix its problem? Two-stage sandboxed tests, verdicts cached on disk."""

    def __init__(self, problem_set: ProblemSet, cache: JsonCache, sandbox: SandboxConfig):
        self.problem_set, self.cache, self.sandbox = problem_set, cache, sandbox
        self.full = Evaluator(problem_set, sandbox)
        self.required: dict[str, list[int]] = {}
        self.stage_one: dict[str, Problem] = {}
        self._prepare()

    def _prepare(self) -> None:
        names = list(self.problem_set.problems)
        problems = self.problem_set.problems
        results = self.full.evaluate_many(
            [(n, problems[n].correct_source) for n in names]
            + [(n, problems[n].buggy_source) for n in names]
        )
        for k, name in enumerate(names):
            correct, buggy = results[k], results[len(names) + k]
            required = [t.index for t in correct.tests if t.verdict == "pass"]
            failing = [t.index for t in buggy.tests if t.verdict != "pass" and t.index in required]
            self.required[name] = required
            self.stage_one[name] = _subset(problems[name], failing[:STAGE_ONE_TESTS])
        self.first = Evaluator(
            ProblemSet(self.problem_set.root, self.stage_one, self.problem_set.support_files),
            self.sandbox,
        )

    def fixes(self, items: Sequence[tuple[str, str | None]]) -> list[bool]:
        keys = [sha(name, program) if program is not None else None for name, program in items]
        todo = list(
            dict.fromkeys(
                (name, program)
                for (name, program), key in zip(items, keys, strict=True)
                if program is not None and key not in self.cache.data
            )
        )
        if todo:
            first = self.first.evaluate_many(todo)
            survivors = [item for item, r in zip(todo, first, strict=True) if r.passed == r.total]
            full = dict(zip(survivors, self.full.evaluate_many(survivors), strict=True))
            for item in todo:
                result = full.get(item)
                ok = result is not None and all(
                    result.tests[i].verdict == "pass" for i in self.required[item[0]]
                )
                self.cache.data[sha(*item)] = ok
            self.cache.save()
        return [key is not None and bool(self.cache.data[key]) for key in keys]


def _subset(problem: Problem, indices: list[int]) -> Problem:
    if not indices:  # the buggy program passes every required test: keep them all
        return problem
    if problem.json_cases is not None:
        cases = tuple(problem.json_cases[i] for i in indices)
        return Problem(problem.name, problem.buggy_source, problem.correct_source, cases, None)
    ids = tuple(problem.pytest_test_ids[i] for i in indices)
    return Problem(
        problem.name, problem.buggy_source, problem.correct_source, None, problem.pytest_source, ids
    )


def adapter_fingerprint(adapter_dir: Path | None) -> str:
    if adapter_dir is None:
        return "base"
    files = sorted(p for p in adapter_dir.iterdir() if p.name.startswith("adapter_"))
    return sha(*(p.name + hashlib.sha256(p.read_bytes()).hexdigest() for p in files))


def _fixed_by(
    bugs: list[Bug],
    values_of: dict[str, list[float]],
    knobs: CheapKnobs,
    n: int,
    seed: int,
    distinct: bool,
) -> list[str]:
    """Bugs where one of ``n`` drawn candidates fixes (bug k draws with seed ``seed + k``)."""
    fixed = []
    for k, bug in enumerate(bugs):
        values = values_of[bug.name]
        if values and any(
            bug.fixes[i] for i in draw_candidates(values, knobs, n, seed + k, distinct)
        ):
            fixed.append(bug.name)
    return fixed


def rank_rows(
    bugs: list[Bug],
    scores: dict[str, list[tuple[float, ...]]],
    label: str,
    samples: int,
    temperatures: list[float],
    seed: int,
) -> list[dict]:
    rows = []
    greedy = CheapKnobs(1.0, 1.0, 0, 1.0, 1, False)
    for kind, column in SCORE_KINDS:
        values = {b.name: [s[column] for s in scores[b.name]] for b in bugs}
        settings = [("greedy top-1", greedy, 1, False), (f"top-{samples}", greedy, samples, True)]
        for t in temperatures:
            sampled = CheapKnobs(t, 1.0, 0, 1.0, 1, True)
            settings.append((f"{samples} samples T={t:g}", sampled, samples, False))
            settings.append((f"{samples} distinct samples T={t:g}", sampled, samples, True))
        for setting, knobs, n, distinct in settings:
            rows.append(
                {
                    "method": f"{label} ranking ({kind} logp), {setting}",
                    "fixed": _fixed_by(bugs, values, knobs, n, seed, distinct),
                }
            )
    return rows


def uniform_rows(bugs: list[Bug], samples: int, seed: int) -> list[dict]:
    """The chance baseline: ``samples`` candidates drawn uniformly (``draw_candidates`` on
    equal scores), same seeds as the ranking rows."""
    uniform = CheapKnobs(1.0, 1.0, 0, 1.0, 1, True)
    values = {b.name: [0.0] * len(b.candidates) for b in bugs}
    return [
        {
            "method": f"chance: {samples} {how}candidates drawn uniformly",
            "fixed": _fixed_by(bugs, values, uniform, samples, seed, distinct),
        }
        for how, distinct in (("", False), ("distinct ", True))
    ]


def rank_summary(ranks: dict[str, dict], label: str) -> list[dict]:
    """Where the best-ranked fixing candidate sits: bugs with it at rank 1, within 5."""
    rows = []
    for kind, _ in SCORE_KINDS:
        best = {name: r[kind] for name, r in ranks.items() if r[kind] is not None}
        within5 = sorted(n for n, v in best.items() if v < 5)
        mean_rank = sum(best.values()) / len(best) + 1 if best else float("nan")
        rows.append(
            {
                "method": f"{label} ranking ({kind} logp), a fix within the top 5",
                "fixed": within5,
                "note": f"top-1: {sum(v == 0 for v in best.values())}, "
                f"mean best-fix rank {mean_rank:.1f} over the {len(best)} reachable",
            }
        )
    return rows


def fix_ranks(bugs: list[Bug], scores: dict[str, list[tuple[float, ...]]]) -> dict[str, dict]:
    """Per bug: the best rank (0 = top) of a fixing candidate under sum and mean scores."""
    out = {}
    for bug in bugs:
        ranks = {}
        for kind, column in SCORE_KINDS:
            values = [s[column] for s in scores[bug.name]]
            order = sorted(range(len(values)), key=lambda i: (-values[i], i))
            fixing = [order.index(i) for i, ok in enumerate(bug.fixes) if ok]
            ranks[kind] = min(fixing) if fixing else None
        out[bug.name] = ranks
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quixbugs", type=Path, required=True)
    parser.add_argument("--model", default="smollm2-135m")
    cache_root = Path(os.environ.get("CORAL_CACHE_DIR", Path.home() / ".cache" / "coral"))
    parser.add_argument(
        "--model-cache", type=Path, default=cache_root / "models", help="converted base models"
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=cache_root / "repair_probe", help="verdicts, scores"
    )
    parser.add_argument("--adapter", action="append", default=[], help="NAME=DIR (repeatable)")
    parser.add_argument("--no-base", action="store_true", help="skip the base-model rows")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--temperatures", default="0.5,1.0")
    parser.add_argument("--free-temperature", type=float, default=0.8)
    parser.add_argument("--skip-free", action="store_true")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=2.0, help="sandbox seconds per test")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    temperatures = [float(t) for t in args.temperatures.split(",") if t]
    timings: dict[str, float] = {}
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json else print

    start = time.perf_counter()
    problem_set, bugs = load_bugs(args.quixbugs.expanduser())
    verdicts = JsonCache(args.cache_dir / "verdicts.json")
    sandbox = SandboxConfig(timeout_seconds=args.timeout, cpu_seconds=max(1, int(args.timeout)))
    oracle = FixOracle(problem_set, verdicts, sandbox)
    timings["candidates"] = time.perf_counter() - start

    start = time.perf_counter()
    items = [(b.name, p) for b in bugs for p in b.programs]
    flags = oracle.fixes(items)
    position = 0
    for bug in bugs:
        bug.fixes = flags[position : position + len(bug.programs)]
        position += len(bug.programs)
    timings["ceiling tests"] = time.perf_counter() - start
    counts = [len(b.candidates) for b in bugs]
    reachable = [b.name for b in bugs if any(b.fixes)]
    oracle_fixed = oracle.fixes(
        [(b.name, apply_hunk(b.problem.buggy_source, b.hunk)) for b in bugs]
    )
    rows: list[dict] = [
        {
            "method": "oracle hunk applied (the localisation's own check)",
            "fixed": [b.name for b, ok in zip(bugs, oracle_fixed, strict=True) if ok],
            "note": "all oracle diffs are one hunk of one line",
        },
        {
            "method": "ceiling: some edit candidate fixes",
            "fixed": reachable,
            "note": f"candidates per bug mean {sum(counts) / len(counts):.1f}, max {max(counts)}",
        },
    ]
    rows += uniform_rows(bugs, args.samples, args.seed)
    log(f"ceiling {len(reachable)}/{len(bugs)} ({timings['ceiling tests']:.0f} s)")

    resolved = resolve_base_model(args.model, args.model_cache)
    generator = PatchGenerator(resolved, device="cpu")
    adapters: list[tuple[str, str | None, Path | None]] = []
    if not args.no_base:
        adapters.append(("base", None, None))
    for spec in args.adapter:
        name, _, directory = spec.partition("=")
        generator.load_adapter(name, Path(directory))
        adapters.append((name, name, Path(directory)))

    score_cache = JsonCache(args.cache_dir / "scores.json")
    answer_cache = JsonCache(args.cache_dir / "answers.json")
    details: dict[str, dict] = {}
    for label, adapter_name, adapter_dir in adapters:
        fingerprint = sha(resolved.model_id, adapter_fingerprint(adapter_dir))
        start = time.perf_counter()
        scores: dict[str, list[tuple[float, ...]]] = {}
        for bug in bugs:
            answers = [line_response_text(bug.task, [c.text]) for c in bug.candidates]
            key = sha("score", fingerprint, bug.task.buggy_source, str(bug.hunk), *answers)
            if key not in score_cache.data:
                result = score_line_candidates(
                    generator, bug.task, answers, adapter_name, args.batch_size
                )
                score_cache.data[key] = [(s.sum_logprob, s.mean_logprob) for s in result]
                score_cache.save()
            program_key = sha("program", PROGRAM_SCORE_VERSION, fingerprint, *bug.programs)
            if program_key not in score_cache.data:
                result = (  # a bug without candidates has nothing to score
                    score_program_candidates(generator, bug.programs, adapter_name, args.batch_size)
                    if bug.programs
                    else []
                )
                score_cache.data[program_key] = [s.sum_logprob for s in result]
                score_cache.save()
            scores[bug.name] = [
                (*line, whole)
                for line, whole in zip(
                    score_cache.data[key], score_cache.data[program_key], strict=True
                )
            ]
        timings[f"{label} scoring"] = time.perf_counter() - start
        rows += rank_rows(bugs, scores, label, args.samples, temperatures, args.seed)
        details[f"{label} fix ranks"] = fix_ranks(bugs, scores)
        rows += rank_summary(details[f"{label} fix ranks"], label)
        log(f"{label}: scored in {timings[f'{label} scoring']:.0f} s")

        if args.skip_free:
            continue
        start = time.perf_counter()
        greedy = CheapKnobs(1.0, 1.0, 0, 1.0, args.max_new_tokens, False)
        sampled = CheapKnobs(args.free_temperature, 0.95, 0, 1.0, args.max_new_tokens, True)
        requests = []
        for bug in bugs:
            requests.append(LineRequest(f"{bug.name}/greedy", adapter_name, greedy, bug.task, 0))
            requests += [
                LineRequest(f"{bug.name}/{s}", adapter_name, sampled, bug.task, args.seed + s)
                for s in range(args.samples)
            ]
        key = sha("free", fingerprint, json.dumps([(r.request_id, r.seed) for r in requests]))
        key = sha(key, str(greedy), str(sampled), *(b.task.buggy_source for b in bugs))
        if key not in answer_cache.data:
            outputs = generator.generate_lines(
                requests,
                batch_size=args.samples + 1,
                progress=lambda done, total: log(f"  free generation {done}/{total}"),
            )
            answer_cache.data[key] = {o.request_id: o.raw_text for o in outputs}
            answer_cache.save()
        raw = answer_cache.data[key]
        timings[f"{label} free generation"] = time.perf_counter() - start
        start = time.perf_counter()
        by_name = {b.name: b for b in bugs}
        patched = []
        malformed = 0
        for request in requests:
            bug = by_name[request.task.function_name]
            result = try_patch(bug.task.buggy_source, raw[request.request_id], "line", bug.hunk)
            malformed += not result.ok
            patched.append((bug.name, result.program))
        flags = oracle.fixes(patched)
        timings[f"{label} free tests"] = time.perf_counter() - start
        greedy_fixed = sorted(
            {
                r.task.function_name
                for r, f in zip(requests, flags, strict=True)
                if f and r.request_id.endswith("/greedy")
            }
        )
        sample_fixed = sorted(
            {
                r.task.function_name
                for r, f in zip(requests, flags, strict=True)
                if f and not r.request_id.endswith("/greedy")
            }
        )
        note = f"{malformed}/{len(requests)} answers malformed or not parsing"
        rows.append({"method": f"{label} free line generation, greedy", "fixed": greedy_fixed})
        rows.append(
            {
                "method": f"{label} free line generation, {args.samples} samples "
                f"T={args.free_temperature:g} top_p=0.95",
                "fixed": sample_fixed,
                "note": note,
            }
        )
        details[f"{label} free answers (first 3 per bug)"] = {
            b.name: [raw[f"{b.name}/{s}"] for s in range(min(3, args.samples))] for b in bugs
        }
        log(f"{label}: free generation {timings[f'{label} free generation']:.0f} s")

    if args.json:
        print(
            json.dumps(
                {
                    "bugs": len(bugs),
                    "rows": rows,
                    "candidates": {b.name: len(b.candidates) for b in bugs},
                    "fixing_candidates": {
                        b.name: [
                            c.text.strip()
                            for c, ok in zip(b.candidates, b.fixes, strict=True)
                            if ok
                        ]
                        for b in bugs
                    },
                    "details": details,
                    "timings_s": timings,
                },
                indent=1,
            )
        )
        return 0
    width = max(len(r["method"]) for r in rows)
    print(f"\n{'method':<{width}}  fixed   note")
    for row in rows:
        print(
            f"{row['method']:<{width}}  {len(row['fixed']):>2}/{len(bugs)}   {row.get('note', '')}"
        )
    print()
    for row in rows:
        print(f"{row['method']}: {', '.join(row['fixed']) or '-'}")
    print("\ntimings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
