"""The sandbox resource: builds the evaluator that runs candidate programs' tests."""

from __future__ import annotations

from dagster import ConfigurableResource

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.benchmark.problems import ProblemSet
from coral_dagster.domain.config import SandboxConfig


class SandboxResource(ConfigurableResource):
    """``backend``: empty to use the experiment config's (``bwrap`` by default), or an override."""

    backend: str = ""

    def evaluator(self, problem_set: ProblemSet, config: SandboxConfig) -> Evaluator:
        if self.backend:
            config = config.model_copy(update={"backend": self.backend})
        return Evaluator(problem_set, config)
