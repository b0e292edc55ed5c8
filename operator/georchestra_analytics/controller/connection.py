"""How the operator reaches the API server: one kubeconfig (or the pod's ServiceAccount) for both kopf's watches
and the controller's own calls, so both act under the same identity and the same RBAC."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import kopf
from kubernetes import client as k8s
from kubernetes import config as k8s_config

IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"


def load_configuration(kubeconfig: Path | None, context: str | None = None) -> k8s.Configuration:
    """A kubeconfig when given (or $KUBECONFIG), the pod's ServiceAccount when in a cluster, else
    ~/.kube/config."""
    configuration = k8s.Configuration()
    path = kubeconfig or (Path(os.environ["KUBECONFIG"]) if os.environ.get("KUBECONFIG") else None)
    if path is None and os.environ.get(IN_CLUSTER_ENV):
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=None if path is None else str(path),
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    return configuration


def connection_info(configuration: k8s.Configuration) -> kopf.ConnectionInfo:
    """kopf's credentials from the same configuration (token, client certificate or basic auth)."""
    if configuration.refresh_api_key_hook is not None:
        configuration.refresh_api_key_hook(configuration)  # a projected ServiceAccount token is rotated on disk
    authorization = str(configuration.api_key.get("authorization") or configuration.api_key.get("BearerToken") or "")
    scheme, _, credentials = authorization.partition(" ")
    token, username, password = None, configuration.username or None, configuration.password or None
    if scheme == "Bearer" and credentials:
        token = credentials.strip()
    elif scheme == "Basic" and credentials:
        # The kubeconfig loader turns a user name and password into a Basic authorization header.
        username, _, password = base64.b64decode(credentials).decode("utf-8").partition(":")
    return kopf.ConnectionInfo(
        server=str(configuration.host),
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        username=username,
        password=password,
        token=token,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )
