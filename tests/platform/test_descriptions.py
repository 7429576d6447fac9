"""Every description the UI renders (assets, checks, jobs, the sensor, resources) is plain
Markdown: single backticks for code, never reStructuredText's double ones."""

from __future__ import annotations

from coral_dagster.definitions import defs


def _descriptions() -> dict[str, str]:
    found: dict[str, str] = {}
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        found[f"asset {key.to_user_string()}"] = graph.get(key).description or ""
    for assets_def in [*defs.assets, *defs.asset_checks]:
        for spec in getattr(assets_def, "check_specs", ()):
            found[f"check {spec.name}"] = spec.description or ""
    for job in defs.resolve_all_job_defs():
        found[f"job {job.name}"] = job.description or ""
    for sensor in defs.sensors:
        found[f"sensor {sensor.name}"] = sensor.description or ""
    resources = defs.get_repository_def().get_top_level_resources()
    for name, resource in resources.items():
        found[f"resource {name}"] = resource.description or ""
    return found


def test_descriptions_are_markdown_without_double_backticks():
    descriptions = _descriptions()
    assert {"asset problems", "asset validation_scores", "job coral_heldout"} <= set(descriptions)
    assert any(name.startswith("check ") for name in descriptions)
    assert any(name.startswith("resource ") for name in descriptions)
    offending = {name: text for name, text in descriptions.items() if "``" in text}
    assert offending == {}


def test_every_asset_job_and_sensor_has_a_description():
    empty = [
        name
        for name, text in _descriptions().items()
        if not text.strip() and not name.startswith("job __")
    ]
    assert empty == []
