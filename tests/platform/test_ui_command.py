"""`coral ui` on a home that does not exist yet: it prepares the home and serves it with
`dagster dev` (webserver + daemon); a job launched through the UI's API runs there without any
directory made by hand."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from platform_helpers import write_config

from coral_dagster.cli.ui import ui_command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"`coral ui` exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"no UI at {url} after {timeout:.0f}s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    """End `coral ui` (`dagster dev` and the processes it started: its own process group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_ui_command_serves_the_home_as_code_location_coral(tmp_path: Path):
    argv, env = ui_command(tmp_path / "home", "127.0.0.1", 3999)
    assert argv[1:4] == ["-m", "dagster", "dev"]
    assert argv[argv.index("-w") + 1] == str(tmp_path / "home" / "dagster" / "workspace.yaml")
    assert argv[-4:] == ["-h", "127.0.0.1", "-p", "3999"]
    assert env["CORAL_HOME"] == str(tmp_path / "home")
    assert env["DAGSTER_HOME"] == str(tmp_path / "home" / "dagster")


def test_coral_ui_prepares_a_new_home_and_runs_a_job(tmp_path: Path, model_cache: Path):
    from dagster_graphql import DagsterGraphQLClient

    config = write_config(tmp_path / "tiny.yaml")
    home = tmp_path / "new" / "home"  # nothing of it exists
    port = free_port()
    log = tmp_path / "ui.log"
    env = {**os.environ, "CORAL_CACHE_DIR": str(model_cache)}
    command = [sys.executable, "-m", "coral_dagster.cli", "ui", "--home", str(home)]
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*command, "--port", str(port), "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        wait_for_server(f"http://127.0.0.1:{port}", proc, log, timeout=150)
        assert (home / "experiment.yaml").read_text() == config.read_text()
        assert (home / "dagster" / "dagster.yaml").is_file()
        assert "location_name: coral" in (home / "dagster" / "workspace.yaml").read_text()
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        run_id = client.submit_job_execution(
            "coral_shared", repository_location_name="coral", repository_name="__repository__"
        )
        deadline = time.monotonic() + 240
        status = None
        while time.monotonic() < deadline:
            status = client.get_run_status(run_id).value
            if status in {"SUCCESS", "FAILURE", "CANCELED"}:
                break
            time.sleep(1)
        assert status == "SUCCESS", log.read_text()[-3000:]
        assert list((home / "artifacts" / "problems").glob("*.json"))
    finally:
        stop(proc)
    assert f"Dagster UI for {home} on http://127.0.0.1:{port}" in log.read_text()
