"""The injected-bug corpus: (buggy -> fixed) pairs made from correct programs.

For each program named (the train split's, never a validation or test program), the bundled
pair itself comes first (``origin = "bundled"``: the problem's own buggy program and its fix),
then ``sample_mutants(correct, mutants_per_program, seed)`` (``benchmark.mutations``) with a
per-program seed ``int(sha256([seed, name])[:15], 16)``. A mutant is kept only when

- it parses (every mutant does, by construction), and
- it fails at least one of the program's tests in the sandbox with a wrong result or an
  exception (``fail`` / ``error`` verdicts). A mutant whose only failures are timeouts is left
  out: a timeout depends on the machine's load, so keeping it would make the corpus (and every
  adapter key built on it) depend on the machine. Mutants that pass every test are equivalent
  mutants, not bugs, and are left out too. Since timeouts decide nothing here, the check runs
  with a per-test wall clock of at most ``CHECK_TIMEOUT_SECONDS`` (mutants that loop forever
  are common: off-by-one loop bounds).

Pairs are deduplicated by buggy program (the first kept). Each pair records the place of the
fix in the buggy program (``hunk_start``, ``hunk_count``: 0 for a deleted line, which the fix
inserts before ``hunk_start``), the fixed line(s) and the operator that made the bug. Same
programs, seed and settings: the same pairs in the same order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.benchmark.localization import merge_hunks, oracle_hunks
from coral_dagster.benchmark.mutations import sample_mutants
from coral_dagster.benchmark.problems import ProblemSet

INJECTOR_VERSION = "1"  # bump whenever what this module keeps changes (it enters adapter keys)
CHECK_TIMEOUT_SECONDS = 1.0
BUNDLED = "bundled"


@dataclass(frozen=True)
class BugPair:
    """One training pair: ``buggy_source`` is repaired by putting ``fixed_lines`` at
    ``hunk_start`` (replacing ``hunk_count`` lines; 0: inserting) to give ``fixed_source``."""

    program: str
    origin: str  # "bundled" or "injected"
    operator: str  # the mutation operator; "bundled" for the problem's own bug
    buggy_source: str
    fixed_source: str
    hunk_start: int
    hunk_count: int
    fixed_lines: tuple[str, ...]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["fixed_lines"] = list(self.fixed_lines)
        return data


def program_seed(seed: int, name: str) -> int:
    """A 60-bit seed for one program: SHA-256 of ``[seed, name]`` as JSON."""
    text = json.dumps([seed, name], separators=(",", ":"))
    return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)


def bundled_pair(problem_set: ProblemSet, name: str) -> BugPair:
    """The problem's own bug as a pair, placed by the oracle diff of buggy vs correct."""
    problem = problem_set.problems[name]
    hunk = merge_hunks(
        problem.buggy_source, oracle_hunks(problem.buggy_source, problem.correct_source, name)
    )
    return BugPair(
        program=name,
        origin=BUNDLED,
        operator=BUNDLED,
        buggy_source=problem.buggy_source,
        fixed_source=problem.correct_source,
        hunk_start=hunk.start,
        hunk_count=hunk.count,
        fixed_lines=tuple(hunk.lines),
    )


def inject_bugs(
    problem_set: ProblemSet,
    names: Sequence[str],
    mutants_per_program: int,
    seed: int,
    evaluator: Evaluator,
) -> list[BugPair]:
    """The corpus of ``names`` (see the module doc); ``evaluator`` runs the sandboxed tests."""
    candidates: list[BugPair] = []
    for name in names:
        correct = problem_set.problems[name].correct_source
        for mutant in sample_mutants(correct, mutants_per_program, program_seed(seed, name)):
            deleted = mutant.mutated is None
            candidates.append(
                BugPair(
                    program=name,
                    origin="injected",
                    operator=mutant.operator,
                    buggy_source=mutant.source,
                    fixed_source=correct,
                    hunk_start=mutant.lineno,
                    hunk_count=0 if deleted else 1,
                    fixed_lines=(mutant.original,),
                )
            )
    results = evaluator.evaluate_many([(p.program, p.buggy_source) for p in candidates])
    pairs = [bundled_pair(problem_set, name) for name in names]
    seen = {p.buggy_source for p in pairs}
    for pair, result in zip(candidates, results, strict=True):
        real_bug = any(t.verdict in ("fail", "error") for t in result.tests)
        if real_bug and pair.buggy_source not in seen:
            seen.add(pair.buggy_source)
            pairs.append(pair)
    return pairs
