"""An interrupted held-out evaluation keeps every (method, problem) whose samples it generated:
the next attempt generates only the missing ones, and the result is the same."""

from __future__ import annotations

from pathlib import Path

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.model.base_model import resolve_base_model
from coral_dagster.model.generation import PatchGenerator
from coral_dagster.orchestration.home import Home
from coral_dagster.pipeline.heldout import evaluate_heldout
from coral_dagster.pipeline.inputs import load_inputs
from coral_dagster.pipeline.records import HeldoutResult, HeldoutSamples


class CountingGenerator:
    """The real generator, recording the request ids it is asked to generate."""

    def __init__(self, generator: PatchGenerator):
        self.generator, self.asked = generator, []

    def generate(self, requests, *args, **kwargs):
        self.asked += [r.request_id for r in requests]
        return self.generator.generate(requests, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.generator, name)


def answers(record: HeldoutSamples) -> list[tuple]:
    return [(o.problem_name, o.raw_text, o.program, o.failure) for o in record.outputs]


def test_a_resumed_heldout_evaluation_generates_only_the_missing_samples(
    copied_home: Path, model_cache: Path, tmp_path: Path, cache_env
):
    home = Home(copied_home)
    store, config = home.store(), home.config()
    inputs = load_inputs(config)
    first = store.read_record(HeldoutResult, 1)
    records = {
        p.stem: store.read_record(HeldoutSamples, p.stem)
        for p in store.path("heldout_samples").glob("*.json")
    }
    methods = len(first.summaries) - 1  # every method but the buggy program itself
    assert len(records) == methods * len(first.test_problems)
    # as if interrupted: one problem has nothing stored, another one method fewer
    problem = first.test_problems[0]
    lost = {k for k, r in records.items() if r.request_id.endswith(f"|{problem}")}
    lost.add(next(k for k, r in records.items() if k not in lost))
    assert len(lost) == methods + 1
    for key in lost:
        store.path(HeldoutSamples.relpath(key)).unlink()
    # and one hand-damaged record: said, then generated again
    damaged = next(k for k in records if k not in lost)
    path = store.path(HeldoutSamples.relpath(damaged))
    path.write_text(path.read_text()[:-40])
    lost.add(damaged)

    base = resolve_base_model(config.model.base_model, model_cache)
    generator = CountingGenerator(PatchGenerator(base))
    lines: list[str] = []
    result = evaluate_heldout(
        store,
        inputs,
        1,
        base,
        generator,
        Evaluator(inputs.heldout_set, config.sandbox),
        tmp_path / "local",
        tmp_path / "adapters",
        report=lines.append,
    )

    asked = {request_id.rsplit("#", 1)[0] for request_id in generator.asked}
    assert asked == {records[k].request_id for k in lost}
    for key in lost:  # regenerated the same samples, and stored them again
        assert answers(store.read_record(HeldoutSamples, key)) == answers(records[key])
    n = config.heldout.samples_per_problem
    assert any(
        line.endswith(f": {(len(records) - len(lost)) * n} samples stored by an earlier attempt")
        for line in lines
    ), lines
    assert any(str(path) in line and "generating them again" in line for line in lines), lines
    # the stored record keeps 12 decimals
    assert [
        (s.method, s.fully_fixed_problems, round(s.mean_pass_rate, 9)) for s in result.summaries
    ] == [(s.method, s.fully_fixed_problems, round(s.mean_pass_rate, 9)) for s in first.summaries]
