"""The pinned helm binary against the test API server: a tiny chart installs, its objects exist as rendered, and
`helm uninstall` removes them and the release."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from tests.support.k8s import KubeCluster

TINY_CHART = Path(__file__).parent / "charts" / "tiny"
RELEASE = "smoke"


def _helm(helm: Path, kubeconfig: Path, home: Path, *arguments: str) -> str:
    # Helm's own cache and config go to a throwaway folder: the test leaves no state behind in the user's home.
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    result = subprocess.run([str(helm), *arguments], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"helm {' '.join(arguments)} failed ({result.returncode}):\n{result.stderr}", pytrace=False)
    return result.stdout


def test_helm_lints_the_tiny_chart(helm_binary: Path, tmp_path: Path) -> None:
    output = _helm(helm_binary, Path(os.devnull), tmp_path, "lint", str(TINY_CHART))
    assert "1 chart(s) linted, 0 chart(s) failed" in output


def test_helm_install_then_uninstall(
    helm_binary: Path, kube_cluster: KubeCluster, kube_namespace: str, tmp_path: Path
) -> None:
    hostile = "a \"quoted\" value: {{ .Release.Name }}\n- not: a list\n'single'"
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"greeting": hostile}), encoding="utf-8")
    helm = (helm_binary, kube_cluster.kubeconfig, tmp_path)

    _helm(*helm, "install", RELEASE, str(TINY_CHART), "--namespace", kube_namespace, "--values", str(values))

    with kube_cluster.api_client() as admin:
        core = client.CoreV1Api(admin)
        data = core.read_namespaced_config_map(f"{RELEASE}-tiny", kube_namespace).data or {}
        assert data["greeting"] == hostile
        # helm asked the server for its version (Chart.yaml's kubeVersion constraint passed on it).
        assert data["kubeVersion"] == client.VersionApi(admin).get_code().git_version
        releases = json.loads(_helm(*helm, "list", "--namespace", kube_namespace, "--output", "json"))
        assert [(r["name"], r["status"]) for r in releases] == [(RELEASE, "deployed")]

        _helm(*helm, "uninstall", RELEASE, "--namespace", kube_namespace)

        with pytest.raises(ApiException) as gone:
            core.read_namespaced_config_map(f"{RELEASE}-tiny", kube_namespace)
        assert gone.value.status == 404
        for state in ("--deployed", "--uninstalled", "--failed", "--pending"):
            assert json.loads(_helm(*helm, "list", "--namespace", kube_namespace, state, "--output", "json")) == []
        release_secrets = core.list_namespaced_secret(kube_namespace, label_selector="owner=helm").items
        assert release_secrets == []
