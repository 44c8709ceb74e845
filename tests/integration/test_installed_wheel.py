"""logferry installed from its wheel into a fresh virtualenv, run from a directory that is not a
checkout: what `pip install logferry` gives an operator.

The wheel is built once per session from a copy of exactly what the Dockerfile copies (the
packages, pyproject.toml, README.md), installed with pip into a new venv, then its console
scripts run with the venv's PATH from an empty directory: `shipper setup --dry-run` against the
real Elasticsearch, `shipper setup --kibana`, `shipper stack up --help`, `loadtest scenarios` and
a short `loadtest run`. Each check reads the output, not just the exit code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.support import free_port

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGES = [p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]]

# Every file the code reads, as users see it in the repository, and where the wheel has it.
RESOURCES = {
    **{
        f"index-templates/{name}": f"shipper/assets/index-templates/{name}"
        for name in (
            "index-template.json",
            "settings.json",
            "ecs-mappings.json",
            "deadletter-template.json",
            "ilm-policy.json",
        )
    },
    **{
        f"dashboards/kibana/{path.name}": f"shipper/assets/dashboards/kibana/{path.name}"
        for path in sorted((ROOT / "dashboards" / "kibana").glob("*.ndjson"))
    },
    "dashboards/prometheus/alerts.yml": "shipper/assets/dashboards/prometheus/alerts.yml",
    "dashboards/alertmanager/alertmanager.yml": (
        "shipper/assets/dashboards/alertmanager/alertmanager.yml"
    ),
    "shipper/stack/pom.xml": "shipper/stack/pom.xml",
}

_INSTALL_TIMEOUT_S = 240
_RUN_TIMEOUT_S = 150


@dataclass(frozen=True)
class Installed:
    """The built wheel, the venv it is installed in, and an empty directory to run from."""

    wheel: Path
    venv: Path
    cwd: Path

    @property
    def site_packages(self) -> Path:
        (found,) = self.venv.glob("lib/python*/site-packages")
        return found

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"}
        }
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["COLUMNS"] = "200"  # rich's tables on one line each
        return {**env, **extra}

    def run(
        self, *argv: str, timeout: float = 60, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = [str(self.venv / "bin" / argv[0]), *argv[1:]]
        return subprocess.run(
            command,
            cwd=self.cwd,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )


def _run(argv: list[str], cwd: Path) -> None:
    result = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=_INSTALL_TIMEOUT_S
    )
    assert result.returncode == 0, f"{argv}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("installed-wheel")
    assert not base.resolve().is_relative_to(ROOT)
    # A clean copy of what the Dockerfile copies: no build/ left over from another build, and
    # nothing of the repository beside the packages (no top-level index-templates/, dashboards/).
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            source / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
        )
    pip = ["-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    _run([sys.executable, *pip, "wheel", "--no-deps", "-w", str(base / "dist"), "."], source)
    (wheel,) = (base / "dist").glob("logferry-*.whl")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], base)
    _run([str(venv / "bin" / "python"), *pip, "install", str(wheel)], base)
    cwd = base / "elsewhere"
    cwd.mkdir()
    return Installed(wheel, venv, cwd)


def test_the_wheel_holds_every_resource_the_code_reads(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        for in_repository, in_wheel in RESOURCES.items():
            assert in_wheel in names, f"{in_wheel} is not in the wheel"
            packaged = wheel.read(in_wheel)
            assert packaged.strip(), f"{in_wheel} is empty"
            # One source of truth: the wheel ships what users edit in the repository.
            assert packaged == (ROOT / in_repository).read_bytes(), in_repository
    assert len([n for n in RESOURCES if n.startswith("dashboards/kibana/")]) >= 1


def test_the_installed_package_finds_its_resources_in_site_packages(
    installed: Installed,
) -> None:
    result = installed.run("python", "-I", "-m", "shipper.resources")
    assert result.returncode == 0, result.stderr
    listed = [Path(line) for line in result.stdout.splitlines()]
    assert len(listed) == len(RESOURCES)
    for path in listed:
        assert path.is_relative_to(installed.site_packages), path
        assert path.is_file() and path.stat().st_size > 0, path


def test_setup_dry_run_names_the_templates_it_would_install(
    installed: Installed, elasticsearch_url: str, tmp_path: Path
) -> None:
    name = f"wheel-{uuid.uuid4().hex[:8]}"
    config = installed.cwd / f"{name}.yml"
    config.write_text(
        "index:\n"
        f"  template_name: {name}\n"
        f"  index_pattern: '{name}-{{service}}-{{date}}'\n"
        f"  deadletter_pattern: '{name}-deadletter-{{date}}'\n"
    )
    argv = ("shipper", "setup", "--dry-run", "--skip-kafka", "--config", config.name)
    result = installed.run(*argv, "--es", elasticsearch_url)
    assert result.returncode == 0, result.stdout + result.stderr
    for what in (
        f"component template {name}@settings",
        f"component template {name}@ecs-mappings",
        f"index template {name}",
        f"index template {name}-deadletter",
    ):
        assert re.search(rf"{re.escape(what)}\s+│\s+would create", result.stdout), what
    assert re.search(r"dry run: \d+ change\(s\) would be made", result.stdout), result.stdout

    # index.templates_dir (here from its env var) replaces the packaged templates.
    empty = tmp_path / "no-templates"
    empty.mkdir()
    env = installed.env(INDEXER_INDEX_TEMPLATES_DIR=str(empty))
    result = installed.run(*argv, "--es", elasticsearch_url, env=env)
    assert result.returncode != 0
    assert f"index template file {empty}/settings.json: No such file" in result.stderr


def test_setup_kibana_reads_the_packaged_saved_objects(installed: Installed) -> None:
    """The objects are loaded before Kibana is called: an unreachable Kibana is the only error."""
    url = f"http://127.0.0.1:{free_port()}"
    result = installed.run(
        "shipper", "setup", "--dry-run", "--skip-kafka", "--skip-elasticsearch", "--kibana", url
    )
    assert result.returncode != 0
    assert f"Kibana at {url} is unreachable" in result.stderr, result.stderr
    assert "ndjson" not in result.stderr


def test_stack_commands_find_the_pom_and_the_rules(installed: Installed) -> None:
    result = installed.run("shipper", "stack", "up", "--help")
    assert result.returncode == 0, result.stderr
    help_text = " ".join(result.stdout.split())  # click wraps at 80 columns
    assert "Maven Central" in help_text and "--alert-rules" in help_text
    # The local stack's Prometheus is given the packaged rules, where pip put them.
    show = (
        "from pathlib import Path; from shipper.stack import StackSettings; "
        "from shipper.stack.services import Prometheus; "
        "print(Prometheus(StackSettings(state_dir=Path('.stack'))).config())"
    )
    result = installed.run("python", "-I", "-c", show)
    assert result.returncode == 0, result.stderr
    (rules,) = re.findall(r"rule_files: \['(.+)'\]", result.stdout)
    assert Path(rules) == installed.site_packages / RESOURCES["dashboards/prometheus/alerts.yml"]


def test_loadtest_scenarios_lists_them(installed: Installed) -> None:
    result = installed.run("loadtest", "scenarios")
    assert result.returncode == 0, result.stderr
    for name in ("baseline", "error-spike", "latency-spike", "log-flood"):
        assert f"{name}:" in result.stdout
    assert "must fire: AppHighErrorRatio" in result.stdout


def test_a_short_loadtest_run_passes(
    installed: Installed, kafka_bootstrap: str, elasticsearch_url: str, tmp_path: Path
) -> None:
    report = tmp_path / "report"
    result = installed.run(
        "loadtest", "run", "--scenario", "baseline", "--duration", "15s", "--users", "5",
        "--report", str(report), "--work-dir", str(tmp_path / "work"),
        "--kafka", kafka_bootstrap, "--elasticsearch", elasticsearch_url,
        timeout=_RUN_TIMEOUT_S,
    )  # fmt: skip
    output = result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode == 0, output
    assert (report / "report.json").exists(), output
    verdict = json.loads((report / "report.json").read_text())
    assert verdict["passed"] is True
    requests = verdict["requests"]
    assert requests["locust_requests"] > 0
    assert requests["lines_found"] == requests["locust_requests"]
    assert "AppHighErrorRatio stays quiet" in {check["name"] for check in verdict["checks"]}
    assert "passed:" in result.stdout
    # Nothing was written into the directory it ran from.
    assert list(installed.cwd.glob("loadtest-reports")) == []
