"""Which bugs can an ``edit`` candidate fix at all, per split: can the validation split separate
genomes?

    python bench/edit_reach.py --config configs/quixbugs.yaml
    python bench/edit_reach.py --config configs/quixbugs.yaml --validation-fraction 0.4 \\
        --train-fraction 0.55

An ``edit`` genome only orders the single mechanical edits of the marked line, so on a bug no
edit fixes, every genome's best sample is the same near miss and the bugfix objective cannot
tell genomes apart. For the config's bundled problem set (oracle localisation, the config's
``patch`` settings) this runs every candidate's tests in the sandbox and prints, per split, how
many programs have a fixing candidate (``bench/repair.py``'s ``edit_ceiling``), the candidates
per program and the mean pass rate of a perfect ranking. No model is loaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml
from repair import REPO, edit_ceiling

from coral_dagster.domain.config import parse_config
from coral_dagster.pipeline.inputs import load_inputs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "quixbugs.yaml")
    parser.add_argument("--train-fraction", type=float, default=None)
    parser.add_argument("--validation-fraction", type=float, default=None)
    args = parser.parse_args()

    raw = yaml.safe_load(args.config.read_text())
    benchmark = raw.setdefault("benchmark", {})
    benchmark.pop("heldout_dataset", None)  # the bundled splits only
    split = benchmark.setdefault("split", {})
    if args.train_fraction is not None:
        split["train_fraction"] = args.train_fraction
    if args.validation_fraction is not None:
        split["validation_fraction"] = args.validation_fraction
    raw.setdefault("patch", {}).update(format="edit", localization="oracle")
    inputs = load_inputs(parse_config(raw))
    print(
        f"{inputs.problem_set.root.name}: split seed {inputs.config.benchmark.split.seed}, "
        f"train {inputs.config.benchmark.split.train_fraction}, "
        f"validation {inputs.config.benchmark.split.validation_fraction}"
    )
    splits = {
        "train": inputs.split.train,
        "validation": inputs.validation_names,
        "test": inputs.split.test,
    }
    for name, names in splits.items():
        reach = edit_ceiling(inputs.problem_set, names, inputs.config)
        per_program = reach["candidates"] / max(1, reach["programs"])
        print(
            f"{name:<10} {reach['fixable']:>3}/{reach['programs']:<3} fixable by an edit  "
            f"{per_program:5.1f} candidates/program  perfect ranking mean pass "
            f"{reach['perfect_ranking_mean_pass_greedy']:.3f} (greedy)  "
            f"{', '.join(reach['fixable_programs'])}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
