"""The registry of handlers: one reconcile for create/update/resume, a resync timer, the Secret index, and no
handler that would put a finalizer on a stack."""

from __future__ import annotations

from pathlib import Path

import yaml

from georchestra_analytics.controller.connection import load_configuration
from georchestra_analytics.controller.context import ControllerContext
from georchestra_analytics.controller.handlers import build_registry


def _context(tmp_path: Path) -> ControllerContext:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        ),
        encoding="utf-8",
    )
    return ControllerContext(load_configuration(kubeconfig), resync_seconds=7)


def test_no_handler_asks_for_a_finalizer_and_the_timer_uses_the_resync_interval(tmp_path: Path) -> None:
    registry = build_registry(_context(tmp_path))
    spawning = list(registry._spawning.get_all_handlers())
    changing = list(registry._changing.get_all_handlers())
    assert [handler.id for handler in spawning] == ["resync"]
    assert getattr(spawning[0], "interval", None) == 7
    assert not any(getattr(handler, "requires_finalizer", None) for handler in [*spawning, *changing])
    assert {handler.id for handler in changing} == {"reconcile"}
    assert {handler.id for handler in registry._indexing.get_all_handlers()} == {"stacks_by_secret"}
    assert {handler.id for handler in registry._watching.get_all_handlers()} == {
        "secret_changed",
        "jobs_changed",
        "deployments_changed",
        "statefulsets_changed",
    }


def test_kopf_calls_are_bounded_too() -> None:
    import kopf

    from georchestra_analytics.controller.handlers import configure_settings

    settings = kopf.OperatorSettings()
    configure_settings(settings, namespaced=True)
    assert settings.networking.connect_timeout == 10
    assert settings.networking.request_timeout == 60
    assert settings.watching.client_timeout is not None and settings.watching.server_timeout is not None
