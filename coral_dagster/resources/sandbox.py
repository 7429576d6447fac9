"""The sandbox resource: builds the evaluator that runs candidate programs' tests."""

from __future__ import annotations

from dagster import ConfigurableResource

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.benchmark.problems import ProblemSet
from coral_dagster.domain.config import SandboxConfig

_EVALUATORS: dict[tuple[str, str], Evaluator] = {}


class SandboxResource(ConfigurableResource):
    """The sandbox for candidate programs. `backend`: empty to use the experiment config's
    (`bwrap` by default), or an override."""

    backend: str = ""

    def evaluator(self, problem_set: ProblemSet, config: SandboxConfig) -> Evaluator:
        """One evaluator per (problem set, sandbox config) per process, so the correct programs'
        baseline timings are measured once, not once per genome."""
        if self.backend:
            config = config.model_copy(update={"backend": self.backend})
        key = (problem_set.fingerprint(), config.model_dump_json())
        if key not in _EVALUATORS:
            _EVALUATORS[key] = Evaluator(problem_set, config)
        return _EVALUATORS[key]
