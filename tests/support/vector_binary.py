"""The Vector binary for the tests that run the real collector: `ANALYTICS_VECTOR_BIN`, else `vector` on PATH.

`ANALYTICS_VECTOR_BIN` may name the binary or a gzip of it (as release archives ship it); a gzip is unpacked once
into the cache (`~/.cache/georchestra-analytics/vector/<sha256>/vector`) and reused. The binary must answer
`vector --version` with a version the project supports; what it lacks (a source, a sink) shows up as a
`vector validate` failure naming the component.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.components import skip_or_fail

VECTOR_BIN_ENV = "ANALYTICS_VECTOR_BIN"
MINIMUM_VERSION = (0, 46)  # the postgres sink; the rendered configuration needs nothing newer
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "georchestra-analytics" / "vector"
_VERSION = re.compile(r"^vector (\d+)\.(\d+)\.(\d+)")


class VectorMissing(RuntimeError):
    """No usable Vector binary; the message says what is missing and how to provide it."""


@dataclass(frozen=True)
class VectorBinary:
    path: Path
    version: tuple[int, int, int]

    def run(
        self, *args: str, timeout: float = 120, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.path), *args], capture_output=True, text=True, check=False, timeout=timeout, env=env
        )


def _unpacked(gz: Path) -> Path:
    digest = hashlib.sha256(gz.read_bytes()).hexdigest()
    target = CACHE / digest / "vector"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as out, gzip.open(gz) as source:
        shutil.copyfileobj(source, out)
    Path(out.name).chmod(0o755)
    Path(out.name).replace(target)
    return target


def locate() -> VectorBinary:
    configured = os.environ.get(VECTOR_BIN_ENV)
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise VectorMissing(f"{VECTOR_BIN_ENV}={configured} is not a file")
        if path.suffix == ".gz":
            path = _unpacked(path)
    else:
        found = shutil.which("vector")
        if found is None:
            raise VectorMissing(
                f"no Vector binary: set {VECTOR_BIN_ENV} to a Vector {'.'.join(map(str, MINIMUM_VERSION))}+ "
                "binary (or its .gz), or put `vector` on PATH"
            )
        path = Path(found)
    try:
        answer = subprocess.run([str(path), "--version"], capture_output=True, text=True, check=False, timeout=30)
    except OSError as error:
        raise VectorMissing(f"{path} does not run: {error}") from error
    match = _VERSION.match(answer.stdout.strip())
    if answer.returncode != 0 or match is None:
        raise VectorMissing(f"{path} --version answered {answer.stdout.strip() or answer.stderr.strip()!r}")
    version = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
    if version[:2] < MINIMUM_VERSION:
        raise VectorMissing(f"{path} is Vector {'.'.join(map(str, version))}; the collector needs 0.46 or later")
    return VectorBinary(path, version)


@pytest.fixture(scope="session")
def vector_bin() -> Iterator[VectorBinary]:
    """The real Vector binary; skips (or fails, under ANALYTICS_REQUIRE) saying what is missing."""
    try:
        binary = locate()
    except VectorMissing as error:
        skip_or_fail("vector", str(error))
    yield binary
