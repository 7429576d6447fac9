"""Markdown rendering: tables, comparison sentence, Missing section, embedded images."""

from __future__ import annotations

import pytest

from coral_dagster.reporting import ExperimentReport, ParetoEntry, render_markdown


def test_markdown_has_every_table(full_report: ExperimentReport) -> None:
    md = render_markdown(full_report)
    assert md.startswith("# CORAL experiment report: quick\n")
    for heading in (
        "## Fitness per generation",
        "## Pareto front",
        "## Adapter cache",
        "## Stage timings",
        "## Held-out evaluation",
        "### Comparisons (paired bootstrap over the same problems)",
        "## Configuration",
    ):
        assert f"\n{heading}\n" in md
    assert "## Missing" not in md
    assert "| generation | best fitness | mean fitness | diversity | genomes | failed |" in md
    assert "| g0000 | 0.412 | 0.281 | 0.740 | 4 | 1 |" in md
    assert "| g0002 | 0.603 | 0.497 | 0.550 | 4 | 0 |" in md
    assert "| 3 | 5 | 62.5% | 1,234.5 |" in md
    assert "| train | 812.4 | 70.1% |" in md
    assert "| **total** | **1,158.8** | 100.0% |" in md
    assert "best fitness 0.603 in g0002" in md
    assert "\nname: quick\n" in md  # the config, as YAML


def test_markdown_pareto_rows_sorted_by_fitness(full_report: ExperimentReport) -> None:
    md = render_markdown(full_report)
    by_fitness = sorted(full_report.pareto_front, key=lambda p: -p.fitness)
    positions = [
        md.index(f"| `{p.genome_key[:12]}` | `{p.adapter_key[:12]}` |") for p in by_fitness
    ]
    assert positions == sorted(positions)
    top = by_fitness[0]
    assert f"| {top.fitness:.3f} | adapter_type=dora, alpha=32, dropout=0.05" in md
    assert "target_modules=q_proj+v_proj | do_sample=True, max_new_tokens=192" in md


def test_markdown_heldout_table_and_sentence(full_report: ExperimentReport) -> None:
    md = render_markdown(full_report)
    heldout = full_report.heldout
    assert heldout is not None
    header = (
        "| method | problems | fully fixed | mean pass rate | 95% CI | pass@1 | 95% CI | pass@5 |"
    )
    assert header in md
    evolved = heldout.summaries[0]
    low, high = evolved.mean_pass_rate_ci
    assert (
        f"| evolved | 6 | {evolved.problems_fully_fixed} | {evolved.mean_pass_rate:.3f} | "
        f"[{low:.3f}, {high:.3f}] | {evolved.pass_at_1:.3f} |"
    ) in md
    (comparison,) = heldout.comparisons
    assert comparison.sentence.startswith("evolved vs base+neutral: +0.13 mean pass rate, 95% CI [")
    assert f"- {comparison.sentence}\n" in md
    # The fixture's seeded scores give a CI that straddles 0: not a significant difference.
    assert comparison.low < 0.0 < comparison.high
    assert comparison.sentence.endswith(": inside the interval, not a significant difference")


def test_partial_report_renders_a_missing_section(partial_report: ExperimentReport) -> None:
    md = render_markdown(partial_report)
    missing = md.split("\n## Missing\n", 1)[1].split("\n## ", 1)[0]
    assert missing.strip().splitlines() == [f"- {line}" for line in partial_report.missing_parts()]
    assert "- generation g0001: 2 of 4 genomes still being scored" in missing
    assert "- held-out evaluation: not run yet" in missing
    assert "## Held-out evaluation\n\n_Not run yet._" in md
    assert "## Pareto front\n\n_No scored genomes yet._" in md
    assert "| g0000 | 0.412 | 0.281 | 0.740 | 4 | 1 |" in md


def test_empty_report_says_nothing_is_evaluated() -> None:
    md = render_markdown(ExperimentReport(config={"name": "fresh"}))
    assert "# CORAL experiment report: fresh\n\nNothing has been evaluated yet.\n" in md
    assert "- fitness per generation: no generation has been scored yet" in md


def test_images_are_embedded_under_their_sections(full_report: ExperimentReport) -> None:
    md = render_markdown(full_report, {"fitness": "fitness.png", "heldout": "plots/heldout.png"})
    fitness_section = md.split("## Fitness per generation", 1)[1].split("\n## ", 1)[0]
    assert "![fitness per generation](fitness.png)" in fitness_section
    assert "![held-out mean pass rate per method](plots/heldout.png)" in md
    assert "](pareto" not in md
    with pytest.raises(ValueError, match=r"unknown plot names \['loss'\]"):
        render_markdown(full_report, {"loss": "loss.png"})


def test_table_cells_escape_pipes(full_report: ExperimentReport) -> None:
    entry = full_report.pareto_front[0]
    odd = ParetoEntry(
        genome_key=entry.genome_key,
        adapter_key=entry.adapter_key,
        objectives=entry.objectives,
        fitness=entry.fitness,
        knobs={"stop": "a|b"},
        genes=entry.genes,
    )
    md = render_markdown(ExperimentReport(config={}, pareto_front=(odd,)))
    row = next(line for line in md.splitlines() if line.startswith(f"| `{entry.genome_key[:12]}`"))
    assert row.endswith("| stop=a\\|b |")
    assert row.replace("\\|", "").count("|") == 11  # 10 columns


def test_heldout_section_says_how_patches_were_made(full_report: ExperimentReport) -> None:
    import dataclasses

    edit_oracle = {**full_report.config, "patch": {"format": "edit", "localization": "oracle"}}
    text = render_markdown(dataclasses.replace(full_report, config=edit_oracle))
    heldout = text[text.index("## Held-out evaluation") :]
    assert "Patches (`edit`): the model ranks every single mechanical edit" in heldout
    assert "Oracle fault localisation" in heldout and "perfect fault localisation" in heldout
    assert "unbiased estimator" in heldout and "without replacement" not in heldout

    distinct = {**edit_oracle, "patch": {**edit_oracle["patch"], "draws": "distinct"}}
    text = render_markdown(dataclasses.replace(full_report, config=distinct))
    heldout = text[text.index("## Held-out evaluation") :]
    assert "Draws without replacement (`patch.draws: distinct`)" in heldout
    assert "unbiased" not in heldout and "not that of k independent samples" in heldout

    line_none = {**full_report.config, "patch": {"format": "line", "localization": "none"}}
    text = render_markdown(dataclasses.replace(full_report, config=line_none))
    assert "No fault localisation: the model must also name the line" in text

    function = {**full_report.config, "patch": {"format": "function", "localization": "oracle"}}
    text = render_markdown(dataclasses.replace(full_report, config=function))
    assert "Patches (`function`): the model rewrites the whole buggy function." in text
    assert "fault localisation" not in text
