"""The real collector in a test: the configuration `render` produces, run by the real Vector on loopback ports.

A rendered configuration is made for a pod: it listens on 0.0.0.0 at fixed ports, keeps its state in
/var/lib/vector and tails files under /var/log/access. `relocate` changes exactly those values (listening
addresses to free loopback ports, the data directory and the files' mount point to the test's folder) and
nothing else: `relocate` checks that the two configurations differ only there. Everything else, the VRL
programs, the filter, the sink and its batching, retries, acknowledgements and buffer, is what a platform runs.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from psycopg.conninfo import conninfo_to_dict

from georchestra_analytics.db.embedded import free_port
from georchestra_analytics.render.vector import ACCESS_LOG_FILES_MOUNT, BUFFER_DSN_ENV, DATA_DIR
from tests.support.vector_binary import VectorBinary

# (path of the value in the configuration, what it becomes): the only values `relocate` changes.
_ADDRESS_KEYS = (
    ("api", "address"),
    ("sources", "otlp", "grpc", "address"),
    ("sources", "otlp", "http", "address"),
    ("sources", "access_log_syslog", "address"),
    ("sinks", "collector_metrics_exporter", "address"),
)


@dataclass(frozen=True)
class Endpoints:
    """Where the relocated collector listens: host:port strings."""

    grpc: str
    http: str
    api: str
    metrics: str
    syslog: str | None


def url_dsn(dsn: str) -> str:
    """A libpq key=value DSN as the URL the postgres sink (sqlx) needs."""
    params = conninfo_to_dict(dsn)
    user = params.get("user", "postgres")
    password = f":{params['password']}" if params.get("password") else ""
    return (
        f"postgresql://{user}{password}@{params.get('host', '127.0.0.1')}:{params.get('port', 5432)}/{params['dbname']}"
    )


def _get(config: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = config
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _set(config: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def relocate(rendered: str, workdir: Path) -> tuple[str, Endpoints]:
    """The rendered configuration with its listening addresses on free loopback ports and its paths in `workdir`."""
    original = yaml.safe_load(rendered)
    config = copy.deepcopy(original)
    ports: dict[tuple[str, ...], str] = {}
    for path in _ADDRESS_KEYS:
        if _get(config, path) is not None:
            ports[path] = f"127.0.0.1:{free_port()}"
            _set(config, path, ports[path])
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    config["data_dir"] = str(data_dir)
    files_dir = workdir / "files"
    files = _get(config, ("sources", "access_log_files", "include"))
    if files is not None:
        files_dir.mkdir(parents=True, exist_ok=True)
        relocated = [str(files_dir) + pattern[len(ACCESS_LOG_FILES_MOUNT) :] for pattern in files]
        _set(config, ("sources", "access_log_files", "include"), relocated)
    _check_only_relocated(original, config)
    endpoints = Endpoints(
        grpc=ports[("sources", "otlp", "grpc", "address")],
        http=ports[("sources", "otlp", "http", "address")],
        api=ports[("api", "address")],
        metrics=ports[("sinks", "collector_metrics_exporter", "address")],
        syslog=ports.get(("sources", "access_log_syslog", "address")),
    )
    return yaml.safe_dump(config, sort_keys=False, width=1 << 16), endpoints


def _check_only_relocated(original: dict[str, Any], relocated: dict[str, Any]) -> None:
    expected = copy.deepcopy(relocated)
    for path in _ADDRESS_KEYS:
        if _get(original, path) is not None:
            _set(expected, path, _get(original, path))
    expected["data_dir"] = DATA_DIR
    if _get(original, ("sources", "access_log_files", "include")) is not None:
        _set(expected, ("sources", "access_log_files", "include"), original["sources"]["access_log_files"]["include"])
    if expected != original:
        raise AssertionError("relocate changed more than addresses and paths")


@dataclass
class RunningCollector:
    """One Vector process running a relocated configuration. Restartable with the same state and ports."""

    vector: VectorBinary
    config_file: Path
    endpoints: Endpoints
    workdir: Path
    environment: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    logs: list[Path] = field(default_factory=list)

    @property
    def files_dir(self) -> Path:
        return self.workdir / "files"

    def start(self, timeout: float = 60) -> RunningCollector:
        log = self.workdir / f"vector-{self.starts}.log"
        self.starts += 1
        self.logs.append(log)
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(self.vector.path), "--config", str(self.config_file), "--no-graceful-shutdown-limit"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.environment,
            )
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"vector exited with {self.process.returncode}:\n{self.log_tail()}")
            # URLError (an OSError) while Vector starts
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"http://{self.endpoints.api}/health", timeout=2) as answer,
            ):
                if answer.status == 200 and self._listening(self.endpoints.grpc):
                    return
            time.sleep(0.1)
        raise AssertionError(f"vector not healthy after {timeout} s:\n{self.log_tail()}")

    @staticmethod
    def _listening(address: str) -> bool:
        host, port = address.rsplit(":", 1)
        with socket.socket() as probe:
            probe.settimeout(1)
            return probe.connect_ex((host, int(port))) == 0

    def stop(self, timeout: float = 60) -> int:
        """Graceful stop (SIGTERM): Vector drains what it holds to the sink, then exits."""
        return self._signal(signal.SIGTERM, timeout)

    def kill(self) -> int:
        """SIGKILL: nothing is flushed; only a disk buffer keeps what was accepted."""
        return self._signal(signal.SIGKILL, 30)

    def _signal(self, signum: int, timeout: float) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(30)

    def log_tail(self, lines: int = 40) -> str:
        if not self.logs:
            return ""
        with contextlib.suppress(OSError):
            return "\n".join(self.logs[-1].read_text(errors="replace").splitlines()[-lines:])
        return ""

    def log_text(self) -> str:
        return "\n".join(log.read_text(errors="replace") for log in self.logs if log.exists())

    def metrics(self) -> dict[str, float]:
        """Vector's internal metrics as the Prometheus exporter shows them: `name{labels}` -> value."""
        with urllib.request.urlopen(f"http://{self.endpoints.metrics}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        values: dict[str, float] = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            # `name{labels} value [timestamp_ms]`: Vector writes the timestamp, and label values may hold spaces.
            end = line.rfind("}") + 1 or line.find(" ")
            fields = line[end:].split()
            with contextlib.suppress(ValueError, IndexError):
                values[line[:end].strip()] = float(fields[0])
        return values

    def metric(self, name: str, **labels: str) -> float:
        """The sum of one metric over the series whose labels include `labels`."""
        total = 0.0
        pattern = re.compile(rf"^{re.escape(name)}(\{{.*\}})?$")
        for key, value in self.metrics().items():
            if pattern.match(key) and all(f'{label}="{wanted}"' in key for label, wanted in labels.items()):
                total += value
        return total


@contextlib.contextmanager
def run_collector(
    vector: VectorBinary, rendered: str, dsn: str, workdir: Path, extra_environment: Mapping[str, str] | None = None
) -> Iterator[RunningCollector]:
    """Run a rendered configuration against the buffer database at `dsn`; stopped (and killed if need be) after."""
    workdir.mkdir(parents=True, exist_ok=True)
    text, endpoints = relocate(rendered, workdir)
    config_file = workdir / "vector.yaml"
    config_file.write_text(text)
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        BUFFER_DSN_ENV: url_dsn(dsn),
        "VECTOR_LOG": "info",
        **(extra_environment or {}),
    }
    collector = RunningCollector(vector, config_file, endpoints, workdir, environment)
    try:
        yield collector.start()
    finally:
        collector.stop(timeout=30)


def wait_for(condition: Any, timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll `condition()` until it is true; fail saying `what` was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
