"""The data files logferry reads ship inside the package, once.

The repository's top-level index-templates/ and dashboards/ are symlinks into shipper/assets/, so
what users edit is what the wheel ships; pyproject's package data covers every file the code
reads (tests/integration/test_installed_wheel.py checks the built wheel itself).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from importlib.resources.abc import Traversable
from pathlib import Path

import pytest

import shipper
from shipper import resources
from shipper.errors import StackError
from shipper.stack import StackSettings
from shipper.stack.services import Prometheus

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(shipper.__file__).resolve().parent
PACKAGE_DATA: list[str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
    "setuptools"
]["package-data"]["shipper"]


def _path(resource: Traversable) -> Path:
    assert isinstance(resource, Path), f"{resource} is not on the file system"
    return resource


def read_by_the_code() -> list[Path]:
    """Every file the code reads through shipper.resources, as found in the checkout."""
    kibana = resources.files_with_suffix(resources.KIBANA_OBJECTS, ".ndjson")
    return [
        _path(resource)
        for resource in (
            *(resources.INDEX_TEMPLATES / name for name in resources.TEMPLATE_FILES),
            *kibana,
            resources.ALERT_RULES,
            resources.ALERTMANAGER_CONFIG,
            resources.STACK_POM,
        )
    ]


def test_the_resources_are_in_the_package_and_none_is_missing_or_empty() -> None:
    assert resources.missing() == []
    files = read_by_the_code()
    assert len(files) >= len(resources.TEMPLATE_FILES) + 4
    for path in files:
        assert path.resolve().is_relative_to(PACKAGE), path
        assert path.stat().st_size > 0, path
    names = {path.name for path in files}
    expected = {"index-template.json", "settings.json", "ecs-mappings.json", "ilm-policy.json"}
    assert expected | {"alerts.yml", "alertmanager.yml", "pom.xml"} <= names
    assert any(name.endswith(".ndjson") for name in names)


@pytest.mark.parametrize(
    ("top_level", "packaged"),
    [
        ("index-templates", resources.INDEX_TEMPLATES),
        ("dashboards", resources.ASSETS / "dashboards"),
    ],
)
def test_the_top_level_folders_are_the_packaged_ones(top_level: str, packaged: Traversable) -> None:
    """One source of truth: a symlink (relative, so any checkout works), not a copy."""
    link = ROOT / top_level
    assert link.is_symlink(), f"{top_level} must be a symlink into shipper/assets/, not a copy"
    assert not Path(os.readlink(link)).is_absolute()
    assert link.resolve() == _path(packaged).resolve()
    inside = sorted(p.relative_to(link) for p in link.rglob("*") if p.is_file())
    assert inside
    for relative in inside:
        assert (link / relative).samefile(_path(packaged) / relative)


def test_the_paths_the_code_names_resolve_through_the_top_level_folders() -> None:
    seen_by_users = {
        resources.ALERT_RULES: ROOT / "dashboards" / "prometheus" / "alerts.yml",
        resources.ALERTMANAGER_CONFIG: ROOT / "dashboards" / "alertmanager" / "alertmanager.yml",
        resources.KIBANA_OBJECTS: ROOT / "dashboards" / "kibana",
        resources.INDEX_TEMPLATES / "settings.json": ROOT / "index-templates" / "settings.json",
    }
    for resource, path in seen_by_users.items():
        assert _path(resource).samefile(path), path


def test_package_data_covers_every_file_the_code_reads() -> None:
    covered = {path for pattern in PACKAGE_DATA for path in PACKAGE.glob(pattern)}
    for pattern in PACKAGE_DATA:
        assert any(PACKAGE.glob(pattern)), f"package-data pattern {pattern!r} matches nothing"
    for path in read_by_the_code():
        assert path in covered, f"{path.relative_to(PACKAGE)} is not package data"


def test_python_m_shipper_resources_lists_them_and_exits_0(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shipper.resources"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    listed = [Path(line) for line in result.stdout.splitlines()]
    assert sorted(listed) == sorted(read_by_the_code())


def test_real_path_is_the_file_itself_on_disk_and_a_copy_from_a_zip(tmp_path: Path) -> None:
    rules = resources.ALERT_RULES
    assert resources.real_path(rules, tmp_path / "unused") == rules
    assert not (tmp_path / "unused").exists()
    archive = tmp_path / "pkg.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("shipper/assets/alerts.yml", "groups: []\n")
    inside = zipfile.Path(archive, "shipper/assets/alerts.yml")
    copy = resources.real_path(inside, tmp_path / "copies")
    assert copy == tmp_path / "copies" / "alerts.yml"
    assert copy.read_text() == "groups: []\n"


def test_the_stack_prometheus_loads_the_packaged_rules_or_the_operators(tmp_path: Path) -> None:
    def rule_files(settings: StackSettings) -> str:
        config = Prometheus(settings).config()
        (line,) = [line for line in config.splitlines() if line.startswith("rule_files:")]
        return line

    packaged = _path(resources.ALERT_RULES).resolve()
    assert rule_files(StackSettings(state_dir=tmp_path)) == f"rule_files: ['{packaged}']"
    own = tmp_path / "my-rules.yml"
    own.write_text("groups: []\n")
    settings = StackSettings(state_dir=tmp_path, alert_rules=own)
    assert rule_files(settings) == f"rule_files: ['{own}']"
    with pytest.raises(StackError, match=r"alert_rules: .* is not a file"):
        Prometheus(StackSettings(state_dir=tmp_path, alert_rules=tmp_path / "nope.yml")).config()
