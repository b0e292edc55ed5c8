"""`environment_file`: a systemd EnvironmentFile from a dict, every value quoted so that none is read back
differently (passwords may hold quotes, `$`, `\\`, spaces or `#`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Inside double quotes systemd (like a POSIX shell) gives these a meaning unless a backslash precedes them.
_ESCAPED = re.compile(r'([\\"`$])')


class EnvironmentFileError(ValueError):
    """A name or value an EnvironmentFile cannot carry."""


def environment_file(variables: Mapping[str, Any]) -> str:
    lines = []
    for name in sorted(variables):
        value = "" if variables[name] is None else str(variables[name])
        if not _NAME.match(name):
            raise EnvironmentFileError(f"{name!r} is not an environment variable name")
        if "\n" in value or "\r" in value or "\x00" in value:
            # Said by name only: the value may be a secret.
            raise EnvironmentFileError(f"the value of {name} holds a line break or NUL, which systemd cannot read")
        quoted = _ESCAPED.sub(r"\\\1", value)
        lines.append(f'{name}="{quoted}"\n')
    return "".join(lines)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"environment_file": environment_file}
