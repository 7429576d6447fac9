"""`coral report` on experiment homes with real Dagster runs: finished, unfinished, empty."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from coral_dagster.cli import main
from coral_dagster.orchestration.run_timings import read_run_timings
from coral_dagster.pipeline.inputs import experiment_id
from coral_dagster.reporting import ExperimentReport

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _tags(eid: str, step: str, generation: int) -> dict[str, str]:
    return {"coral/experiment": eid, "coral/step": step, "coral/generation": str(generation)}


def _report(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["report", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_unfinished_evolution_reports_what_is_missing(report_home, run_recorder, tmp_path):
    home, facts = report_home(unscored=((1, 2), (1, 3)), heldout=False)
    instance = home.instance()
    eid = experiment_id(facts.config)
    run_recorder(instance, _tags(eid, "population", 0))
    run_recorder(instance, _tags(eid, "adapter", 0))
    run_recorder(instance, _tags(eid, "genome", 1), fail=True)
    run_recorder(instance, {"coral/experiment": "another-experiment", "coral/step": "x"})

    code, out = _report("--home", str(home.path), "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    report = ExperimentReport.from_dict(data)
    assert [g.generation for g in report.generations] == [0, 1]
    assert report.missing == (
        "generation g0001: 2 of 4 genomes not scored yet",
        "held-out evaluation: not run yet on g0001",
    )
    assert sorted(report.stage_seconds) == ["adapter", "genome", "population"]  # failed run too
    assert all(seconds > 0.0 for seconds in report.stage_seconds.values())

    code, out = _report("--home", str(home.path))
    assert code == 0, out
    assert "## Pareto front" in out and "## Stage timings" in out
    missing = out.split("\n## Missing\n", 1)[1].split("\n## ", 1)[0]
    assert "- generation g0001: 2 of 4 genomes not scored yet" in missing
    assert "data:image" not in out and ".png" not in out  # stdout carries no plots

    target = tmp_path / "out" / "status.md"
    code, out = _report("--home", str(home.path), "--out", str(target))
    assert code == 0, out
    assert f"wrote {target}" in out and "missing: held-out evaluation: not run yet on g0001" in out
    markdown = target.read_text()
    assert "![fitness per generation](status-fitness.png)" in markdown
    assert "![Pareto front](status-pareto.png)" in markdown
    assert sorted(p.name for p in target.parent.iterdir()) == [
        "status-fitness.png",
        "status-pareto.png",
        "status.md",
    ]  # no held-out plot: not evaluated yet
    assert (target.parent / "status-pareto.png").read_bytes().startswith(PNG_MAGIC)


def test_finished_evolution_report_has_nothing_missing(report_home, run_recorder, tmp_path):
    home, facts = report_home()
    instance = home.instance()
    eid = experiment_id(facts.config)
    for step, generation in [("shared", 0), ("adapter", 0), ("genome", 1), ("heldout", 1)]:
        run_recorder(instance, _tags(eid, step, generation))

    target = tmp_path / "report.json"
    code, out = _report("--home", str(home.path), "--format", "json", "--out", str(target))
    assert code == 0, out
    assert out.strip() == f"wrote {target}"
    report = ExperimentReport.from_dict(json.loads(target.read_text()))
    assert report.missing == ()
    assert report.heldout is not None and report.cache is not None
    assert sorted(report.stage_seconds) == ["adapter", "genome", "heldout", "shared"]
    assert [m.method for m in report.heldout.summaries][1:] == [
        "base + neutral",
        "base + evolved knobs",
        "standard LoRA",
        "buggy unchanged",
    ]


def test_home_without_experiment_is_an_error(tmp_path):
    code, out = _report("--home", str(tmp_path / "nothing"))
    assert code == 1
    assert "holds no experiment (run `coral evolve` first)" in out


def test_run_timings_read_the_experiments_runs(report_home, run_recorder):
    home, facts = report_home(generations=1, heldout=False)
    instance = home.instance()
    eid = experiment_id(facts.config)
    first = run_recorder(instance, _tags(eid, "population", 0))
    failed = run_recorder(instance, _tags(eid, "genome", 0), fail=True)
    timings = read_run_timings(instance, eid)
    assert [(t.run_id, t.step, t.generation, t.status) for t in timings] == [
        (first, "population", 0, "SUCCESS"),
        (failed, "genome", 0, "FAILURE"),
    ]
    assert all(not t.in_flight and t.seconds is not None and t.seconds > 0 for t in timings)
    assert [t.run_id for t in read_run_timings(instance, eid, exclude_run_ids={first})] == [failed]

    untagged = run_recorder(instance, {"coral/experiment": eid})
    with pytest.raises(ValueError, match=f"run {untagged} of experiment {eid} lacks"):
        read_run_timings(instance, eid)


def test_csv_is_the_statistics_table(report_home, tmp_path):
    import pandas as pd

    from coral_dagster.pipeline.statistics import COLUMNS, genome_table

    home, _ = report_home()
    code, out = _report("--home", str(home.path), "--format", "csv")
    assert code == 0, out
    target = tmp_path / "stats.csv"
    code, message = _report("--home", str(home.path), "--format", "csv", "--out", str(target))
    assert code == 0 and f"wrote {target} (8 rows)" in message
    for text in (out, target.read_text()):
        assert text.splitlines()[0].split(",") == list(COLUMNS)
    table = pd.read_csv(target)
    expected = genome_table(home.store())
    assert list(table["genome_key"]) == list(expected["genome_key"])
    assert list(table["fitness"]) == pytest.approx(list(expected["fitness"]))
    assert list(table["adapter_reused"]) == list(expected["adapter_reused"])
