"""Batched genome runs: the same text alone or in a batch, and a failing genome fails alone."""

from __future__ import annotations

import shutil
from pathlib import Path

from dagster import AssetKey
from platform_helpers import write_config

from coral_dagster.definitions import build_defs
from coral_dagster.domain.planner import Step
from coral_dagster.model.generation import PatchGenerator
from coral_dagster.orchestration.driver import execute_step, plan_once
from coral_dagster.orchestration.facts import read_planner_input
from coral_dagster.orchestration.home import Home, prepare_home
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.generation import generate_batch, generate_code
from coral_dagster.pipeline.inputs import experiment_id, load_inputs
from coral_dagster.pipeline.population import load_population
from coral_dagster.resources.model_runtime import _resolved


def test_a_genome_generates_the_same_text_alone_and_in_a_mixed_batch(
    finished_home: Path, tmp_path: Path
):
    home = Home(finished_home)
    inputs = load_inputs(home.config())
    store = home.store()
    genomes = load_population(store, 0).genomes
    assert {g.genes.adapter_type for g in genomes} == {"lora", "dora"}  # both kinds mixed
    base = _resolved(inputs.config.model.base_model, str(Path(home.path) / "cache" / "models"))
    generator = PatchGenerator(base, device="cpu")
    batch = generate_batch(store, genomes, inputs, generator, tmp_path / "adapters")
    for genome, batched in zip(genomes, batch, strict=True):
        alone = generate_code(store, genome, inputs, generator, tmp_path / "adapters")
        assert [o.raw_text for o in alone.outputs] == [o.raw_text for o in batched.outputs]
        assert [o.program for o in alone.outputs] == [o.program for o in batched.outputs]
    assert generator.adapter_names == ()  # every adapter unloaded after its step


def test_a_genome_that_fails_inside_a_batch_fails_alone(
    tmp_path: Path, model_cache: Path, monkeypatch
):
    monkeypatch.setenv("CORAL_CACHE_DIR", str(model_cache))
    home = prepare_home(write_config(tmp_path / "tiny.yaml"), tmp_path / "home")
    defs = build_defs(home.path)
    instance, config = home.instance(), home.config()
    eid = experiment_id(config)
    while True:  # shared, population, adapters: until the first batch of genomes is planned
        plan = plan_once(home, instance, config, eid)
        batches = [r for r in plan.requests if r.step is Step.GENERATE]
        if batches:
            break
        for request in plan.requests:
            assert execute_step(defs, instance, request, eid)
    (batch,) = batches
    assert len(batch.partitions) == 4
    genomes = load_population(home.store(), 0).genomes
    # Break one genome's adapter, an adapter no other genome of the batch uses.
    adapters = [g.adapter_key for g in genomes]
    victim = next(g for g in genomes if adapters.count(g.adapter_key) == 1)
    shutil.rmtree(Path(home.store().path(layout.adapter_dir(victim.adapter_key)).path))

    assert not execute_step(defs, instance, batch, eid)  # the run fails, naming the victim
    done = instance.get_materialized_partitions(AssetKey("generated_code"))
    assert done == {g.partition_key for g in genomes} - {victim.partition_key}
    state = read_planner_input(instance, home.store(), config, eid)
    failures = {k[1]: v.failures for k, v in state.steps.items() if k[0] == "generate"}
    assert failures[victim.partition_key] == 1
    assert all(failures[g.partition_key] == 0 for g in genomes if g is not victim)
    # The next plan retrains the victim's adapter, then generates the victim alone.
    plan = plan_once(home, instance, config, eid)
    assert [(r.step, r.partitions) for r in plan.requests] == [
        (Step.ADAPTER, (victim.adapter_partition_key,)),
        (Step.SCORE, tuple(g.partition_key for g in genomes if g is not victim)),
    ]
