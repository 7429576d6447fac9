"""Sensors: ``evolution_sensor`` drives generation after generation."""

from coral_dagster.sensors.evolution import evolution_sensor

__all__ = ["evolution_sensor"]
