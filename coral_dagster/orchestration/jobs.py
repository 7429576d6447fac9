"""Asset jobs, one per job name of the step table (steps of one job share a partition set).

Every run CORAL makes, by the sensor, by ``coral evolve`` or by a backfill, is a run of one of
these jobs with the step's assets selected, so the UI's job pages, timeline and run pages show
all of them.
"""

from __future__ import annotations

from dagster import AssetKey, define_asset_job

from coral_dagster.orchestration.partitions import partitions_def
from coral_dagster.orchestration.steps import JOB_DESCRIPTIONS, assets_of_job, job_partitions, jobs

ALL_JOBS = [
    define_asset_job(
        name,
        selection=[AssetKey(a) for a in assets_of_job(name)],
        partitions_def=partitions_def(job_partitions(name)),
        description=JOB_DESCRIPTIONS[name],
    )
    for name in jobs()
]
