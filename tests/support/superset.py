"""The Superset tier: a real Apache Superset from PyPI, in its own cached virtual environment.

Superset pins hundreds of packages that would fight the project's own, so it lives in a separate venv under
`~/.cache/georchestra-analytics/superset-<version>/` (`ANALYTICS_CACHE_DIR` moves the cache). Its SQLite metadata
database is initialised once (`db upgrade`, admin user, `init`: about a minute) and the initialised file is
cached; every test session copies it, so sessions never see each other's assets.

`python -m tests.support.superset ensure` prepares both ahead of the tests (the Makefile and CI call it) and
prints how long each step took. `ANALYTICS_TEST_SUPERSET_URL` (with `ANALYTICS_TEST_SUPERSET_USERNAME` and
`ANALYTICS_TEST_SUPERSET_PASSWORD`) points the tier at an existing Superset instead.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SUPERSET_VERSION = "6.1.0"
# What the apache-superset wheel forgets (FIELD-NOTES), plus the PostgreSQL driver its chart-data API needs to
# query the analytics database.
SUPERSET_REQUIREMENTS = (
    f"apache-superset=={SUPERSET_VERSION}",
    "rich",
    "cachetools",
    "flask-caching==2.3.1",
    "psycopg2-binary",
)
ADMIN_USERNAME = "admin"
HEALTH_TIMEOUT_S = 180.0


def cache_root() -> Path:
    explicit = os.environ.get("ANALYTICS_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "georchestra-analytics"


@dataclass(frozen=True)
class SupersetInstall:
    """Where the cached venv and the initialised metadata live."""

    root: Path

    @property
    def venv(self) -> Path:
        return self.root

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def installed_marker(self) -> Path:
        # Written last, holding the requirement list: a half-finished or outdated install is redone.
        return self.root / ".georchestra-analytics-installed"

    @property
    def metadata_db(self) -> Path:
        return self.root / "metadata" / "superset.db"

    @property
    def admin_password_file(self) -> Path:
        return self.root / "metadata" / "admin-password"

    def is_installed(self) -> bool:
        marker = self.installed_marker
        return marker.is_file() and marker.read_text() == "\n".join(SUPERSET_REQUIREMENTS)

    def is_initialised(self) -> bool:
        return self.metadata_db.is_file() and self.admin_password_file.is_file()


def default_install() -> SupersetInstall:
    return SupersetInstall(cache_root() / f"superset-{SUPERSET_VERSION}")


def _run(command: list[str], *, env: dict[str, str] | None = None, what: str) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:])
        raise RuntimeError(f"{what} failed (exit {result.returncode}): {' '.join(command)}\n{tail}")


def install(target: SupersetInstall) -> None:
    """Create the venv and pip-install Superset into it (minutes on two cores)."""
    if not (target.bin / "python").exists():
        # The base interpreter, not this venv's: Superset's venv must not inherit the project's packages.
        base_python = getattr(sys, "_base_executable", sys.executable)
        _run([base_python, "-m", "venv", str(target.venv)], what="creating the Superset venv")
    _run(
        [str(target.bin / "pip"), "install", "--quiet", "--disable-pip-version-check", *SUPERSET_REQUIREMENTS],
        what=f"installing apache-superset {SUPERSET_VERSION}",
    )
    target.installed_marker.write_text("\n".join(SUPERSET_REQUIREMENTS))


def write_config(path: Path, *, metadata_db: Path, secret_key: str) -> None:
    """A superset_config.py for a loopback test server: SQLite metadata, no examples, no rate limit."""
    path.write_text(
        "\n".join(
            [
                "# Written by tests/support/superset.py for a throwaway test server.",
                f"SECRET_KEY = {secret_key!r}",
                f"SQLALCHEMY_DATABASE_URI = {('sqlite:///' + str(metadata_db))!r}",
                "SQLALCHEMY_EXAMPLES_URI = SQLALCHEMY_DATABASE_URI",
                "TALISMAN_ENABLED = False",
                "RATELIMIT_ENABLED = False",
                "AUTH_RATE_LIMITED = False",
                "WTF_CSRF_ENABLED = True",
                "CACHE_CONFIG = {'CACHE_TYPE': 'NullCache'}",
                "DATA_CACHE_CONFIG = {'CACHE_TYPE': 'NullCache'}",
                # Superset's Jinja in dataset SQL (grain selection) runs only with this flag; docs/dashboards.md.
                "FEATURE_FLAGS = {'ENABLE_TEMPLATE_PROCESSING': True}",
                "SQLLAB_CTAS_NO_LIMIT = True",
                "",
            ]
        )
    )


def _superset_env(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["SUPERSET_CONFIG_PATH"] = str(config)
    env["FLASK_APP"] = "superset"
    env["SUPERSET_LOAD_EXAMPLES"] = "no"
    return env


def initialise(target: SupersetInstall) -> None:
    """`superset db upgrade`, an admin with a random password, `superset init`; then cache the file."""
    target.metadata_db.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="superset-init-") as work:
        work_dir = Path(work)
        db_file = work_dir / "superset.db"
        config = work_dir / "superset_config.py"
        write_config(config, metadata_db=db_file, secret_key=secrets.token_urlsafe(32))
        env = _superset_env(config)
        superset = str(target.bin / "superset")
        password = secrets.token_urlsafe(16)
        _run([superset, "db", "upgrade"], env=env, what="superset db upgrade")
        _run(
            [
                superset,
                "fab",
                "create-admin",
                "--username",
                ADMIN_USERNAME,
                "--firstname",
                "Test",
                "--lastname",
                "Admin",
                "--email",
                "admin@example.org",
                "--password",
                password,
            ],
            env=env,
            what="superset fab create-admin",
        )
        _run([superset, "init"], env=env, what="superset init")
        # Password first, database last: is_initialised() looks for both.
        target.admin_password_file.write_text(password)
        target.admin_password_file.chmod(0o600)
        shutil.copyfile(db_file, target.metadata_db.with_suffix(".tmp"))
        target.metadata_db.with_suffix(".tmp").replace(target.metadata_db)


def ensure(target: SupersetInstall | None = None, *, report: bool = False) -> SupersetInstall:
    """Install and initialise when the cache lacks them; `report` prints what each step took."""
    target = target or default_install()
    steps = ((target.is_installed, install, "install"), (target.is_initialised, initialise, "initialise"))
    for done, step, name in steps:
        started = time.monotonic()
        if done():
            if report:
                print(f"superset {SUPERSET_VERSION} {name}: cached in {target.root}")
            continue
        step(target)
        if report:
            print(f"superset {SUPERSET_VERSION} {name}: {time.monotonic() - started:.1f} s")
    return target


@dataclass(frozen=True)
class SupersetServer:
    url: str
    username: str
    password: str
    log: Path | None  # gunicorn's output, for failure messages


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"gunicorn exited with {process.returncode} before {url}/health answered:\n"
                + "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            )
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:  # noqa: S310 (loopback URL)
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError) as error:
            last_error = str(error)
        time.sleep(0.5)
    raise RuntimeError(
        f"Superset at {url} not healthy after {HEALTH_TIMEOUT_S:.0f} s ({last_error}):\n"
        + "\n".join(log.read_text(errors="replace").splitlines()[-30:])
    )


@dataclass
class RunningSuperset:
    """A gunicorn serving Superset on a free loopback port, over a private copy of the cached metadata."""

    install: SupersetInstall
    work_dir: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> SupersetServer:
        metadata = self.work_dir / "superset.db"
        shutil.copyfile(self.install.metadata_db, metadata)
        config = self.work_dir / "superset_config.py"
        write_config(config, metadata_db=metadata, secret_key=secrets.token_urlsafe(32))
        port = _free_loopback_port()
        url = f"http://127.0.0.1:{port}"
        log = self.work_dir / "gunicorn.log"
        with log.open("wb") as log_file:
            self.process = subprocess.Popen(
                [
                    str(self.install.bin / "gunicorn"),
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "1",
                    "--threads",
                    "4",
                    "--timeout",
                    "120",
                    "superset.app:create_app()",
                ],
                env=_superset_env(config),
                cwd=self.work_dir,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_healthy(url, self.process, log)
        except BaseException:
            self.stop()
            raise
        password = self.install.admin_password_file.read_text()
        return SupersetServer(url=url, username=ADMIN_USERNAME, password=password, log=log)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def superset_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SupersetServer]:
    """A running Superset for the whole session: URL and admin credentials."""
    external = os.environ.get("ANALYTICS_TEST_SUPERSET_URL")
    if external:
        yield SupersetServer(
            url=external.rstrip("/"),
            username=os.environ.get("ANALYTICS_TEST_SUPERSET_USERNAME", ADMIN_USERNAME),
            password=os.environ.get("ANALYTICS_TEST_SUPERSET_PASSWORD", ""),
            log=None,
        )
        return
    try:
        install_ = ensure()
    except RuntimeError as error:
        pytest.fail(f"cannot prepare Apache Superset {SUPERSET_VERSION}: {error}")
    running = RunningSuperset(install_, tmp_path_factory.mktemp("superset"))
    try:
        yield running.start()
    finally:
        running.stop()


def main(argv: list[str]) -> int:
    if argv[1:] != ["ensure"]:
        print("usage: python -m tests.support.superset ensure", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        target = ensure(report=True)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"superset {SUPERSET_VERSION} ready in {target.root} ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
