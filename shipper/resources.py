"""The data files logferry reads at run time: package data, read with :mod:`importlib.resources`.

They ship inside the ``shipper`` package (``shipper/assets/``, ``shipper/stack/pom.xml``), so an
installed wheel works from any directory, not only a checkout. In the repository, the top-level
``index-templates/`` and ``dashboards/`` are symlinks into ``shipper/assets/``: what users read
and edit is what the package ships (one copy; ``tests/unit/test_resources.py`` checks it).

This module is the one place that knows where they are. What it gives is a
:class:`~importlib.resources.abc.Traversable` (read it with ``read_bytes``/``iterdir``, whatever
the package is installed as); :func:`real_path` turns one into a file system path for another
program (Prometheus, Maven). Operators point at their own copies with settings, never by editing
site-packages: ``index.templates_dir`` and ``kibana.objects_dir`` (`shipper setup` and
`shipper index`), ``rules`` and ``alertmanager_config`` (`loadtest run`), ``alert_rules``
(`shipper stack`).

``python -m shipper.resources`` prints where each resource is and exits 1 if one is missing or
empty (the Docker build runs it against the installed wheel).
"""

from __future__ import annotations

import sys
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final

__all__ = [
    "ALERTMANAGER_CONFIG",
    "ALERT_RULES",
    "ASSETS",
    "INDEX_TEMPLATES",
    "KIBANA_OBJECTS",
    "STACK_POM",
    "TEMPLATE_FILES",
    "files_with_suffix",
    "missing",
    "real_path",
]

_PACKAGE: Final = files("shipper")

ASSETS: Final[Traversable] = _PACKAGE / "assets"
"""The data files of ``shipper/assets/`` (the repository's ``index-templates/`` and ``dashboards/``)."""

INDEX_TEMPLATES: Final[Traversable] = ASSETS / "index-templates"
"""The Elasticsearch templates `shipper setup` and `shipper index` install."""

TEMPLATE_FILES: Final = (
    "settings.json",
    "ecs-mappings.json",
    "index-template.json",
    "deadletter-template.json",
    "ilm-policy.json",
)
"""The files of :data:`INDEX_TEMPLATES` the indexer renders (a templates dir must hold them all)."""

KIBANA_OBJECTS: Final[Traversable] = ASSETS / "dashboards" / "kibana"
"""The saved objects (``*.ndjson``) `shipper setup --kibana` imports."""

ALERT_RULES: Final[Traversable] = ASSETS / "dashboards" / "prometheus" / "alerts.yml"
"""Prometheus alert rules; the local stack's Prometheus loads them, `loadtest run` derives its
fast profile from them."""

ALERTMANAGER_CONFIG: Final[Traversable] = (
    ASSETS / "dashboards" / "alertmanager" / "alertmanager.yml"
)
"""Alertmanager routing; `loadtest run` gives its private Alertmanager the same routes."""

STACK_POM: Final[Traversable] = _PACKAGE / "stack" / "pom.xml"
"""The Maven project `shipper stack up` resolves Kafka and Elasticsearch with."""


def files_with_suffix(directory: Traversable, suffix: str) -> list[Traversable]:
    """The files of *directory* whose name ends with *suffix*, in name order; none if it is
    not a directory."""
    if not directory.is_dir():
        return []
    found = [entry for entry in directory.iterdir() if entry.name.endswith(suffix)]
    return sorted((entry for entry in found if entry.is_file()), key=lambda entry: entry.name)


def real_path(resource: Traversable, copy_dir: Path) -> Path:
    """A file system path to *resource* that stays valid after this call, for another program.

    Where the package is on the file system (a wheel installed by pip, a checkout) that is the
    file itself, so an edit is seen by a reload. Otherwise (a zip import) the content is copied
    into *copy_dir*. Unlike :func:`importlib.resources.as_file`, nothing is removed afterwards:
    the program reads the file long after it started.
    """
    if isinstance(resource, Path):
        return resource
    copy_dir.mkdir(parents=True, exist_ok=True)
    copy = copy_dir / resource.name
    copy.write_bytes(resource.read_bytes())
    return copy


def _required() -> list[Traversable]:
    return [
        *(INDEX_TEMPLATES / name for name in TEMPLATE_FILES),
        ALERT_RULES,
        ALERTMANAGER_CONFIG,
        STACK_POM,
    ]


def missing() -> list[str]:
    """What of the packaged resources is absent or empty: nothing, in a sound install."""
    problems = [
        str(resource)
        for resource in _required()
        if not resource.is_file() or not resource.read_bytes().strip()
    ]
    kibana = files_with_suffix(KIBANA_OBJECTS, ".ndjson")
    if not kibana or not all(entry.read_bytes().strip() for entry in kibana):
        problems.append(f"{KIBANA_OBJECTS}/*.ndjson")
    return problems


def main() -> int:
    for resource in (*_required(), *files_with_suffix(KIBANA_OBJECTS, ".ndjson")):
        print(resource)
    problems = missing()
    for problem in problems:
        print(f"missing or empty: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
