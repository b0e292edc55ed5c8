"""Binaries for the k8s and helm test tiers, built from the Go module proxy and cached outside the repository.

- kube-apiserver and kube-controller-manager: `k8s.io/kubernetes` at `KUBERNETES_VERSION`, built through a small
  wrapper Go module. `k8s.io/kubernetes` requires its staging modules (`k8s.io/api`, `k8s.io/apiserver`, ...) at
  `v0.0.0` with replaces into its own source tree, which a module download does not contain; the wrapper replaces
  each of them, read from the kubernetes go.mod itself, by the published `v0.<minor>.<patch>` release.
- etcd: `go.etcd.io/etcd/server/v3/etcdmain` behind a three-line main in the same wrapper module, at the version
  the kubernetes go.mod requires (Debian's etcd 3.4 is older than any etcd this Kubernetes supports).
- helm: `go install helm.sh/helm/v4/cmd/helm@HELM_VERSION`.

Cache: `$XDG_CACHE_HOME/georchestra-analytics/k8s/` (default `~/.cache/...`), one folder per pinned version, with
a `build.json` recording how long the build took; a folder is used only once that file exists, so an interrupted
build starts again. A file lock serialises two sessions that build at once. Go's own module and build caches
(`go env GOMODCACHE GOCACHE`) make a rebuild after a version bump cheaper.

`ANALYTICS_K8S_ASSETS` names a folder of prebuilt binaries instead (envtest layout: kube-apiserver, etcd, and
optionally kube-controller-manager and helm); nothing is built then, except helm when the folder lacks it.

Command line (the Makefile calls it before the tests so the build runs outside any test's time-out):
    python -m tests.support.k8s_assets ensure [--without-helm] [--without-controller-manager]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

KUBERNETES_VERSION = "v1.37.2"
ETCD_VERSION = "v3.7.0"  # what k8s.io/kubernetes v1.37.2 itself requires of go.etcd.io/etcd/server/v3
HELM_VERSION = "v4.3.1"
# Bumped when the way of building changes (flags, wrapper), so an old cache folder is not taken for a new build.
RECIPE = "1"

ASSETS_ENV = "ANALYTICS_K8S_ASSETS"
GO_ENV = "ANALYTICS_GO"

APISERVER = "kube-apiserver"
ETCD = "etcd"
CONTROLLER_MANAGER = "kube-controller-manager"
HELM = "helm"

WRAPPER_MODULE = "georchestra-analytics.invalid/k8s-test-binaries"
_KUBERNETES_COMMANDS = {
    APISERVER: "k8s.io/kubernetes/cmd/kube-apiserver",
    CONTROLLER_MANAGER: "k8s.io/kubernetes/cmd/kube-controller-manager",
}
_ETCD_MAIN = """\
// etcd's own main lives in a module that is not meant to be built from outside its repository; etcdmain is.
package main

import (
\t"os"

\t"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
\tetcdmain.Main(os.Args)
}
"""
_STAGING_REPLACE = re.compile(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/", re.MULTILINE)
_GO_DIRECTIVE = re.compile(r"^go\s+(\S+)\s*$", re.MULTILINE)

log = logging.getLogger(__name__)


class AssetsError(RuntimeError):
    """A binary could not be found or built; the message says which and why (with the build's last lines)."""


@dataclass(frozen=True)
class Binaries:
    """Paths to ready binaries, where they came from, and what building them cost."""

    paths: Mapping[str, Path]
    origin: str  # "built now", "cache" or ASSETS_ENV
    versions: Mapping[str, str]
    build_seconds: Mapping[str, float] = field(default_factory=dict)  # per step; measured now or when cached
    built_at: str | None = None

    @property
    def built_now(self) -> bool:
        return self.origin == "built now"

    def describe(self) -> str:
        if self.origin == ASSETS_ENV:
            return f"{', '.join(self.paths)}: prebuilt, from {ASSETS_ENV}={os.environ.get(ASSETS_ENV)}"
        names = ", ".join(f"{name} {self.versions.get(name, '?')}" for name in self.paths)
        total = sum(self.build_seconds.values())
        steps = ", ".join(f"{step} {seconds:.0f} s" for step, seconds in self.build_seconds.items())
        if self.built_now:
            return f"{names}: cold build took {total:.0f} s ({steps})"
        return f"{names}: reused from cache (its cold build took {total:.0f} s on {self.built_at}: {steps})"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "georchestra-analytics" / "k8s"


def staging_version(kubernetes_version: str) -> str:
    """k8s.io/kubernetes v1.M.P publishes its staging modules as v0.M.P."""
    match = re.fullmatch(r"v1\.(\d+\.\d+(?:-[\w.]+)?)", kubernetes_version)
    if not match:
        raise AssetsError(f"cannot derive the staging module version from Kubernetes {kubernetes_version!r}")
    return f"v0.{match.group(1)}"


def staging_modules(kubernetes_go_mod: str) -> list[str]:
    """The k8s.io modules that k8s.io/kubernetes replaces by folders of its own source tree."""
    modules = sorted(set(_STAGING_REPLACE.findall(kubernetes_go_mod)))
    if not modules:
        raise AssetsError("the k8s.io/kubernetes go.mod has no staging replace directives: has the layout changed?")
    return modules


def wrapper_go_mod(kubernetes_go_mod: str, kubernetes_version: str, etcd_version: str) -> str:
    go_line = _GO_DIRECTIVE.search(kubernetes_go_mod)
    go_version = go_line.group(1) if go_line else "1.26.0"
    pinned = staging_version(kubernetes_version)
    replaces = "".join(f"\t{module} => {module} {pinned}\n" for module in staging_modules(kubernetes_go_mod))
    return (
        f"module {WRAPPER_MODULE}\n\n"
        f"go {go_version}\n\n"
        "require (\n"
        f"\tgo.etcd.io/etcd/server/v3 {etcd_version}\n"
        f"\tk8s.io/kubernetes {kubernetes_version}\n"
        ")\n\n"
        f"replace (\n{replaces})\n"
    )


def _tools_go() -> str:
    imports = "".join(f'\t_ "{package}"\n' for package in _KUBERNETES_COMMANDS.values())
    header = "//go:build tools\n\n// Keeps the commands built from k8s.io/kubernetes in go.mod.\npackage tools\n\n"
    return f"{header}import (\n{imports})\n"


def _version_ldflags(kubernetes_version: str) -> str:
    """What Kubernetes' own build stamps: without it /version says v0.0.0-master and helm's kubeVersion checks fail."""
    major, minor = kubernetes_version.lstrip("v").split(".")[:2]
    stamp = {
        "gitVersion": kubernetes_version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
    }
    flags = ["-s", "-w"]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.{name}={value}" for name, value in stamp.items()]
    return " ".join(flags)


def find_go() -> Path:
    candidates = [os.environ.get(GO_ENV), shutil.which("go"), "/usr/local/go/bin/go"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise AssetsError(
        f"no Go toolchain: put `go` on PATH or set {GO_ENV} (or set {ASSETS_ENV} to a folder of prebuilt binaries)"
    )


def _go_env(go: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{go.parent}{os.pathsep}{env.get('PATH', '')}"
    env["GOFLAGS"] = "-mod=mod"
    env["CGO_ENABLED"] = "0"  # static binaries, as Kubernetes releases them; no C compiler needed
    return env


def _run(command: list[str], *, cwd: Path, env: Mapping[str, str], log_file: Path, step: str) -> float:
    """Runs one build step, its output appended to log_file; returns its duration in seconds."""
    log.info("%s: %s", step, " ".join(command))
    started = time.monotonic()
    with log_file.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        result = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        tail = "\n".join(log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])
        raise AssetsError(f"{step} failed (exit {result.returncode}) after {seconds:.0f} s; log {log_file}:\n{tail}")
    log.info("%s: done in %.1f s", step, seconds)
    return seconds


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another session building into the same cache (lock %s)", path)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _cpu_parallelism() -> str:
    return str(max(1, len(os.sched_getaffinity(0))))


def _read_record(folder: Path, names: list[str]) -> dict[str, object] | None:
    record_file = folder / "build.json"
    if not record_file.is_file():
        return None
    record: dict[str, object] = json.loads(record_file.read_text(encoding="utf-8"))
    if all((folder / "bin" / name).is_file() for name in names):
        return record
    return None


def control_plane_folder() -> Path:
    return cache_root() / f"kubernetes-{KUBERNETES_VERSION}-etcd-{ETCD_VERSION}-r{RECIPE}"


def helm_folder() -> Path:
    return cache_root() / f"helm-{HELM_VERSION}-r{RECIPE}"


def _from_assets_dir(names: list[str], optional: frozenset[str] = frozenset()) -> Binaries | None:
    folder = os.environ.get(ASSETS_ENV)
    if not folder:
        return None
    paths = {name: Path(folder) / name for name in names}
    paths = {name: path for name, path in paths.items() if name not in optional or path.is_file()}
    missing = [str(path) for path in paths.values() if not (path.is_file() and os.access(path, os.X_OK))]
    if missing:
        raise AssetsError(f"{ASSETS_ENV}={folder} lacks executable {', '.join(missing)}")
    return Binaries(paths=paths, origin=ASSETS_ENV, versions=dict.fromkeys(names, "prebuilt"))


def _control_plane_names(with_controller_manager: bool) -> list[str]:
    return [APISERVER, ETCD, *([CONTROLLER_MANAGER] if with_controller_manager else [])]


def ensure_control_plane(*, with_controller_manager: bool = True) -> Binaries:
    """kube-apiserver, etcd (and kube-controller-manager): from ASSETS_ENV, else the cache, else built now."""
    names = _control_plane_names(with_controller_manager)
    # envtest's layout has no controller-manager: without it, the session runs the API server alone.
    prebuilt = _from_assets_dir(names, optional=frozenset({CONTROLLER_MANAGER}))
    if prebuilt is not None:
        return prebuilt
    folder = control_plane_folder()
    versions = {APISERVER: KUBERNETES_VERSION, CONTROLLER_MANAGER: KUBERNETES_VERSION, ETCD: ETCD_VERSION}
    with _locked(folder.parent / f"{folder.name}.lock"):
        record = _read_record(folder, names)
        if record is not None:
            return _cached(folder, names, versions, record)
        seconds = _build_control_plane(folder, names)
    return Binaries(
        paths={name: folder / "bin" / name for name in names},
        origin="built now",
        versions={name: versions[name] for name in names},
        build_seconds=seconds,
    )


def _cached(folder: Path, names: list[str], versions: Mapping[str, str], record: Mapping[str, object]) -> Binaries:
    steps = record.get("seconds")
    return Binaries(
        paths={name: folder / "bin" / name for name in names},
        origin="cache",
        versions={name: versions[name] for name in names},
        build_seconds={str(k): float(v) for k, v in steps.items()} if isinstance(steps, dict) else {},
        built_at=str(record.get("built_at")),
    )


def _build_control_plane(folder: Path, names: list[str]) -> dict[str, float]:
    go = find_go()
    env = _go_env(go)
    source = folder / "src"
    source.mkdir(parents=True, exist_ok=True)
    build_log = folder / "build.log"
    build_log.write_text(f"build of {', '.join(names)} started {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")
    seconds: dict[str, float] = {}
    started = time.monotonic()
    kubernetes_go_mod = _module_go_mod(go, env, folder)
    seconds["download k8s.io/kubernetes"] = time.monotonic() - started
    (source / "go.mod").write_text(wrapper_go_mod(kubernetes_go_mod, KUBERNETES_VERSION, ETCD_VERSION))
    (source / "tools.go").write_text(_tools_go())
    (source / "etcd").mkdir(exist_ok=True)
    (source / "etcd" / "main.go").write_text(_ETCD_MAIN)
    seconds["go mod tidy"] = _run(
        [str(go), "mod", "tidy"], cwd=source, env=env, log_file=build_log, step="resolve the wrapper module"
    )
    staging_bin = _fresh_staging_bin(folder)
    targets = {
        APISERVER: _KUBERNETES_COMMANDS[APISERVER],
        ETCD: "./etcd",
        CONTROLLER_MANAGER: _KUBERNETES_COMMANDS[CONTROLLER_MANAGER],
    }
    ldflags = _version_ldflags(KUBERNETES_VERSION)
    for name in names:  # one at a time, so each duration is logged; later ones reuse the build cache
        seconds[f"build {name}"] = _run(
            [
                str(go),
                "build",
                "-p",
                _cpu_parallelism(),
                "-trimpath",
                f"-ldflags={ldflags}",
                "-o",
                str(staging_bin / name),
                targets[name],
            ],
            cwd=source,
            env=env,
            log_file=build_log,
            step=f"build {name}",
        )
    final_bin = folder / "bin"
    if final_bin.exists():
        shutil.rmtree(final_bin)
    staging_bin.rename(final_bin)
    _write_record(folder, seconds, names)
    return seconds


def _fresh_staging_bin(folder: Path) -> Path:
    """A new folder for binaries in the making; those of interrupted builds go (the caller holds the lock)."""
    for leftover in folder.glob("bin-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix="bin-", dir=folder))


def _module_go_mod(go: Path, env: Mapping[str, str], folder: Path) -> str:
    result = subprocess.run(
        [str(go), "mod", "download", "-json", f"k8s.io/kubernetes@{KUBERNETES_VERSION}"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise AssetsError(f"go mod download k8s.io/kubernetes@{KUBERNETES_VERSION}: {result.stderr.strip()}")
    go_mod_path = json.loads(result.stdout)["GoMod"]
    return Path(go_mod_path).read_text(encoding="utf-8")


def _write_record(folder: Path, seconds: Mapping[str, float], names: list[str]) -> None:
    record = {
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "binaries": names,
        "seconds": {step: round(value, 1) for step, value in seconds.items()},
        "parallelism": _cpu_parallelism(),
    }
    # Written last and atomically: its presence means the folder is complete.
    temporary = folder / "build.json.tmp"
    temporary.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    temporary.replace(folder / "build.json")


def ensure_helm() -> Binaries:
    """helm: from ASSETS_ENV when that folder has it, else the cache, else `go install` now."""
    folder_env = os.environ.get(ASSETS_ENV)
    if folder_env and (Path(folder_env) / HELM).is_file():
        prebuilt = _from_assets_dir([HELM])
        assert prebuilt is not None
        return prebuilt
    return go_install_cached(helm_folder(), HELM, f"helm.sh/helm/v4/cmd/helm@{HELM_VERSION}", HELM_VERSION)


def go_install_cached(folder: Path, name: str, package: str, version: str) -> Binaries:
    """`go install package` (`module/cmd@version`) into `folder`/bin, once: under a file lock, reused while its
    build record exists. For the single-binary tools of the tests (helm, and those of tests/support/go_tool.py)."""
    with _locked(folder.parent / f"{folder.name}.lock"):
        record = _read_record(folder, [name])
        if record is not None:
            return _cached(folder, [name], {name: version}, record)
        go = find_go()
        env = _go_env(go)
        folder.mkdir(parents=True, exist_ok=True)
        staging_bin = _fresh_staging_bin(folder)
        env["GOBIN"] = str(staging_bin)
        env["GOFLAGS"] = ""  # `go install pkg@version` builds the module as released: -mod=mod does not apply
        build_log = folder / "build.log"
        build_log.write_text("")
        step = f"go install {name}"
        command = [str(go), "install", "-p", _cpu_parallelism(), "-trimpath", "-ldflags=-s -w", package]
        seconds = {step: _run(command, cwd=folder, env=env, log_file=build_log, step=step)}
        final_bin = folder / "bin"
        if final_bin.exists():
            shutil.rmtree(final_bin)
        staging_bin.rename(final_bin)
        _write_record(folder, seconds, [name])
    return Binaries(paths={name: final_bin / name}, origin="built now", versions={name: version}, build_seconds=seconds)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.k8s_assets", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ensure = sub.add_parser("ensure", help="build what is missing from the cache; print the binaries' paths")
    ensure.add_argument("--without-helm", action="store_true")
    ensure.add_argument("--without-controller-manager", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    try:
        found = [ensure_control_plane(with_controller_manager=not args.without_controller_manager)]
        if not args.without_helm:
            found.append(ensure_helm())
    except AssetsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for binaries in found:
        print(binaries.describe())
        for name, path in binaries.paths.items():
            print(f"  {name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
