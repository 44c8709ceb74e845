"""The sizing arithmetic of benchmarks/bench_sizing.py: CPU per event -> processes, partitions, nodes."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def sizing(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import benchlib as a sibling
    return importlib.import_module("bench_sizing")


def _costs(sizing: ModuleType, **cpu_s_per_100k: float) -> object:
    """Costs from CPU seconds per 100,000 events, the unit the benchmark's table shows."""
    values = {"shipper": 10.0, "indexer": 20.0, "kafka": 5.0, "elasticsearch": 60.0}
    values.update(cpu_s_per_100k)
    return sizing.Costs(**{part: cpu / 100_000 for part, cpu in values.items()})


def test_a_small_rate_needs_one_of_each_and_a_minimal_cluster(sizing: ModuleType) -> None:
    plan = sizing.plan(1_000, _costs(sizing))
    assert (plan.shipper_processes, plan.indexers, plan.partitions, plan.es_nodes) == (1, 1, 3, 3)


def test_processes_are_cores_at_the_utilisation_and_partitions_twice_the_indexers(
    sizing: ModuleType,
) -> None:
    # 10,000 events/s at 70 %: 14,286 events/s of CPU. Indexer: 200 µs each -> 2.86 cores -> 3
    # processes; partitions 2 x 3 = 6 (a multiple of 3 brokers). Shipper: 100 µs -> 1.43 -> 2.
    plan = sizing.plan(10_000, _costs(sizing))
    assert plan.shipper_processes == 2
    assert plan.indexers == 3
    assert plan.partitions == 6
    assert plan.kafka_cores == pytest.approx(10_000 / 0.7 * 5e-5)
    # Elasticsearch: 600 µs per document -> 8.57 cores -> three 4-core nodes; on 2-core nodes, 5.
    assert plan.es_cores == pytest.approx(8.571, abs=0.001)
    assert plan.es_nodes == 3
    assert sizing.plan(10_000, _costs(sizing), node_cores=2).es_nodes == 5


def test_partitions_round_up_to_a_multiple_of_the_brokers(sizing: ModuleType) -> None:
    # 17,000 events/s: 4.86 indexer cores -> 5 indexers, 10 partitions: 12 on 3 brokers, 10 on 5.
    costs = _costs(sizing)
    assert sizing.plan(17_000, costs).indexers == 5
    assert sizing.plan(17_000, costs).partitions == 12
    assert sizing.plan(17_000, costs, brokers=5).partitions == 10


def test_replicas_measured_in_the_cost_double_the_elasticsearch_cores(sizing: ModuleType) -> None:
    once = sizing.plan(50_000, _costs(sizing, elasticsearch=60.0))
    twice = sizing.plan(50_000, _costs(sizing, elasticsearch=120.0))
    assert twice.es_cores == pytest.approx(2 * once.es_cores)


@pytest.mark.parametrize(
    "rate, options",
    [
        (0, {}),
        (-5, {}),
        (1000, {"utilisation": 0}),
        (1000, {"utilisation": 1.5}),
        (1000, {"node_cores": 0}),
    ],
)
def test_nonsense_is_refused(sizing: ModuleType, rate: float, options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        sizing.plan(rate, _costs(sizing), **options)
