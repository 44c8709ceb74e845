"""Resolve the Java services from Maven Central (through Maven and `pom.xml`) into the cache."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import zipfile
from importlib.resources import as_file
from pathlib import Path

from shipper.errors import MavenError
from shipper.resources import STACK_POM

__all__ = ["elasticsearch_home", "kafka_libs"]

_COMPLETE = ".complete"


def _resolve(cache_dir: Path, kafka_version: str, elasticsearch_version: str) -> Path:
    """Run Maven on the bundled pom; returns a folder holding every resolved artifact."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MavenError("Maven (mvn) is not installed. Fix: apt-get install maven")
    staging = Path(tempfile.mkdtemp(prefix="resolve-", dir=cache_dir))
    with as_file(STACK_POM) as pom:
        argv = [
            mvn, "-B", "-q", "-f", str(pom), "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            # Maven's own copy lives in the cache too: one place holds every download.
            f"-Dmaven.repo.local={cache_dir / 'maven-repository'}",
            f"-Dkafka.version={kafka_version}",
            f"-Delasticsearch.version={elasticsearch_version}",
        ]  # fmt: skip
        result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        detail = [line for line in (result.stdout + result.stderr).splitlines() if "ERROR" in line]
        raise MavenError(
            f"Maven could not resolve Kafka {kafka_version} / Elasticsearch {elasticsearch_version}: "
            f"{(detail or ['(no error line)'])[0].strip()} "
            f"Fix: check that Maven Central is reachable (proxy in ~/.m2/settings.xml) and the versions exist."
        )
    return staging


def _ensure(cache_dir: Path, kafka_version: str, elasticsearch_version: str) -> tuple[Path, Path]:
    libs = cache_dir / f"kafka-{kafka_version}" / "libs"
    es_home = cache_dir / f"elasticsearch-{elasticsearch_version}"
    if (libs / _COMPLETE).exists() and (es_home / _COMPLETE).exists():
        return libs, es_home
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = _resolve(cache_dir, kafka_version, elasticsearch_version)
    try:
        if not (libs / _COMPLETE).exists():
            shutil.rmtree(libs, ignore_errors=True)
            libs.mkdir(parents=True)
            for jar in staging.glob("*.jar"):
                shutil.move(str(jar), libs / jar.name)
            (libs / _COMPLETE).touch()
        if not (es_home / _COMPLETE).exists():
            shutil.rmtree(es_home, ignore_errors=True)
            archive = next(staging.glob("elasticsearch-*.zip"))
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(cache_dir / "unpack")
                top = cache_dir / "unpack" / f"elasticsearch-{elasticsearch_version}"
                shutil.move(str(top), es_home)
                # zipfile drops the executable bits; restore them from the archive's metadata.
                for info in zipped.infolist():
                    mode = (info.external_attr >> 16) & 0o777
                    name = info.filename.split("/", 1)[-1]
                    if mode and name:
                        (es_home / name).chmod(mode)
            shutil.rmtree(cache_dir / "unpack", ignore_errors=True)
            (es_home / _COMPLETE).touch()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return libs, es_home


def kafka_libs(cache_dir: Path, kafka_version: str, elasticsearch_version: str) -> Path:
    """The folder of Kafka's runtime jars, resolving them on first use."""
    return _ensure(cache_dir, kafka_version, elasticsearch_version)[0]


def elasticsearch_home(cache_dir: Path, kafka_version: str, elasticsearch_version: str) -> Path:
    """The unpacked Elasticsearch distribution, resolving it on first use."""
    return _ensure(cache_dir, kafka_version, elasticsearch_version)[1]
