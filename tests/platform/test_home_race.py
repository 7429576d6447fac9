"""Issue 10, item 9: two `coral evolve` with different configs started at the same instant on a
fresh home agree on one experiment: one works, the other exits 1 with the one-line mismatch
error, none crashes. Many rounds, real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from platform_helpers import write_config

ROUNDS = 20

# A real `coral evolve` process whose imports are done before the start line: both drivers wait
# at a gate (a file) and enter the CLI's main together, milliseconds apart, so they reach
# prepare_home and the first open of the Dagster instance at the same time.
GATED_CORAL = """
import sys, time
from pathlib import Path
import coral_dagster.cli, coral_dagster.definitions, coral_dagster.orchestration.driver
import transformers
gate = Path(sys.argv[1])
print("ready", flush=True)
while not gate.exists():
    time.sleep(0.001)
sys.argv = ["coral", *sys.argv[2:]]
coral_dagster.cli.main()
"""


def test_two_drivers_with_different_configs_start_together_on_a_fresh_home(
    tmp_path: Path, model_cache: Path
):
    configs = [
        write_config(tmp_path / f"{name}.yaml", name=name, seed=seed)
        for name, seed in (("red", 1), ("blue", 2))
    ]
    env = {**os.environ, "CORAL_CACHE_DIR": str(model_cache), "PYTHONUNBUFFERED": "1"}
    winners = []
    for round_ in range(ROUNDS):
        home = tmp_path / f"home{round_}"
        gate = tmp_path / f"gate{round_}"
        outs = [tmp_path / f"round{round_}-{i}.out" for i in range(2)]
        errs = [tmp_path / f"round{round_}-{i}.err" for i in range(2)]
        procs = []
        for config, out, err in zip(configs, outs, errs, strict=True):
            with out.open("w") as stdout, err.open("w") as stderr:
                command = [sys.executable, "-c", GATED_CORAL, str(gate), "evolve"]
                procs.append(
                    subprocess.Popen(
                        [*command, "--config", str(config), "--home", str(home)],
                        env=env,
                        stdout=stdout,
                        stderr=stderr,
                        start_new_session=True,
                    )
                )
        try:
            deadline = time.monotonic() + 300
            while not all("ready" in out.read_text() for out in outs):
                assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
                time.sleep(0.05)
            gate.touch()
            # Until each driver has exited or started its first step (or the time is up).
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                working = ["(attempt 1) ..." in out.read_text() for out in outs]
                if all(p.poll() is not None or w for p, w in zip(procs, working, strict=True)):
                    break
                time.sleep(0.1)
            exited = [p.poll() is not None for p in procs]
            report = [
                (p.poll(), o.read_text()[-500:], e.read_text()[-1500:])
                for p, o, e in zip(procs, outs, errs, strict=True)
            ]
            assert sorted(exited) == [False, True], (round_, report)
            loser, winner = (0, 1) if exited[0] else (1, 0)
            assert procs[loser].returncode == 1, (round_, report)
            lines = errs[loser].read_text().strip().splitlines()
            assert len(lines) == 1, (round_, report)
            assert lines[0].startswith(f"Error: {home} already holds experiment "), lines[0]
            assert lines[0].endswith("use another --home"), lines[0]
            assert working[winner], (round_, report)
            assert "Traceback" not in errs[winner].read_text(), (round_, report)
            assert (home / "experiment.yaml").read_text() == configs[winner].read_text()
            assert not list(home.glob(".experiment.yaml.*"))  # no temporary copy left
            winners.append(winner)
        finally:
            for p in procs:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    assert len(winners) == ROUNDS
