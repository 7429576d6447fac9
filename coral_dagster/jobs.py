"""Asset jobs, one per partition set: a run request must target assets that share partitions.

The sensor launches every planned step through one of these jobs (``STEP_JOBS``), selecting
the step's assets inside it; the UI shows them as the four stages of an evolution.
"""

from dagster import define_asset_job

from coral_dagster.partitions import (
    adapter_partitions,
    generation_partitions,
    genome_partitions,
)

shared_job = define_asset_job("coral_shared", selection=["problems", "base_model"])
generation_job = define_asset_job(
    "coral_generations",
    selection=["population", "heldout_evaluation", "evolution_report"],
    partitions_def=generation_partitions,
)
adapter_job = define_asset_job(
    "coral_adapters", selection=["adapters"], partitions_def=adapter_partitions
)
genome_job = define_asset_job(
    "coral_genomes", selection=["generated_code", "test_scores"], partitions_def=genome_partitions
)

ALL_JOBS = [shared_job, generation_job, adapter_job, genome_job]

STEP_JOBS: dict[str, str] = {
    "shared": shared_job.name,
    "population": generation_job.name,
    "heldout": generation_job.name,
    "report": generation_job.name,
    "adapter": adapter_job.name,
    "genome": genome_job.name,
    "score": genome_job.name,
    "score_failed": genome_job.name,
}
