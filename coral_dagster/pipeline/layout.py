"""Where every artifact lives in the store: the one module that builds store paths.

Layout under the store's root::

    experiment.json                      the experiment this store belongs to (id + name)
    problems/<split_fingerprint>.json    problem split and key context
    corpus/<corpus_fingerprint>/         the training corpus: a Hugging Face `datasets` dataset
                                         (save_to_disk files) + MANIFEST.json
    validation_bugs/<fingerprint>.json   hard injected bugs added to the validation set
    populations/g0000.json               genomes of generation 0 (keys, seed, genes, knobs)
    adapter_specs/<adapter_key>.json     heavy genes + key context of an adapter key
    genome_specs/<genome_key>.json       genome, knobs, adapter key, first generation
    adapters/<adapter_key>/              adapter_config.json, adapter_model.safetensors,
                                         training.json, MANIFEST.json (sha256 + size of every
                                         other file, written last)
    generated/<genome_key>.json          raw output + candidate program per validation problem
    scores/<genome_key>.json             per-test verdicts and objective scores
    heldout/g0001.json                   held-out evaluation of the final generation
    heldout_samples/<sample_key>.json    one method's samples on one held-out problem, kept
                                         as generated (an interrupted evaluation resumes)
    reports/g0000/                       evolution report: report.json, report.md, PNG plots
    training_log.jsonl                   a line per adapter training (exactly-once audit)
"""

from __future__ import annotations

from coral_dagster.domain.planner import generation_key

EXPERIMENT = "experiment.json"
TRAINING_LOG = "training_log.jsonl"
MANIFEST = "MANIFEST.json"
ADAPTER_TRAINING = "training.json"


def problems(split_fingerprint: str) -> str:
    return f"problems/{split_fingerprint}.json"


def corpus_dir(corpus_fingerprint: str) -> str:
    return f"corpus/{corpus_fingerprint}"


def validation_bugs(fingerprint: str) -> str:
    return f"validation_bugs/{fingerprint}.json"


def population(generation: int) -> str:
    return f"populations/{generation_key(generation)}.json"


def populations_dir() -> str:
    return "populations"


def adapter_spec(adapter_key: str) -> str:
    return f"adapter_specs/{adapter_key}.json"


def genome_spec(genome_key: str) -> str:
    return f"genome_specs/{genome_key}.json"


def adapter_dir(adapter_key: str) -> str:
    return f"adapters/{adapter_key}"


def adapter_training(adapter_key: str) -> str:
    return f"{adapter_dir(adapter_key)}/{ADAPTER_TRAINING}"


def generated(genome_key: str) -> str:
    return f"generated/{genome_key}.json"


def scores(genome_key: str) -> str:
    return f"scores/{genome_key}.json"


def heldout(generation: int) -> str:
    return f"heldout/{generation_key(generation)}.json"


def heldout_samples(sample_key: str) -> str:
    return f"heldout_samples/{sample_key}.json"


def report_dir(generation: int) -> str:
    return f"reports/{generation_key(generation)}"
