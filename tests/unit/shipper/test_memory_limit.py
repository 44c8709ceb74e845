"""The memory limit a process runs under, read from cgroup v1 and v2 layouts."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from shipper.memory import PROCESS_REGISTRY, cgroup_memory_limit, memory_limit_bytes


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_v2_takes_the_tightest_limit_of_the_cgroup_and_its_ancestors(tmp_path: Path) -> None:
    _write(tmp_path / "proc", "0::/kubepods/pod1/container\n")
    root = tmp_path / "cg"
    _write(root / "kubepods/pod1/container/memory.max", "max\n")
    _write(root / "kubepods/pod1/memory.max", "536870912\n")
    _write(root / "kubepods/memory.max", "1073741824\n")
    assert cgroup_memory_limit(tmp_path / "proc", root) == 512 << 20


def test_v1_inside_a_container_reads_the_hierarchy_mounted_at_its_cgroup(tmp_path: Path) -> None:
    # The host's cgroup path does not exist in the container's mount: the root file holds it.
    _write(tmp_path / "proc", "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n")
    _write(tmp_path / "cg/memory/memory.limit_in_bytes", "268435456\n")
    assert cgroup_memory_limit(tmp_path / "proc", tmp_path / "cg") == 256 << 20


def test_no_limit_is_none(tmp_path: Path) -> None:
    _write(tmp_path / "proc", "4:memory:/\n0::/\n")
    _write(tmp_path / "cg/memory/memory.limit_in_bytes", "9223372036854771712\n")
    _write(tmp_path / "cg/memory.max", "max\n")
    assert cgroup_memory_limit(tmp_path / "proc", tmp_path / "cg") is None
    assert cgroup_memory_limit(tmp_path / "missing", tmp_path / "cg") is None


def test_the_exported_limit_is_positive_and_beside_the_resident_memory() -> None:
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(generate_latest(PROCESS_REGISTRY).decode())
        for sample in family.samples
    }
    assert samples["logferry_memory_limit_bytes"] == memory_limit_bytes() > 0
    assert 0 < samples["process_resident_memory_bytes"] < samples["logferry_memory_limit_bytes"]
