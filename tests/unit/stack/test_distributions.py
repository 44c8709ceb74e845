"""Where the stack's downloads go: Maven resolves into the cache dir, not into ~/.m2."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from shipper.stack import distributions


def test_maven_resolves_into_the_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def fake_run(argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        seen.append(argv)
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(distributions.shutil, "which", lambda _: "/usr/bin/mvn")
    monkeypatch.setattr(distributions.subprocess, "run", fake_run)
    staging = distributions._resolve(tmp_path, "4.4.0", "8.19.21")
    assert staging.parent == tmp_path
    (argv,) = seen
    assert f"-Dmaven.repo.local={tmp_path / 'maven-repository'}" in argv
