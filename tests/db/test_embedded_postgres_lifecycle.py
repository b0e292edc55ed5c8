"""The throwaway cluster leaves nothing behind, even when the run that made it is killed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from georchestra_analytics.db.embedded import CLUSTER_PREFIX, EmbeddedPostgres, cleanup_stale_clusters

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _postgres_processes_under(directory: Path) -> list[int]:
    """PIDs of processes whose command line names a path below `directory` (postmasters name their datadir)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(directory) in cmdline and "postgres" in cmdline:
            found.append(int(proc.name))
    return found


def _clusters_in(directory: Path) -> list[Path]:
    return list(directory.glob(CLUSTER_PREFIX + "*"))


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A TMPDIR of its own, reachable by the unprivileged user the server runs as when tests run as root
    (pytest's tmp_path lives below a 0700 folder)."""
    directory = Path(tempfile.mkdtemp(prefix="ga-test-tmpdir-"))
    directory.chmod(0o1777)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_a_test_session_leaves_no_cluster_and_no_process(tmp_path: Path, scratch: Path) -> None:
    test_file = tmp_path / "test_uses_postgres.py"
    test_file.write_text(
        textwrap.dedent(
            """
            import psycopg

            def test_select(pg_dsn):
                with psycopg.connect(pg_dsn) as conn:
                    assert conn.execute("SELECT 1").fetchone() == (1,)

            def test_failing_test_still_cleans_up(pg_dsn):
                raise AssertionError("deliberate failure")
            """
        )
    )
    env = {**os.environ, "TMPDIR": str(scratch)}
    env.pop("ANALYTICS_TEST_DSN", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.support.postgres",
            "--rootdir",
            str(REPO),
            "-c",
            os.devnull,
            str(test_file),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "1 failed, 1 passed" in result.stdout, result.stdout + result.stderr
    assert _clusters_in(scratch) == []
    assert _postgres_processes_under(scratch) == []


def test_a_killed_run_is_cleaned_up_by_the_next(tmp_path: Path, scratch: Path) -> None:
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from georchestra_analytics.db.embedded import EmbeddedPostgres
                server = EmbeddedPostgres(parent=Path({str(scratch)!r})).start()
                print(server.base, flush=True)
                time.sleep(600)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        cluster = Path(owner.stdout.readline().strip())
        assert cluster.is_dir()
        orphans = _postgres_processes_under(cluster)
        assert orphans, "the killed run's server should be running"
    finally:
        owner.send_signal(signal.SIGKILL)  # what a CI time-out or a Ctrl-\ does: no cleanup code runs
        owner.wait()
    assert _postgres_processes_under(cluster), "the orphaned server outlives its owner"

    with EmbeddedPostgres(parent=scratch) as fresh:  # the next run
        assert fresh.base is not None and fresh.base != cluster
        assert not cluster.exists()
        assert _postgres_processes_under(cluster) == []
    assert _clusters_in(scratch) == []


def test_clusters_of_live_owners_are_left_alone(scratch: Path) -> None:
    with EmbeddedPostgres(parent=scratch) as server:
        assert cleanup_stale_clusters(scratch) == []
        assert server.base is not None and server.base.is_dir()
        assert _postgres_processes_under(server.base)
