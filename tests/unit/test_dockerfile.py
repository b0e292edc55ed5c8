"""No container engine runs here: the image's security properties are checked on the Dockerfile itself."""

from __future__ import annotations

import re
from pathlib import Path

DOCKERFILE = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()


def test_base_image_is_pinned_to_a_patch_release() -> None:
    (base,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.M)
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+", base), base


def test_runs_as_numeric_non_root_user() -> None:
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, re.M)
    assert users, "the image must set USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0, "runAsNonRoot needs a numeric, non-zero uid"
    assert gid.isdigit()


def test_entrypoint_is_the_command() -> None:
    assert re.search(r'^ENTRYPOINT \["georchestra-analytics"\]$', DOCKERFILE, re.M)


def test_no_bytecode_written_at_run_time() -> None:
    assert "PYTHONDONTWRITEBYTECODE=1" in DOCKERFILE
    assert "compileall" in DOCKERFILE
