"""What the UI shows of a genome and a report: code per problem, verdicts, a reason for every
zero score, genes and knobs as text, the held-out pass rates as plottable numbers."""

from __future__ import annotations

from types import SimpleNamespace

from coral_dagster.assets.metadata import (
    code_entries,
    generations_text,
    genes_text,
    heldout_pass_rates,
    knobs_text,
    score_reason,
    verdicts_markdown,
)
from coral_dagster.benchmark.evaluator import CandidateResult, TestVerdict
from coral_dagster.domain.config import OBJECTIVES
from coral_dagster.domain.genome import CheapKnobs, HeavyGenes
from coral_dagster.pipeline.records import PatchOutput, Scores
from coral_dagster.pipeline.scoring import failed_scores

KEY = "a" * 64


def _result(problem, verdicts, error_type=None, detail=""):
    tests = [
        TestVerdict(
            index=i,
            verdict=v,
            seconds=0.01,
            error_type=None if v == "pass" else error_type,
            detail="" if v == "pass" else detail,
        )
        for i, v in enumerate(verdicts)
    ]
    passed = sum(v == "pass" for v in verdicts)
    return CandidateResult(
        problem=problem,
        tests=tests,
        passed=passed,
        total=len(verdicts),
        objectives=dict.fromkeys(OBJECTIVES, passed / len(verdicts)),
    )


def _scores(results, fitness):
    return Scores(
        genome_key=KEY,
        failed=False,
        reason="",
        objectives=dict.fromkeys(OBJECTIVES, fitness),
        fitness=fitness,
        passed=sum(r.passed for r in results),
        total=sum(r.total for r in results),
        results=tuple(results),
    )


def test_a_zero_score_always_says_why():
    no_program = [
        _result("bitcount", ["error", "error"], "NoProgram", "no program was given"),
        _result("gcd", ["error"], "NoProgram", "no program was given"),
        _result("lis", ["fail", "fail"], "AssertionError", "expected 3, got 2"),
    ]
    reason = score_reason(_scores(no_program, 0.0))
    assert reason == (
        "no test passed (0/5); bitcount, gcd: NoProgram: no program was given; "
        "lis: AssertionError: expected 3, got 2"
    )
    assert score_reason(failed_scores(KEY, "generate: run x failed: CUDA OOM")) == (
        "generate: run x failed: CUDA OOM"
    )
    assert score_reason(_scores([], 0.0)).startswith("no test was run")
    passing = [_result("gcd", ["pass", "fail"], "AssertionError", "off by one")]
    assert score_reason(_scores(passing, 0.4)) == "-"


def test_verdict_table_names_the_first_failing_test_and_its_error():
    results = [
        _result("gcd", ["pass", "fail", "fail"], "AssertionError", "expected 3 | got 2"),
        _result("lis", ["pass"]),
    ]
    table = verdicts_markdown(_scores(results, 0.5)).splitlines()
    assert table[0] == "| problem | passed | first failing test | error |"
    assert table[2] == "| gcd | 1/3 | #1 (fail) | AssertionError: expected 3 \\| got 2 |"
    assert table[3] == "| lis | 1/1 | - | - |"


def test_code_is_one_entry_per_problem_and_raw_answers_are_wrapped():
    program = "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n"
    outputs = [
        PatchOutput("r1", "gcd", "```python\n" + program + "```", program, "", 10, 20, 0.1),
        PatchOutput("r2", "lis", "word " * 60, None, "no function in the answer", 10, 60, 0.1),
        PatchOutput("r3", "bitcount", "   ", None, "", 10, 0, 0.1),
    ]
    entries = code_entries(outputs)
    assert list(entries) == ["code: gcd", "code: lis", "code: bitcount"]
    assert entries["code: gcd"] == "```python\n" + program.rstrip() + "\n```"
    raw = entries["code: lis"]
    assert raw.startswith("no program (no function in the answer); the answer began:\n\n```text\n")
    assert max(len(line) for line in raw.splitlines()) <= 72
    assert entries["code: bitcount"] == "no program: the answer was empty"
    assert all(len(text) < 1000 for text in entries.values())  # shown inline by the UI
    samples = code_entries([outputs[0], outputs[0]])  # several samples of a problem
    assert list(samples) == ["code: gcd #0", "code: gcd #1"]


def test_genes_knobs_and_generations_read_as_text():
    genes = HeavyGenes(4, 8.0, 0.0, ("q_proj", "v_proj"), "dora", 0.001)
    knobs = CheapKnobs(1.138839, 0.863795, 89, 1.235714, 16, True)
    assert genes_text(genes) == "dora, rank 4, alpha 8, dropout 0, lr 0.001, modules q_proj v_proj"
    assert knobs_text(knobs) == (
        "sampling, temperature 1.14, top_p 0.86, top_k 89, repetition penalty 1.24, "
        "max 16 new tokens"
    )
    greedy = CheapKnobs(1.0, 1.0, 50, 1.1, 32, False)
    assert knobs_text(greedy).startswith("greedy, repetition penalty 1.10")
    assert generations_text([1, 0, 1]) == "g0000, g0001"


def test_heldout_pass_rates_have_the_same_keys_on_every_partition():
    def summary(method, rate):
        return SimpleNamespace(method=method, mean_pass_rate=rate)

    rates = heldout_pass_rates(
        [
            summary("evolved #1 (56c8679f)", 0.25),
            summary("evolved #2 (0b1c2d3e)", 0.2),
            summary("evolved #10 (0b1c2d3e)", 0.1),
            summary("base + neutral", 0.0),
            summary("base + evolved knobs", 0.05),
            summary("standard LoRA", 0.1),
            summary("buggy unchanged", 0.7),
        ]
    )
    assert rates == {
        "pass_rate_best_evolved": 0.25,
        "pass_rate_base_neutral": 0.0,
        "pass_rate_base_evolved_knobs": 0.05,
        "pass_rate_standard_lora": 0.1,
        "pass_rate_buggy_unchanged": 0.7,
    }
