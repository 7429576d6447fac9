import json
import os
import subprocess
import sys

import pytest
from domain_helpers import REPO

from coral_dagster.domain.config import load_config
from coral_dagster.domain.genome import HeavyGenes
from coral_dagster.domain.hashing import adapter_key, canonical_json, genome_key
from coral_dagster.domain.mappings import derive_knobs
from coral_dagster.domain.population import initial_population
from coral_dagster.domain.records import KeyContext, population_keys

GENERATION_ZERO_KEYS = """
import json
from coral_dagster.domain.config import load_config
from coral_dagster.domain.population import initial_population
from coral_dagster.domain.records import KeyContext, population_keys
config = load_config("configs/quick.yaml")
context = KeyContext("base", "train", {"max_steps": 4, "code_version": "t1"}, "eval")
rows = population_keys(initial_population(config), config, context)
print(json.dumps([[g.to_dict(), k.to_dict(), a, b] for g, k, a, b in rows]))
"""


def test_generation_zero_keys_are_identical_across_processes_and_hash_seeds():
    outputs = []
    for hash_seed in ("0", "4242", "random"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", GENERATION_ZERO_KEYS],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1] == outputs[2]
    config = load_config(REPO / "configs" / "quick.yaml")
    context = KeyContext("base", "train", {"max_steps": 4, "code_version": "t1"}, "eval")
    here = population_keys(initial_population(config), config, context)
    assert json.loads(outputs[0]) == [[g.to_dict(), k.to_dict(), a, b] for g, k, a, b in here]


def test_record_layout_and_key_consistency(quick_config, quick_population, key_context):
    rows = population_keys(quick_population, quick_config, key_context)
    assert [row[0] for row in rows] == list(quick_population)
    for genome, knobs, a_key, g_key in rows:
        assert knobs == derive_knobs(genome.seed, quick_config.knobs)
        assert a_key == adapter_key(
            genome.genes,
            key_context.base_model_id,
            key_context.training_data_fingerprint,
            key_context.training_config,
        )
        assert g_key == genome_key(a_key, genome.seed, knobs, key_context.evaluation_fingerprint)
    assert len({row[3] for row in rows}) == len(rows)


def test_same_genes_share_an_adapter_but_not_a_genome_key(quick_population, key_context):
    a, b = quick_population[:2]
    ctx = (key_context.base_model_id, key_context.training_data_fingerprint, {"v": 1})
    assert adapter_key(a.genes, *ctx) == adapter_key(HeavyGenes(**a.genes.to_dict()), *ctx)
    knobs = derive_knobs(a.seed, load_config(REPO / "configs" / "quick.yaml").knobs)
    key = adapter_key(a.genes, *ctx)
    assert genome_key(key, a.seed, knobs, "eval") != genome_key(key, b.seed, knobs, "eval")


def test_int_float_and_list_tuple_spellings_give_the_same_key():
    genes = dict(rank=16, alpha=16, dropout=0.0, adapter_type="lora", learning_rate=0.001)
    as_list = HeavyGenes(target_modules=["q_proj", "v_proj"], **genes)
    as_tuple = HeavyGenes(
        target_modules=("v_proj", "q_proj"), **{**genes, "alpha": 16.0, "rank": 16.0}
    )
    assert adapter_key(as_list, "m", "d", {"lr_steps": 16}) == adapter_key(
        as_tuple, "m", "d", {"lr_steps": 16.0}
    )
    assert canonical_json({"x": [1, 2]}) == canonical_json({"x": (1.0, 2.0)})


@pytest.mark.parametrize(
    "changed",
    [
        ("other-model", "d", {"s": 1}),
        ("m", "other-train-split", {"s": 1}),
        ("m", "d", {"s": 2}),
    ],
)
def test_different_model_data_or_training_gives_a_different_adapter_key(changed):
    genes = HeavyGenes(4, 8.0, 0.0, ("q_proj",), "lora", 1e-4)
    assert adapter_key(genes, "m", "d", {"s": 1}) != adapter_key(genes, *changed)


def test_key_context_is_frozen(key_context):
    with pytest.raises(AttributeError):
        key_context.base_model_id = "other"
