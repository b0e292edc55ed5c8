"""The wrapper module that builds kube-apiserver: every staging module that k8s.io/kubernetes replaces by a folder
of its own tree is pinned to its published release, and Go itself reads the result as intended."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from tests.support import k8s_assets


@pytest.fixture(scope="module")
def kubernetes_go_mod() -> str:
    """The real go.mod of the pinned k8s.io/kubernetes, from Go's module cache (downloaded if missing)."""
    try:
        go = k8s_assets.find_go()
    except k8s_assets.AssetsError as error:
        pytest.fail(str(error), pytrace=False)
    result = subprocess.run(
        [str(go), "mod", "download", "-json", f"k8s.io/kubernetes@{k8s_assets.KUBERNETES_VERSION}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(json.loads(result.stdout)["GoMod"]).read_text(encoding="utf-8")


def test_every_local_replace_becomes_a_published_release(kubernetes_go_mod: str, tmp_path: Path) -> None:
    wrapper = tmp_path / "go.mod"
    wrapper.write_text(
        k8s_assets.wrapper_go_mod(kubernetes_go_mod, k8s_assets.KUBERNETES_VERSION, k8s_assets.ETCD_VERSION)
    )
    parsed = json.loads(
        subprocess.run(
            [str(k8s_assets.find_go()), "mod", "edit", "-json", str(wrapper)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    local = sorted(
        line.split()[0]
        for line in kubernetes_go_mod.splitlines()
        if "=> ./staging/" in line and line.strip().startswith("k8s.io/")
    )
    replaced = {entry["Old"]["Path"]: entry["New"] for entry in parsed["Replace"]}
    assert sorted(replaced) == local
    pinned = k8s_assets.staging_version(k8s_assets.KUBERNETES_VERSION)
    assert {(new["Path"], new["Version"]) for new in replaced.values()} == {(path, pinned) for path in local}
    required = {entry["Path"]: entry["Version"] for entry in parsed["Require"]}
    assert required == {
        "k8s.io/kubernetes": k8s_assets.KUBERNETES_VERSION,
        "go.etcd.io/etcd/server/v3": k8s_assets.ETCD_VERSION,
    }


def test_etcd_is_the_one_kubernetes_requires(kubernetes_go_mod: str) -> None:
    requirement = next(line.split() for line in kubernetes_go_mod.splitlines() if "go.etcd.io/etcd/server/v3 " in line)
    assert requirement[1] == k8s_assets.ETCD_VERSION


@pytest.mark.parametrize("version", ["1.37.2", "v2.0.0", "v1.37"])
def test_an_unexpected_kubernetes_version_is_refused(version: str) -> None:
    with pytest.raises(k8s_assets.AssetsError, match="staging module version"):
        k8s_assets.staging_version(version)
