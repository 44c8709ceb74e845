"""benchmarks' --python (bench_peers.py, bench_indexer.py): which interpreter logferry's rows run on, and a clear
refusal of one that cannot run logferry."""

from __future__ import annotations

import importlib
import platform
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import click
import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"


@pytest.fixture
def peers(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import benchlib as a sibling
    return importlib.import_module("bench_peers")


def test_the_interpreter_that_runs_logferry_is_described(peers: ModuleType) -> None:
    found = peers.describe_interpreter(sys.executable, ROOT)
    assert found["version"] == platform.python_version()
    assert found["summary"] == f"Python {platform.python_version()} ({sys.executable})"
    assert found["build"] == sys.version


def test_an_interpreter_without_logferry_is_refused_with_the_way_out(
    peers: ModuleType, tmp_path: Path
) -> None:
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    python = str(bare / "bin" / "python")
    with pytest.raises(click.ClickException) as refused:
        peers.describe_interpreter(python, ROOT)
    message = refused.value.message
    assert "ModuleNotFoundError" in message
    assert f"{python} -m venv DIR && DIR/bin/pip install -e {ROOT}" in message


def test_logferry_rows_start_on_the_given_interpreter(peers: ModuleType, tmp_path: Path) -> None:
    tool = peers.shipper_tool("x", tmp_path / "app.log", "127.0.0.1:9092", 0, python="/opt/py")
    command = tool.start(tmp_path, "topic")
    assert command[:3] == ["/opt/py", "-m", "shipper"]
