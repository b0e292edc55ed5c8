"""Where the templates are: inside the installed package, or at the top of a source checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

TEMPLATE_FOLDERS = ("vector", "timescale", "superset")

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


@cache
def templates_root() -> Path:
    """The folder holding `vector/`, `timescale/` and `superset/`.

    A wheel carries them in `georchestra_analytics/templates/` (see pyproject.toml); an editable install or a
    plain checkout reads them from the repository's top level, so there is a single copy to edit.
    """
    packaged = _PACKAGE_DIR / "templates"
    if all((packaged / name).is_dir() for name in TEMPLATE_FOLDERS):
        return packaged
    checkout = _PACKAGE_DIR.parent.parent
    if all((checkout / name).is_dir() for name in TEMPLATE_FOLDERS):
        return checkout
    raise FileNotFoundError(
        f"templates not found: neither {packaged} nor {checkout} holds {', '.join(TEMPLATE_FOLDERS)}; "
        "the package was built without its templates"
    )


def template_dir(folder: str) -> Path:
    """One of the template folders, by name (`vector`, `timescale` or `superset`)."""
    if folder not in TEMPLATE_FOLDERS:
        raise ValueError(f"unknown template folder {folder!r}; expected one of {TEMPLATE_FOLDERS}")
    return templates_root() / folder
