"""The Dagster UI in a real browser on a finished tiny evolution: what a user opens first.

A real `dagster-webserver` serves a copy of the session's finished home (code location `coral`,
as `coral ui` serves it) and Debian's Chromium, driven by Playwright, opens the asset graph, a
genome partition (its generations, genes, knobs, code per problem and verdicts), the runs of the
`coral_genomes` job, the report's plots and the held-out evaluation, and previews a sensor tick.
Screenshots go to the test's temporary folder. Re-materializing `problems` and `base_model`
leaves every genome partition in sync (Dagster's staleness, read through the UI's GraphQL).

Skips with the reason when Playwright or Chromium is missing (`make setup` installs both).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import AssetKey, AssetMaterialization, DagsterInstance

from coral_dagster.assets.metadata import score_reason
from coral_dagster.orchestration.home import Home
from coral_dagster.pipeline.population import genome_generations, load_population
from coral_dagster.pipeline.records import GeneratedCode, Scores

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="Playwright is not installed (pip install -e '.[dev]' or make setup)",
)
CHROMIUM = os.environ.get("CORAL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).is_file():
    pytest.skip(
        f"no Chromium at {CHROMIUM} (make setup installs Debian's chromium when run as root; "
        "CORAL_CHROMIUM points at another build)",
        allow_module_level=True,
    )

# Flags for a sandboxed machine without a network or a GPU.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture(scope="module")
def served(finished_home: Path, model_cache: Path, tmp_path_factory) -> Iterator[dict]:
    """A copy of the finished home served by `dagster-webserver` (workspace: location `coral`)."""
    root = tmp_path_factory.mktemp("ui")
    home = Home(root / "home")
    shutil.copytree(finished_home, home.path, ignore=shutil.ignore_patterns("*.lock"))
    home.prepare_dagster_home()
    env = {
        **os.environ,
        "CORAL_HOME": str(home.path),
        "DAGSTER_HOME": str(home.dagster_home),
        "CORAL_CACHE_DIR": str(model_cache),
    }
    port = _free_port()
    log = root / "webserver.log"
    webserver = str(Path(sys.executable).parent / "dagster-webserver")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [webserver, "-w", str(home.workspace_path), "-h", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"no webserver: {log.read_text()[-3000:]}"
            try:
                urllib.request.urlopen(f"{url}/server_info", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        store = home.store()
        appears_in = genome_generations(store)
        final = load_population(store, 1).genomes
        elite = next(g for g in final if appears_in[g.genome_key] == (0, 1))
        yield {"url": url, "home": home, "env": env, "elite": elite, "shots": root}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def page(served: dict) -> Iterator:
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(served["shots"] / "chromium-profile"),  # a fresh user data dir
            executable_path=CHROMIUM,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 1500, "height": 1000},
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.goto(served["url"] + "/overview")
        skip = page.get_by_role("button", name="Skip")  # Dagster's "join the community" dialog
        with contextlib.suppress(sync_api.TimeoutError):
            skip.click(timeout=10_000)
        yield page
        context.close()


def _open(page, served: dict, path: str) -> None:
    page.goto(served["url"] + path)
    page.wait_for_load_state("networkidle")


def _shot(page, served: dict, name: str) -> Path:
    path = served["shots"] / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled")
    return path


def test_asset_graph_shows_the_groups_and_the_genome_assets(page, served):
    _open(page, served, "/asset-groups")
    for group in ("setup", "adapters", "genomes", "evolution"):
        page.get_by_text(group, exact=True).first.wait_for()
    _shot(page, served, "lineage")
    _open(page, served, "/locations/coral/asset-groups/genomes")
    for asset in ("generated_code", "validation_scores"):
        page.get_by_text(asset, exact=True).first.wait_for()
    assert page.get_by_text("7 partitions").count() == 2  # 4 genomes + 3 new in g0001
    assert page.get_by_text("100% filled").count() == 2
    _shot(page, served, "genomes_group")


def test_a_genome_partition_shows_generations_code_and_verdicts(page, served):
    elite = served["elite"]
    store = served["home"].store()
    scores = store.read_record(Scores, elite.genome_key)
    _open(
        page, served, f"/assets/validation_scores?view=partitions&partition={elite.partition_key}"
    )
    page.get_by_text("first failing test").wait_for()
    body = page.inner_text("body")
    assert "g0000, g0001" in body  # the elite is in both generations
    assert f"{elite.genes.adapter_type}, rank {elite.genes.rank}" in body
    assert f"top_k {elite.knobs.top_k}" in body or "greedy" in body
    for result in scores.results:
        assert f"{result.problem}\t{result.passed}/{result.total}" in body
    reason = score_reason(scores)
    assert scores.passed > 0 or reason != "-"  # a zero score says why
    assert reason[:60] in body
    _shot(page, served, "genome_scores")

    _open(page, served, f"/assets/generated_code?view=partitions&partition={elite.partition_key}")
    page.get_by_text("generations", exact=True).first.wait_for()
    for output in store.read_record(GeneratedCode, elite.genome_key).outputs:
        page.get_by_text(f"code: {output.problem_name}").first.wait_for()
    assert "g0000, g0001" in page.inner_text("body")
    _shot(page, served, "genome_code")


def test_the_coral_genomes_job_lists_its_runs(page, served):
    _open(page, served, "/locations/coral/jobs/coral_genomes/runs")
    page.get_by_text("coral/step: score").first.wait_for()
    body = page.inner_text("body")
    assert "No runs found" not in body
    assert body.count("coral/step: generate") == 2 and body.count("coral/step: score") == 2
    assert body.count("Success") >= 4
    _shot(page, served, "coral_genomes_runs")


def test_the_report_plots_open_in_one_click(page, served):
    _open(page, served, "/assets/evolution_report?view=partitions&partition=g0001")
    for name in ("fitness_plot", "pareto_plot", "heldout_plot"):
        page.locator("tr", has_text=name).get_by_text("[Show Markdown]").click()
        image = page.get_by_role("dialog").locator("img")
        image.wait_for()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 300", arg=image.element_handle()
        )
        _shot(page, served, f"report_{name}")
        page.get_by_role("dialog").get_by_role("button", name="Close").click()
    body = page.inner_text("body")
    for number in ("best_fitness", "mean_fitness", "diversity", "hit_rate"):
        assert number in body

    _open(page, served, "/assets/heldout_evaluation?view=partitions&partition=g0001")
    page.get_by_text("pass_rate_best_evolved").wait_for()
    assert "Missing (0)" in page.inner_text("body")  # only the final generation is a partition
    assert page.get_by_text("g0000", exact=True).count() == 0
    for baseline in ("base_neutral", "standard_lora", "buggy_unchanged"):
        page.get_by_text(f"pass_rate_{baseline}").wait_for()
    _shot(page, served, "heldout_evaluation")


def test_the_sensor_says_why_it_launches_nothing(page, served):
    _open(page, served, "/locations/coral/sensors/evolution_sensor")
    page.get_by_role("button", name="Preview tick result").click()
    page.get_by_role("dialog").get_by_role("button", name="Continue").click()
    page.get_by_text('Skip reason: "evolution finished after generation g0001"').wait_for()
    _shot(page, served, "sensor_preview")


def test_rematerializing_shared_assets_keeps_genomes_in_sync(page, served):
    elite = served["elite"].partition_key
    adapter = served["elite"].adapter_partition_key
    query = (
        '{ g: assetNodes(assetKeys: [{path: ["generated_code"]}, {path: ["validation_scores"]}])'
        f' {{ staleStatus(partition: "{elite}") }}'
        ' a: assetNodes(assetKeys: [{path: ["adapters"]}])'
        f' {{ staleStatus(partition: "{adapter}") }} }}'
    )

    def statuses() -> list[str]:
        data = _graphql(served["url"], query)
        return [n["staleStatus"] for n in data["g"] + data["a"]]

    assert statuses() == ["FRESH", "FRESH", "FRESH"]
    materialized = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "asset",
            "materialize",
            "-m",
            "coral_dagster.definitions",
            "--select",
            "problems,base_model",
        ],
        capture_output=True,
        text=True,
        env=served["env"],
    )
    assert materialized.returncode == 0, materialized.stderr[-3000:]
    assert statuses() == ["FRESH", "FRESH", "FRESH"]  # same content, same data versions
    _open(page, served, f"/assets/generated_code?view=partitions&partition={elite}")
    page.get_by_text("generations", exact=True).first.wait_for()
    assert "Unsynced" not in page.inner_text("body")

    # A problem split with other content (a new data version) does make them stale.
    instance = DagsterInstance.from_config(str(served["home"].dagster_home))
    try:
        instance.report_runless_asset_event(
            AssetMaterialization(AssetKey("problems"), tags={"dagster/data_version": "changed"})
        )
    finally:
        instance.dispose()
    assert statuses() == ["STALE", "FRESH", "STALE"]
