"""A killed test run leaves nothing that breaks the next: its processes die with it, and what survives anyway is
cleaned up by the next run. Real processes stand in for etcd and kube-apiserver (`sleep`: what matters is the
process bookkeeping, not what the process does)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.support.k8s_control_plane import _process_start_time, _RunRegistry


def _wait_gone(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stat = Path(f"/proc/{pid}/stat")
        # A zombie (state Z) has stopped running; its parent just has not reaped it yet.
        if not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return True
        time.sleep(0.1)
    return False


def test_processes_die_with_the_test_process_that_started_them(tmp_path: Path) -> None:
    # A stand-in for the test session: it starts a child the way the fixture does, prints its pid, then is killed.
    session = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from tests.support.k8s_control_plane import _spawn; "
            "p = _spawn('stand-in', ['sleep', '300'], Path(sys.argv[1])); print(p.process.pid, flush=True); "
            "time.sleep(300)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert session.stdout is not None
    child = int(session.stdout.readline())
    assert _process_start_time(child) is not None
    session.send_signal(signal.SIGKILL)  # no cleanup code of ours can run
    session.wait()
    assert _wait_gone(child), f"pid {child} outlived the killed session"


def test_next_run_cleans_up_after_a_run_that_could_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    stale_workdir = tmp_path / "stale-run"
    stale_workdir.mkdir()
    # Started without the death signal, as if that had failed: only the registry can find it now.
    survivor = subprocess.Popen(["sleep", "300"], start_new_session=True)
    registry = _RunRegistry()
    entry = {
        "owner": {"pid": 2**22 + 1, "start": "1"},  # beyond pid_max's default: a run that is gone
        "workdir": str(stale_workdir),
        "processes": [{"pid": survivor.pid, "start": _process_start_time(survivor.pid), "name": "etcd"}],
    }
    (registry.folder / "4194305.json").write_text(json.dumps(entry))
    live_entry = {
        "owner": {"pid": os.getpid(), "start": _process_start_time(os.getpid())},
        "workdir": str(tmp_path / "live-run"),
        "processes": [],
    }
    (registry.folder / "live.json").write_text(json.dumps(live_entry))

    cleaned = registry.clean_stale()

    assert cleaned == [f"killed stale etcd (pid {survivor.pid})"]
    assert survivor.wait(timeout=30) == -signal.SIGKILL
    assert not stale_workdir.exists()
    assert not (registry.folder / "4194305.json").exists()
    assert (registry.folder / "live.json").exists(), "a live run's record must be left alone"


def test_a_recycled_pid_is_not_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bystander = subprocess.Popen(["sleep", "300"])
    try:
        registry = _RunRegistry()
        entry = {
            "owner": {"pid": 2**22 + 2, "start": "1"},
            "workdir": str(tmp_path / "gone"),
            # Same pid, other start time: the recorded process is gone and the pid now names someone else.
            "processes": [{"pid": bystander.pid, "start": "1", "name": "kube-apiserver"}],
        }
        (registry.folder / "old.json").write_text(json.dumps(entry))
        assert registry.clean_stale() == []
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
