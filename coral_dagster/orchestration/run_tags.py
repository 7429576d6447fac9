"""Tags on CORAL's Dagster runs, and the run statuses the planner groups them by."""

from dagster import DagsterRunStatus

IN_FLIGHT = (
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
)
FAILED = (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)

TAG_EXPERIMENT = "coral/experiment"
TAG_STEP = "coral/step"  # the step table's step
TAG_TASK = "coral/task"  # what attempts count per: the step, or "score-failure"
TAG_PARTITION = "coral/partition"
TAG_RUN_KEY = "coral/run-key"
TAG_DRIVER = "coral/driver"  # host:pid:start-time of the `coral evolve` process
TAG_GENERATION = "coral/generation"
