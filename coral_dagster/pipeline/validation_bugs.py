"""The ``validation_bugs`` stage: hard injected bugs that join the validation set.

The validation programs' own bugs are few, and most of those an ``edit`` can fix are fixed by
the base model's top-ranked candidate, so fitness barely tells knobs apart
(``bench/knob_tradeoff.py``). With ``benchmark.validation_bugs.mutants_per_program: n > 0`` the
validation set also holds injected bugs of the validation programs that the base model gets
wrong greedily. For each validation program (never a train, test or held-out one), up to ``n``
mutants of its correct code (``sample_mutants`` with the per-program seed ``program_seed(seed,
name)``) pass four filters in turn:

1. ``real``: the mutant fails a test in the sandbox with a wrong result or an exception
   (timeouts decide nothing, as in the training corpus: ``corpus_sandbox`` limits);
2. ``reachable``: one of its ``edit`` candidates (the experiment's ``patch`` settings) is the
   correct program (same AST);
3. ``hard``: the candidate the base model ranks first (higher score first, ties by candidate
   order, as ``draw_candidates`` ranks) fails a test with a wrong result or an exception.

A kept bug is the problem ``<program>~<i>`` (``i``: its position among the program's sampled
mutants) that runs as ``<program>.py`` with the program's tests. The set is a deterministic
function of its recipe, whose fingerprint

    validation_bugs_fingerprint = SHA-256(canonical JSON of validation programs, settings,
                                          injector and filter versions, base model id, scoring
                                          device and dtype (always CPU, float32), prompt and
                                          program-score versions, patch settings, scoring batch
                                          size, check sandbox)

is known before the set is built and enters the evaluation fingerprint (so every genome key):
``coral population`` gives generation 0's keys without a model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from coral_dagster.benchmark.corpus import INJECTOR_VERSION, program_seed
from coral_dagster.benchmark.evaluator import CandidateResult, Evaluator
from coral_dagster.benchmark.mutations import sample_mutants
from coral_dagster.benchmark.problems import Problem, ProblemSet
from coral_dagster.domain.config import ExperimentConfig
from coral_dagster.domain.hashing import content_hash
from coral_dagster.model.versions import PROGRAM_SCORE_VERSION, PROMPT_TEMPLATE_VERSION
from coral_dagster.pipeline.corpus import corpus_sandbox
from coral_dagster.pipeline.progress import Emit, Progress
from coral_dagster.pipeline.records import ValidationBug, ValidationBugs
from coral_dagster.pipeline.repair import candidate_scores, fix_rank, repair_tasks
from coral_dagster.pipeline.store import ArtifactCorrupt, ArtifactMissing, ArtifactStore

if TYPE_CHECKING:
    from coral_dagster.model.generation import PatchGenerator
    from coral_dagster.pipeline.inputs import ExperimentInputs

VALIDATION_BUGS_VERSION = "1"  # bump whenever what this module keeps changes (genome keys)
# The base model ranks the candidates on CPU in float32 wherever the set is built (a K8s CPU pod,
# a GPU box, a laptop), so one fingerprint always means one set.
SCORING = {"device": "cpu", "dtype": "float32"}
SEPARATOR = "~"  # <program>~<i>: no problem name of a QuixBugs-layout dataset holds it


def validation_bugs_fingerprint(
    config: ExperimentConfig, problem_set: ProblemSet, names: tuple[str, ...], base_model_id: str
) -> str | None:
    """The recipe's SHA-256 (see the module doc); None when the config adds no bugs."""
    settings = config.benchmark.validation_bugs
    if settings.mutants_per_program == 0:
        return None
    context = {
        "validation": [[n, problem_set.problems[n].fingerprint()] for n in names],
        "support": dict(problem_set.support_files),
        "settings": settings.model_dump(mode="json"),
        "injector": INJECTOR_VERSION,
        "filter": VALIDATION_BUGS_VERSION,
        "base_model": base_model_id,
        "scoring": SCORING,
        "prompt_template": PROMPT_TEMPLATE_VERSION,
        "patch": config.patch.model_dump(mode="json"),
        "batch_size": config.generation.batch_size,
        "check_sandbox": corpus_sandbox(config.sandbox).model_dump(mode="json"),
    }
    if config.patch.candidate_score == "program":
        context["program_score"] = PROGRAM_SCORE_VERSION
    return content_hash(context)


def bug_problem(origin: Problem, key: str, buggy_source: str) -> Problem:
    """The problem ``key``: ``origin``'s correct program and tests with ``buggy_source``."""
    return replace(origin, name=key, buggy_source=buggy_source, program=origin.program)


def fails_a_test(result: CandidateResult) -> bool:
    """A wrong result or an exception on some test: timeouts alone decide nothing, and neither
    does a test whose reference run failed (``ReferenceFailed``: the machine, not the program)."""
    return any(
        t.verdict == "fail" or (t.verdict == "error" and t.error_type != "ReferenceFailed")
        for t in result.tests
    )


def build_validation_bugs(
    inputs: ExperimentInputs,
    generator: PatchGenerator,
    make_evaluator: Callable[[ProblemSet], Evaluator],
    batch_size: int,
    report: Emit | None = None,
) -> ValidationBugs:
    """The hard injected bugs of ``inputs`` (see the module doc). ``make_evaluator`` gives an
    evaluator with ``corpus_sandbox`` limits over the problem set it is handed; ``generator``
    must hold the base model on CPU in float32 (``SCORING``)."""
    from coral_dagster.model.scoring import rank_candidates

    config, problem_set = inputs.config, inputs.problem_set
    fingerprint = inputs.validation_bugs_fingerprint
    if fingerprint is None:
        raise ValueError("benchmark.validation_bugs.mutants_per_program is 0: no bugs to build")
    scoring = {"device": generator.device.type, "dtype": str(generator.model.dtype).split(".")[-1]}
    if scoring != SCORING:
        raise ValueError(f"validation bugs are ranked with {SCORING}, got a generator on {scoring}")
    settings = config.benchmark.validation_bugs
    sampled: list[tuple[Problem, str, int]] = []  # (problem, operator, line number)
    for name in inputs.own_validation_names:
        origin = problem_set.problems[name]
        seed = program_seed(settings.seed, name)
        for i, mutant in enumerate(
            sample_mutants(origin.correct_source, settings.mutants_per_program, seed)
        ):
            key = f"{name}{SEPARATOR}{i}"
            sampled.append(
                (bug_problem(origin, key, mutant.source), mutant.operator, mutant.lineno)
            )
    extended = ProblemSet(
        problem_set.root,
        {**problem_set.problems, **{p.name: p for p, _, _ in sampled}},
        problem_set.support_files,
    )
    evaluator = make_evaluator(extended)
    checked = evaluator.evaluate_many([(p.name, p.buggy_source) for p, _, _ in sampled])
    real = [s for s, result in zip(sampled, checked, strict=True) if fails_a_test(result)]

    tasks = repair_tasks(extended, [p.name for p, _, _ in real], config.patch)
    reachable: list[tuple[Problem, str, int, list[int]]] = []
    for problem, operator, lineno in real:
        fixes = tasks[problem.name].fixing_candidates(problem.correct_source)
        if fixes:
            reachable.append((problem, operator, lineno, fixes))

    progress = Progress("validation bugs ranked", len(reachable), report, unit="bugs")
    ranked: list[tuple[ValidationBug, str]] = []  # (bug, its top-ranked candidate's program)
    for done, (problem, operator, lineno, fixes) in enumerate(reachable, start=1):
        task = tasks[problem.name]
        scores = candidate_scores(generator, task, config.patch, None, batch_size)
        bug = ValidationBug(
            problem.name,
            problem.program,
            operator,
            lineno,
            problem.buggy_source,
            fix_rank(scores, fixes),
        )
        ranked.append((bug, task.candidates[rank_candidates(scores)[0]].program))
        progress.update(done)
    tops = evaluator.evaluate_many([(bug.key, top) for bug, top in ranked])
    hard = tuple(bug for (bug, _), result in zip(ranked, tops, strict=True) if fails_a_test(result))
    funnel = {
        "sampled": len(sampled),
        "real": len(real),
        "reachable": len(reachable),
        "hard": len(hard),
    }
    return ValidationBugs(fingerprint=fingerprint, bugs=hard, funnel=funnel)


def ensure_validation_bugs(
    store: ArtifactStore, inputs: ExperimentInputs, build: Callable[[], ValidationBugs]
) -> tuple[ValidationBugs, bool]:
    """The stored set of ``inputs``' recipe, built with ``build`` and stored when missing or
    damaged; ``(set, cached)``."""
    fingerprint = inputs.validation_bugs_fingerprint
    if fingerprint is None:
        raise ValueError("benchmark.validation_bugs.mutants_per_program is 0: no bugs to build")
    if store.has_record(ValidationBugs, fingerprint):
        try:
            stored = store.read_record(ValidationBugs, fingerprint)
        except ArtifactCorrupt:
            stored = None  # damaged: built again (integrity reports it as shared-step damage)
        if stored is not None and stored.fingerprint == fingerprint:
            return stored, True
    bugs = build()
    if bugs.fingerprint != fingerprint:
        raise ValueError(
            f"built validation bugs {bugs.fingerprint[:12]}, expected {fingerprint[:12]}"
        )
    store.write_record(bugs, fingerprint)
    return bugs, False


def with_validation_bugs(inputs: ExperimentInputs, bugs: ValidationBugs) -> ExperimentInputs:
    """``inputs`` whose validation set and problem set also hold ``bugs``."""
    if bugs.fingerprint != inputs.validation_bugs_fingerprint:
        raise ValueError(
            f"validation bugs {bugs.fingerprint[:12]} are not this experiment's "
            f"({str(inputs.validation_bugs_fingerprint)[:12]})"
        )
    problems = inputs.problem_set.problems
    added = {b.key: bug_problem(problems[b.program], b.key, b.buggy_source) for b in bugs.bugs}
    clash = sorted(set(added) & set(problems))
    if clash:
        raise ValueError(f"validation bugs {clash} clash with problems of the dataset")
    extended = ProblemSet(
        inputs.problem_set.root, {**problems, **added}, inputs.problem_set.support_files
    )
    return replace(inputs, problem_set=extended, added_validation=tuple(added))


def evaluation_inputs(store: ArtifactStore, inputs: ExperimentInputs) -> ExperimentInputs:
    """The inputs genomes are generated and scored with: ``inputs`` plus the stored validation
    bugs when the config adds some (``ArtifactMissing`` naming the asset when they are not
    built yet)."""
    fingerprint = inputs.validation_bugs_fingerprint
    if fingerprint is None:
        return inputs
    if not store.has_record(ValidationBugs, fingerprint):
        path = store.path(ValidationBugs.relpath(fingerprint))
        raise ArtifactMissing(
            f"validation bugs {fingerprint[:12]} are not built: materialize the "
            f"validation_bugs asset first ({path})",
            str(path),
        )
    return with_validation_bugs(inputs, store.read_record(ValidationBugs, fingerprint))
