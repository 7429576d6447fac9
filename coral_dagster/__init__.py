"""CORAL on Dagster: evolving cellular-automaton + LoRA genomes for automated program repair."""

__version__ = "0.1.0"
