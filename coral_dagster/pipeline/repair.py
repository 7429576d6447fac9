"""Turning the model's answers into candidate programs, in the three patch formats.

Per problem a ``RepairTask`` holds what the model is shown and, for ``edit``, the candidates:

- ``function``: the buggy program; the answer is a whole function (``model.extraction``).
- ``line``: the numbered buggy program with the fix's place marked (``oracle``: the lines that
  differ between the buggy and the correct program, ``benchmark.localization``; ``none``: no
  mark); the answer is only the replacement line(s) (``N: code`` with ``none``), applied with
  the place's indentation (``benchmark.patches``). A malformed answer gives no program and a
  reason, never a guess.
- ``edit``: every single mechanical edit of the marked line(s), or of every code line with
  ``none`` (``benchmark.mutations``; insertions at a missing-line place), at most
  ``patch.max_candidates``; each candidate is the answer text it stands for. The model scores
  each candidate (``model.scoring``; ``candidate_scores``) as the answer (log-likelihood, per
  token with ``candidate_score: mean``, in total with ``sum``) or as the whole patched program
  read as plain text (``program``), once per (problem, adapter), and the
  knobs draw from the scores (``model.scoring.draw_candidates``: temperature, top-k, top-p;
  greedy when sampling is off): i.i.d. draws, as sampled generations would be, or with
  ``patch.draws: distinct`` without replacement, so no candidate is tried twice while the
  knobs' pool lasts (an APR tool validates a patch once).

``PatchRequest`` asks for ``samples`` candidates of one problem with one adapter and knobs;
``generate_patches`` serves a list of them in model batches and returns one ``PatchOutput`` per
sample, in request order.
"""

from __future__ import annotations

import ast
import textwrap
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from coral_dagster.benchmark.localization import Hunk, code_lines, merge_hunks, oracle_hunks
from coral_dagster.benchmark.mutations import LineEdit, insertion_edits, line_edits
from coral_dagster.benchmark.patches import apply_lines, try_patch
from coral_dagster.benchmark.problems import ProblemSet
from coral_dagster.domain.config import PatchConfig
from coral_dagster.domain.genome import CheapKnobs
from coral_dagster.domain.hashing import content_hash
from coral_dagster.pipeline.progress import Emit, Progress
from coral_dagster.pipeline.records import PatchOutput

if TYPE_CHECKING:  # the model layer (torch) is imported where used
    from coral_dagster.model.generation import PatchGenerator
    from coral_dagster.model.prompts import LineTask


@dataclass(frozen=True)
class Candidate:
    """An ``edit`` candidate: the answer text the model scores and the program it makes."""

    answer: str
    program: str
    operator: str


@dataclass(frozen=True)
class RepairTask:
    """What the model is shown for one problem, and the ``edit`` candidates. ``name`` is the
    problem's key, ``program`` the function the prompt names (default ``name``)."""

    name: str
    buggy_source: str
    place: Hunk | None  # the oracle's place; None with localization none (or format function)
    candidates: tuple[Candidate, ...] = ()
    program: str = ""

    def __post_init__(self) -> None:
        if not self.program:
            object.__setattr__(self, "program", self.name)

    def line_task(self) -> LineTask:
        from coral_dagster.model.prompts import LineTask

        if self.place is None:
            return LineTask(self.program, self.buggy_source, None)
        return LineTask(self.program, self.buggy_source, self.place.start, self.place.count)

    def fixing_candidates(self, correct_source: str) -> list[int]:
        """Indices of the candidates whose program is ``correct_source`` (compared as ASTs, so
        spelling such as quotes or parentheses does not matter; candidates always parse)."""
        correct = ast.dump(ast.parse(correct_source))
        return [
            k for k, c in enumerate(self.candidates) if ast.dump(ast.parse(c.program)) == correct
        ]


def fix_rank(scores: Sequence[float], fixes: Sequence[int]) -> int:
    """1-based rank of the best-ranked of the candidates ``fixes`` when candidates are ordered
    by ``scores`` as ``model.scoring.rank_candidates`` orders them."""
    from coral_dagster.model.scoring import rank_candidates

    order = rank_candidates(scores)
    return 1 + min(order.index(k) for k in fixes)


def sample_seed(*parts: object) -> int:
    """A 63-bit seed from content: SHA-256 of the canonical JSON of ``parts``."""
    return int(content_hash(list(parts))[:15], 16)


def oracle_place(problem_set: ProblemSet, name: str) -> Hunk:
    """The lines that differ between the buggy and the correct program (one hunk)."""
    problem = problem_set.problems[name]
    hunks = oracle_hunks(problem.buggy_source, problem.correct_source, name)
    return merge_hunks(problem.buggy_source, hunks)


def _edits_at(source: str, place: Hunk, cap: int) -> list[tuple[int, int, LineEdit]]:
    """(start, count, edit) for the single edits of the place's lines (or insertions)."""
    if place.is_insertion:
        edits = insertion_edits(source, place.start, place.indent, max_candidates=cap)
        return [(place.start, 0, e) for e in edits]
    out = []
    for lineno in range(place.start, place.end + 1):
        out += [(lineno, 1, e) for e in line_edits(source, lineno, max_candidates=cap)]
    return out[:cap]


def answer_text(lines: Sequence[str]) -> str:
    """The lines an answer holds, as the model writes them: dedented together (a single line
    without its indentation; the patch puts them at the place's indentation)."""
    return textwrap.dedent("\n".join(line.rstrip() for line in lines)).strip("\n")


def edit_candidates(
    name: str, source: str, place: Hunk | None, patch: PatchConfig
) -> list[Candidate]:
    """The ``edit`` candidates of ``source``: the single edits of ``place``'s line(s) (an
    insertion place: the insertion candidates), or of every code line when ``place`` is None,
    at most ``patch.max_candidates``, in the mutation operators' order."""
    from coral_dagster.model.prompts import LineTask, line_response_text, numbered_response_text

    cap = patch.max_candidates
    if place is not None:
        task = LineTask(name, source, place.start, place.count)
        edits = _edits_at(source, place, cap)
    else:
        lines = [c.lineno for c in code_lines(source, name)]
        per_line = max(1, cap // max(len(lines), 1))
        edits = [(n, 1, e) for n in lines for e in line_edits(source, n, max_candidates=per_line)][
            :cap
        ]
    out = []
    for start, count, edit in edits:
        if place is not None and count == 0:
            program = apply_lines(source, start, 0, [edit.text.strip()], place.indent)
        else:
            indent = edit.text[: len(edit.text) - len(edit.text.lstrip())]
            program = apply_lines(source, start, 1, [edit.text.strip()], indent)
        answer = (
            line_response_text(task, [answer_text([edit.text])])
            if place is not None
            else numbered_response_text(start, [answer_text([edit.text])])
        )
        out.append(Candidate(answer=answer, program=program, operator=edit.operator))
    return out


def repair_tasks(
    problem_set: ProblemSet, names: Sequence[str], patch: PatchConfig
) -> dict[str, RepairTask]:
    """The ``RepairTask`` of each problem for ``patch``."""
    tasks = {}
    for name in names:
        problem = problem_set.problems[name]
        source = problem.buggy_source
        place = None
        if patch.format != "function" and patch.localization == "oracle":
            place = oracle_place(problem_set, name)
        candidates = (
            tuple(edit_candidates(problem.program, source, place, patch))
            if patch.format == "edit"
            else ()
        )
        tasks[name] = RepairTask(name, source, place, candidates, problem.program)
    return tasks


@dataclass(frozen=True)
class PatchRequest:
    """``samples`` candidates for problem ``problem`` with an adapter (None: the base model)
    and knobs; ``seed`` seeds the sampling (sample ``i`` of a decoding format uses
    ``sample_seed(seed, i)``; ``edit`` draws all samples from one generator seeded ``seed``)."""

    request_id: str
    problem: str
    adapter_name: str | None
    knobs: CheapKnobs
    seed: int
    samples: int = 1


def generate_patches(
    generator: PatchGenerator,
    requests: Sequence[PatchRequest],
    tasks: dict[str, RepairTask],
    patch: PatchConfig,
    batch_size: int,
    report: Emit | None = None,
    label: str = "generated",
) -> list[list[PatchOutput]]:
    """One ``PatchOutput`` per sample of each request, in request order (see the module doc).

    ``report`` gets progress lines (``pipeline.progress``) headed ``label``, counting samples;
    in ``edit`` format a request's samples are done when its (problem, adapter) candidates are
    scored."""
    progress = Progress(label, sum(r.samples for r in requests), report)
    if patch.format == "function":
        out = _function_patches(generator, requests, tasks, batch_size, progress.update)
    elif patch.format == "line":
        out = _line_patches(generator, requests, tasks, patch, batch_size, progress.update)
    else:
        out = _edit_patches(generator, requests, tasks, patch, batch_size, progress.update)
    progress.update(progress.total)  # the complete line, also when nothing was asked for
    return out


def _samples(requests: Sequence[PatchRequest]) -> list[tuple[int, int, str, int]]:
    """(request index, sample index, sample id, sample seed) of every sample."""
    return [
        (k, i, f"{r.request_id}#{i}", sample_seed(r.seed, i) if r.samples > 1 else r.seed)
        for k, r in enumerate(requests)
        for i in range(r.samples)
    ]


def _grouped(requests: Sequence[PatchRequest], flat: list[PatchOutput]) -> list[list[PatchOutput]]:
    out, start = [], 0
    for r in requests:
        out.append(flat[start : start + r.samples])
        start += r.samples
    return out


def _function_patches(generator, requests, tasks, batch_size, progress) -> list[list[PatchOutput]]:
    from coral_dagster.model.generation import GenerationRequest

    samples = _samples(requests)
    outputs = generator.generate(
        [
            GenerationRequest(
                request_id=sid,
                adapter_name=requests[k].adapter_name,
                knobs=requests[k].knobs,
                problem_name=requests[k].problem,
                buggy_source=tasks[requests[k].problem].buggy_source,
                seed=seed,
            )
            for k, _, sid, seed in samples
        ],
        batch_size=batch_size,
        progress=progress,
    )
    flat = [
        PatchOutput(
            request_id=o.request_id,
            problem_name=o.problem_name,
            raw_text=o.raw_text,
            program=o.program,
            failure="" if o.program is not None else "no function in the answer",
            prompt_tokens=o.prompt_tokens,
            new_tokens=o.new_tokens,
            seconds=o.seconds,
        )
        for o in outputs
    ]
    return _grouped(requests, flat)


def _line_patches(
    generator, requests, tasks, patch, batch_size, progress
) -> list[list[PatchOutput]]:
    from coral_dagster.model.generation import LineRequest

    samples = _samples(requests)
    outputs = generator.generate_lines(
        [
            LineRequest(
                request_id=sid,
                adapter_name=requests[k].adapter_name,
                knobs=requests[k].knobs,
                task=tasks[requests[k].problem].line_task(),
                seed=seed,
            )
            for k, _, sid, seed in samples
        ],
        batch_size=batch_size,
        progress=progress,
    )
    flat = []
    answer_format = "line" if patch.localization == "oracle" else "none"
    for (k, _, _, _), o in zip(samples, outputs, strict=True):
        task = tasks[requests[k].problem]
        result = try_patch(task.buggy_source, o.raw_text, answer_format, task.place)
        flat.append(
            PatchOutput(
                request_id=o.request_id,
                problem_name=requests[k].problem,  # the key (the prompt names the program)
                raw_text=o.raw_text,
                program=result.program,
                failure=result.reason or "",
                prompt_tokens=o.prompt_tokens,
                new_tokens=o.new_tokens,
                seconds=o.seconds,
            )
        )
    return _grouped(requests, flat)


def candidate_scores(
    generator: PatchGenerator,
    task: RepairTask,
    patch: PatchConfig,
    adapter_name: str | None,
    batch_size: int,
) -> list[float]:
    """The model's score of each ``edit`` candidate of ``task`` (``patch.candidate_score``):
    the answer line's log-likelihood in the repair prompt per token (``mean``) or in total
    (``sum``), or the whole patched program's as plain text (``program``)."""
    from coral_dagster.model.scoring import score_line_candidates, score_program_candidates

    if patch.candidate_score == "program":
        scored = score_program_candidates(
            generator, [c.program for c in task.candidates], adapter_name, batch_size
        )
        return [s.sum_logprob for s in scored]
    scored = score_line_candidates(
        generator, task.line_task(), [c.answer for c in task.candidates], adapter_name, batch_size
    )
    return [s.mean_logprob if patch.candidate_score == "mean" else s.sum_logprob for s in scored]


def _edit_patches(
    generator, requests, tasks, patch, batch_size, progress
) -> list[list[PatchOutput]]:
    from coral_dagster.model.prompts import encode_line_prompt
    from coral_dagster.model.scoring import draw_candidates

    samples_of: Counter[tuple[str, str | None]] = Counter()
    for r in requests:
        samples_of[(r.problem, r.adapter_name)] += r.samples
    total, done = sum(samples_of.values()), 0
    scores: dict[tuple[str, str | None], tuple[list[float], float]] = {}
    for problem, adapter_name in samples_of:
        task = tasks[problem]
        values: list[float] = []
        started = time.perf_counter()
        if task.candidates:  # none: answered below as "no edit candidates"
            values = candidate_scores(generator, task, patch, adapter_name, batch_size)
        scores[(problem, adapter_name)] = (values, time.perf_counter() - started)
        done += samples_of[(problem, adapter_name)]
        if progress is not None:
            progress(done, total)
    out = []
    for r in requests:
        task = tasks[r.problem]
        prompt_tokens = len(encode_line_prompt(generator.tokenizer, task.line_task()))
        if not task.candidates:
            out.append(
                [
                    PatchOutput(
                        f"{r.request_id}#{i}",
                        r.problem,
                        "",
                        None,
                        "no edit candidates",
                        prompt_tokens,
                        0,
                        0.0,
                    )
                    for i in range(r.samples)
                ]
            )
            continue
        values, seconds = scores[(r.problem, r.adapter_name)]
        drawn = draw_candidates(
            values, r.knobs, r.samples, r.seed, distinct=patch.draws == "distinct"
        )
        out.append(
            [
                PatchOutput(
                    request_id=f"{r.request_id}#{i}",
                    problem_name=r.problem,
                    raw_text=task.candidates[c].answer,
                    program=task.candidates[c].program,
                    failure="",
                    prompt_tokens=prompt_tokens,
                    new_tokens=0,
                    seconds=seconds / r.samples,
                )
                for i, c in enumerate(drawn)
            ]
        )
    return out
