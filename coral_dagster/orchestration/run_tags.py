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
TAG_BATCH = "coral/batch-size"  # genome partitions a batch run covers
# Set (to RETRIED) by `coral retry-failed` on a finished run: its failure no longer counts as
# an attempt, and a failure record it made no longer counts as the genome's scores.
TAG_RETRIED = "coral/retried"
RETRIED = "true"
# Dagster's own tags for a partition-range run (one run over several partitions).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

# Dagster's label of the repository a run belongs to (`<repository>@<code location>`), a hidden
# tag that the UI's job pages filter runs by. Runs launched through a code location (sensor, UI,
# backfill) get it from Dagster; `coral evolve`'s in-process runs set it themselves, so the job
# pages list them too. A `Definitions` object is the repository `__repository__`.
REPOSITORY_TAG = ".dagster/repository"
