"""The `operator` command's arguments, and the credentials kopf gets from the same kubeconfig as the
controller's own client."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from georchestra_analytics.cli import cli
from georchestra_analytics.controller.connection import connection_info, load_configuration


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ([], "either --namespace"),
        (["--namespace", "a", "--all-namespaces"], "either --namespace"),
        (["--all-namespaces", "--no-standalone"], "only --standalone"),
    ],
)
def test_scope_must_be_chosen_and_peering_is_refused(arguments: list[str], complaint: str) -> None:
    result = CliRunner().invoke(cli, ["operator", *arguments, "--metrics-port", "0"])
    assert result.exit_code == 2
    assert complaint in result.output


def _kubeconfig(path: Path, user: dict[str, str]) -> Path:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "geor"}}],
        "current-context": "x",
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_a_token_kubeconfig_gives_kopf_the_same_server_and_token(tmp_path: Path) -> None:
    configuration = load_configuration(_kubeconfig(tmp_path / "kubeconfig", {"token": "abc.def"}))
    info = connection_info(configuration)
    assert info.server == "https://127.0.0.1:6443"
    assert info.token == "abc.def"
    assert info.insecure is True
    assert info.certificate_path is None


def test_basic_auth_is_passed_on(tmp_path: Path) -> None:
    configuration = load_configuration(_kubeconfig(tmp_path / "kubeconfig", {"username": "me", "password": "pw"}))
    info = connection_info(configuration)
    assert (info.username, info.password, info.token) == ("me", "pw", None)
