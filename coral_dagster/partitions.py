"""Dynamic partition sets: adapters by adapter key, genomes by genome key, generations by index."""

from dagster import DynamicPartitionsDefinition

from coral_dagster.domain.planner import (
    ADAPTER_PARTITIONS,
    GENERATION_PARTITIONS,
    GENOME_PARTITIONS,
)

adapter_partitions = DynamicPartitionsDefinition(name=ADAPTER_PARTITIONS)
genome_partitions = DynamicPartitionsDefinition(name=GENOME_PARTITIONS)
generation_partitions = DynamicPartitionsDefinition(name=GENERATION_PARTITIONS)
