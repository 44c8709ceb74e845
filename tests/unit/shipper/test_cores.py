"""`usable_cores`: the CPU affinity capped by the cgroup's CPU quota (v2 and v1), and
`transform_workers: auto`, one worker per usable core beyond the first."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipper import config as config_module
from shipper.config import load_config
from shipper.cores import usable_cores
from shipper.errors import ConfigError


def _tree(tmp_path: Path, membership: str, files: dict[str, str]) -> tuple[Path, Path]:
    proc = tmp_path / "cgroup"
    proc.write_text(membership)
    root = tmp_path / "sys-fs-cgroup"
    root.mkdir()
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return proc, root


def test_a_v2_limit_of_two_cores_on_an_eight_core_node(tmp_path: Path) -> None:
    proc, root = _tree(tmp_path, "0::/pod/app\n", {"pod/app/cpu.max": "200000 100000\n"})
    assert usable_cores(proc, root, affinity=8) == 2


def test_the_tightest_quota_above_the_process_binds(tmp_path: Path) -> None:
    proc, root = _tree(
        tmp_path,
        "0::/pod/app\n",
        {"pod/app/cpu.max": "max 100000\n", "pod/cpu.max": "150000 100000\n"},
    )
    assert usable_cores(proc, root, affinity=8) == 1  # 1.5 cores: one whole


def test_no_quota_leaves_the_affinity(tmp_path: Path) -> None:
    proc, root = _tree(tmp_path, "0::/\n", {"cpu.max": "max 100000\n"})
    assert usable_cores(proc, root, affinity=4) == 4
    assert usable_cores(tmp_path / "absent", root, affinity=3) == 3


def test_a_v1_quota_and_an_unlimited_one(tmp_path: Path) -> None:
    limited = {"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}
    proc, root = _tree(tmp_path, "4:memory:/x\n1:cpu:/\n", limited)
    assert usable_cores(proc, root, affinity=8) == 3
    unlimited = tmp_path / "unlimited"
    unlimited.mkdir()
    files = {"cpu,cpuacct/cpu.cfs_quota_us": "-1\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}
    proc, root = _tree(unlimited, "2:cpu,cpuacct:/docker/abc\n", files)
    assert usable_cores(proc, root, affinity=8) == 8  # its cgroup not visible: the mount's root


def test_a_line_that_is_not_a_cgroup_is_passed_over(tmp_path: Path) -> None:
    proc, root = _tree(tmp_path, "garbage\n\n0::/\n", {"cpu.max": "100000 100000\n"})
    assert usable_cores(proc, root, affinity=4) == 1


def test_never_less_than_one_core(tmp_path: Path) -> None:
    proc, root = _tree(tmp_path, "0::/\n", {"cpu.max": "20000 100000\n"})
    assert usable_cores(proc, root, affinity=2) == 1


@pytest.mark.parametrize(("cores", "workers"), [(1, 0), (2, 1), (8, 7), (100, 64)])
def test_auto_is_one_worker_per_core_beyond_the_first(
    monkeypatch: pytest.MonkeyPatch, cores: int, workers: int
) -> None:
    monkeypatch.setattr(config_module, "usable_cores", lambda: cores)
    assert load_config(overrides={"transform_workers": "auto"}, environ={}).transform_workers == (
        workers
    )
    environ = {"SHIPPER_TRANSFORM_WORKERS": "Auto"}
    assert load_config(environ=environ).transform_workers == workers


def test_anything_else_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="transform_workers: 'many' is neither"):
        load_config(overrides={"transform_workers": "many"}, environ={})
    assert load_config(overrides={"transform_workers": "3"}, environ={}).transform_workers == 3
