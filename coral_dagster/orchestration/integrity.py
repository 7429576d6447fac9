"""Which stored artifacts of materialized partitions fail verification, and what to do about it.

Dagster's materialization status is the cache index, but a materialized partition is only as good
as its files: a truncated or hand-edited JSON artifact fails its SHA-256 (``ArtifactCorrupt``), a
deleted one is missing, a published directory (the training corpus, a report) fails its
manifest. ``inspect_store`` checks the artifacts of every materialized partition the evolution
still reads and returns one ``Damage`` per broken partition:

- a **population** (``populations/gNNNN.json``) is bred again; when its successor exists the
  ``population`` asset proves the rebuilt genomes equal the recorded ones
  (``recorded_population``) or refuses;
- **scores** of a genome that only the latest generation holds are recomputed (the generation has
  bred nothing from them yet); scores that an earlier generation's selection used cannot be
  recomputed without possibly changing what was selected: that damage *blocks* the evolution
  with a one-line error naming the file;
- **generated code** of a genome not scored yet is generated again (a scored genome's patches
  are read by nothing);
- a **genome spec** of a genome not scored yet, or an **adapter spec** of an adapter not trained
  yet, is written again by building the population that first holds it again;
- an **adapter** whose ``training.json`` fails is trained again (the planner's invalid
  adapters; the weights are verified against the manifest wherever they are loaded);
- a **held-out evaluation**, a **report** directory, the **training corpus** and the
  **injected validation bugs** (the shared step) are made again (both are deterministic
  functions of the fingerprint their materialization recorded).

The planner treats a damaged partition as not done (``facts.read_planner_input``); ``coral
status``, ``coral report`` and ``coral backfill`` refuse with the first damage's line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from coral_dagster.domain.partition_keys import content_key
from coral_dagster.domain.planner import (
    SHARED_PARTITION,
    Step,
    generation_index,
    generation_key,
)
from coral_dagster.orchestration.steps import STEPS, TRAINING_CORPUS, VALIDATION_BUGS
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.records import (
    AdapterSpec,
    AdapterTraining,
    GeneratedCode,
    GenomeSpec,
    HeldoutResult,
    Population,
    Scores,
    ValidationBugs,
)
from coral_dagster.pipeline.store import ArtifactCorrupt, ArtifactMissing, ArtifactStore

REPAIR = "`coral evolve` (or the evolution_sensor) makes it again"


@dataclass(frozen=True)
class Damage:
    """A materialized partition whose artifact is missing or fails verification."""

    step: Step
    partition: str
    path: str  # the file (or directory) at fault
    problem: str
    blocked: str = ""  # why it cannot be made again (empty: the planner makes it again)

    def line(self) -> str:
        """One line naming the file, what is wrong and the way out."""
        if self.blocked:
            return (
                f"{self.path}: {self.problem}; it cannot be recomputed ({self.blocked}): "
                "restore it from a backup or start a new home (--home)"
            )
        return f"{self.path}: {self.problem}; {REPAIR}"


@dataclass(frozen=True)
class StoreHealth:
    """The verified populations by generation and the damaged partitions."""

    populations: Mapping[int, Population]
    damage: tuple[Damage, ...] = field(default=())

    def redo(self, step: Step) -> frozenset[str]:
        """Partitions of ``step`` to plan again (not done) because their artifact is damaged."""
        return frozenset(d.partition for d in self.damage if d.step is step and not d.blocked)

    @property
    def blocked(self) -> Damage | None:
        return next((d for d in self.damage if d.blocked), None)

    def summary(self) -> str | None:
        """The first damage's line (blocking damage first), with how many more; None if none."""
        if not self.damage:
            return None
        first = self.blocked or self.damage[0]
        more = len(self.damage) - 1
        return first.line() + (f" (and {more} more damaged artifact(s))" if more else "")


def _problem(err: ArtifactMissing | ArtifactCorrupt) -> tuple[str, str]:
    return err.path, err.problem


# The planner verifies every artifact the evolution still reads on every plan (per step, per
# sensor tick): hashing them all each time grows with the experiment's history. A local file (or
# directory) that verified in this process and whose inode, size and times have not changed since
# is not hashed again; remote stores are verified every time.
_VERIFIED: dict[str, tuple] = {}  # artifact path -> the store's signature when it verified


def _verify(store: ArtifactStore, relpath: str, verify: Callable[[], object]):
    """(path, problem) when ``verify()`` finds the artifact at ``relpath`` missing or damaged."""
    where = str(store.path(relpath))
    signature = store.signature(relpath)
    if signature is not None and _VERIFIED.get(where) == signature:
        return None
    try:
        verify()
    except (ArtifactMissing, ArtifactCorrupt) as err:
        _VERIFIED.pop(where, None)
        return _problem(err)
    if signature is not None and store.signature(relpath) == signature:
        _VERIFIED[where] = signature
    return None


def check_record(store: ArtifactStore, cls: type, key: object) -> tuple[str, str] | None:
    """(path, problem) when the stored record is missing or fails verification, else None."""
    return _verify(store, cls.relpath(key), lambda: store.read_record(cls, key))  # type: ignore[attr-defined]


def check_dir(store: ArtifactStore, relpath: str) -> tuple[str, str] | None:
    """(path, problem) when a published directory is missing or fails its manifest."""
    return _verify(store, relpath, lambda: store.verify_dir(relpath))


def recorded_fingerprint(instance: DagsterInstance, asset: str) -> str | None:
    """The fingerprint the latest materialization of a shared ``asset`` recorded (None: none,
    or an asset that recorded no fingerprint)."""
    event = instance.get_latest_materialization_event(AssetKey(asset))
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get("fingerprint")
    return None if value is None else str(value.value)


def inspect_store(
    instance: DagsterInstance, store: ArtifactStore, done: Mapping[Step, frozenset[str]]
) -> StoreHealth:
    """Verify the artifacts of the materialized partitions in ``done`` (see the module doc)."""
    damage: list[Damage] = []
    populations: dict[int, Population] = {}
    for gkey in sorted(done.get(Step.POPULATION, frozenset())):
        generation = generation_index(gkey)
        try:
            populations[generation] = store.read_record(Population, generation)
        except (ArtifactMissing, ArtifactCorrupt) as err:
            damage.append(Damage(Step.POPULATION, gkey, *_problem(err)))

    built = done.get(Step.POPULATION, frozenset())
    bred_from: dict[str, str] = {}  # genome partition -> first generation that bred a successor
    for generation, population in sorted(populations.items()):
        if generation_key(generation + 1) in built:
            for g in population.genomes:
                bred_from.setdefault(g.partition_key, generation_key(generation))
    genomes = {g.partition_key for p in populations.values() for g in p.genomes}

    scored = done.get(Step.SCORE, frozenset())
    for partition in sorted(genomes & scored):
        problem = check_record(store, Scores, content_key(partition))
        if problem is None:
            continue
        blocked = ""
        if partition in bred_from:
            successor = generation_key(generation_index(bred_from[partition]) + 1)
            blocked = f"generation {bred_from[partition]} already bred {successor} from it"
        damage.append(Damage(Step.SCORE, partition, *problem, blocked=blocked))

    unscored = genomes - (scored - {d.partition for d in damage if d.step is Step.SCORE})
    for partition in sorted(unscored & done.get(Step.GENERATE, frozenset())):
        problem = check_record(store, GeneratedCode, content_key(partition))
        if problem is not None:
            damage.append(Damage(Step.GENERATE, partition, *problem))

    # The specs the steps still to run read: the population that first holds a genome (or
    # adapter) writes its spec again (``build_population``).
    trained = done.get(Step.ADAPTER, frozenset())
    first_holder: dict[tuple[type, str], str] = {}
    for generation, population in sorted(populations.items(), reverse=True):
        for g in population.genomes:
            if g.partition_key in unscored:
                first_holder[(GenomeSpec, g.genome_key)] = generation_key(generation)
            if g.adapter_partition_key not in trained:
                first_holder[(AdapterSpec, g.adapter_key)] = generation_key(generation)
    respecified: set[str] = set()
    for (cls, key), gkey in sorted(first_holder.items(), key=lambda item: item[1]):
        problem = None if gkey in respecified else check_record(store, cls, key)
        if problem is not None:
            damage.append(Damage(Step.POPULATION, gkey, *problem))
            respecified.add(gkey)

    adapters = {g.adapter_partition_key for p in populations.values() for g in p.genomes}
    for partition in sorted(adapters & trained):
        problem = check_record(store, AdapterTraining, content_key(partition))
        if problem is not None:
            damage.append(Damage(Step.ADAPTER, partition, *problem))

    for gkey in sorted(done.get(Step.HELDOUT, frozenset())):
        problem = check_record(store, HeldoutResult, generation_index(gkey))
        if problem is not None:
            damage.append(Damage(Step.HELDOUT, gkey, *problem))

    for gkey in sorted(done.get(Step.REPORT, frozenset())):
        problem = check_dir(store, layout.report_dir(generation_index(gkey)))
        if problem is not None:
            damage.append(Damage(Step.REPORT, gkey, *problem))

    if SHARED_PARTITION in done.get(Step.SHARED, frozenset()):
        fingerprint = recorded_fingerprint(instance, TRAINING_CORPUS)
        if fingerprint is not None:
            problem = check_dir(store, layout.corpus_dir(fingerprint))
            if problem is not None:
                damage.append(Damage(Step.SHARED, SHARED_PARTITION, *problem))
        fingerprint = recorded_fingerprint(instance, VALIDATION_BUGS)
        if fingerprint is not None:
            problem = check_record(store, ValidationBugs, fingerprint)
            if problem is not None:
                damage.append(Damage(Step.SHARED, SHARED_PARTITION, *problem))
    return StoreHealth(populations=populations, damage=tuple(damage))


def recorded_population(instance: DagsterInstance, generation: int) -> tuple[str, ...] | None:
    """The genome partitions the latest materialization of population ``generation`` recorded
    in its metadata, when its successor exists (None otherwise: it may change freely).

    The ``population`` asset compares a rebuilt population against this before writing it, so a
    population that bred its successor is made again only when the result is provably the
    same."""
    successor = generation_key(generation + 1)
    (asset,) = STEPS[Step.POPULATION].assets
    if successor not in instance.get_materialized_partitions(AssetKey(asset)):
        return None
    records = instance.fetch_materializations(
        AssetRecordsFilter(
            asset_key=AssetKey(asset), asset_partitions=[generation_key(generation)]
        ),
        limit=1,
    ).records
    materialization = records[0].asset_materialization if records else None
    recorded = (
        None if materialization is None else materialization.metadata.get("genome_partitions")
    )
    if recorded is None:
        raise ValueError(
            f"population {generation_key(generation)} bred {successor}, but the instance "
            "recorded no genome_partitions for it: cannot prove a rebuilt population the same"
        )
    return tuple(recorded.value)
