"""The stack's pure parts and its error messages, without starting any service."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from shipper.cli import cli
from shipper.errors import DiskFullError, JavaError, PortInUseError, StackError
from shipper.process import Supervised, check_free_disk, spawn
from shipper.stack import StackSettings, chosen, down, services, up
from shipper.stack.java import find_java, parse_java_major
from shipper.stack.services import Elasticsearch, Kafka, NodeExporter, Prometheus, all_services


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "25" 2025-09-16', 25),
        ('java version "1.8.0_402"', 8),
        ("no version here", None),
    ],
)
def test_parse_java_major(output: str, major: int | None) -> None:
    assert parse_java_major(output) == major


def test_no_suitable_java_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(JavaError, match=r"needs Java 99\+.*Fix: apt-get install"):
        find_java("Kafka", 99)


def test_kafka_config_is_one_kraft_node_on_the_configured_ports(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path, kafka_port=19092, kafka_controller_port=19093)
    props = dict(
        line.split("=", 1) for line in Kafka(settings).server_properties().splitlines() if line
    )
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["log.dirs"].startswith(str(tmp_path.resolve()))


def _properties(kafka: Kafka) -> dict[str, str]:
    return dict(line.split("=", 1) for line in kafka.server_properties().splitlines() if line)


def test_a_three_broker_cluster_is_one_quorum_with_replication_three(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path, kafka_brokers=3, kafka_port=19092)
    brokers = [s for s in all_services(settings) if s.kind == "kafka"]
    assert [b.name for b in brokers] == ["kafka-1", "kafka-2", "kafka-3"]
    assert len({b.dir for b in brokers}) == 3
    third = _properties(Kafka(settings, 3))
    assert third["node.id"] == "3"
    assert third["controller.quorum.voters"] == (
        "1@127.0.0.1:29093,2@127.0.0.1:29094,3@127.0.0.1:29095"
    )
    assert third["listeners"] == "PLAINTEXT://127.0.0.1:19292,CONTROLLER://127.0.0.1:29095"
    assert third["offsets.topic.replication.factor"] == "3"
    assert third["transaction.state.log.min.isr"] == "2"
    assert Kafka(settings, 2).bootstrap_servers == "127.0.0.1:19092,127.0.0.1:19192,127.0.0.1:19292"
    assert settings.kafka_node_heap == "384m" and StackSettings().kafka_node_heap == "512m"


def test_an_elasticsearch_cluster_forms_once_then_rejoins(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path, es_nodes=3)
    second = Elasticsearch(settings, 2)
    assert second.name == "elasticsearch-2" and second.url == "http://127.0.0.1:9201"
    config = yaml.safe_load(second.node_config())
    assert config["node.name"] == "logferry-2"
    assert config["transport.port"] == 29301
    assert config["discovery.seed_hosts"] == [f"127.0.0.1:{p}" for p in (29300, 29301, 29302)]
    assert config["cluster.initial_master_nodes"] == ["logferry-1", "logferry-2", "logferry-3"]
    (second.dir / "data" / "_state").mkdir(parents=True)
    assert "cluster.initial_master_nodes" not in yaml.safe_load(second.node_config())
    single = yaml.safe_load(Elasticsearch(StackSettings(state_dir=tmp_path)).node_config())
    assert single["discovery.type"] == "single-node" and single["node.name"] == "logferry-1"


def test_services_are_chosen_by_kind_or_by_node(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path, kafka_brokers=3, es_nodes=2)
    assert [s.name for s in chosen(settings, ["kafka"])] == ["kafka-1", "kafka-2", "kafka-3"]
    assert [s.name for s in chosen(settings, ["kafka-2", "elasticsearch"])] == [
        "kafka-2",
        "elasticsearch-1",
        "elasticsearch-2",
    ]
    with pytest.raises(StackError, match=r"no such service or node: kafka-4 .*kafka-3"):
        chosen(settings, ["kafka-4"])
    assert [s.name for s in chosen(StackSettings(state_dir=tmp_path), ["kafka"])] == ["kafka"]


def test_up_refuses_a_taken_port_and_names_the_setting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = StackSettings(state_dir=tmp_path, cache_dir=tmp_path / "cache", kafka_port=port)
        with pytest.raises(PortInUseError, match=rf"kafka: port 127.0.0.1:{port} .*--kafka-port"):
            up(settings)


def test_disk_check_reports_free_space_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DiskFullError, match=r"MiB free .*Fix: free some space"):
        check_free_disk(tmp_path / "not" / "yet", min_free_mb=10**12)


def test_pid_tracking_recognises_only_our_process(tmp_path: Path) -> None:
    pid_file = tmp_path / "run" / "sleeper.pid"
    process = spawn(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        pid_file=pid_file,
        log_file=tmp_path / "sleeper.log",
        signal_group=True,
    )
    try:
        # At once: its creation time tells it apart, not its command line (empty right after exec).
        found = Supervised.from_pid_file(pid_file)
        assert found is not None and found.pid == process.pid
        someone_else = tmp_path / "run" / "someone-else.pid"
        someone_else.write_text(f"{process.pid}\n{process.create_time + 60}\n")
        assert Supervised.from_pid_file(someone_else) is None
    finally:
        assert process.stop(timeout_s=10) is False
    assert Supervised.from_pid_file(pid_file) is None


def test_cli_errors_are_one_line_with_exit_code(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from shipper.cli import main; main()", "stack", "up",
         "--state-dir", str(tmp_path), "--min-free-disk-mb", str(10**12)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("error: only ")
    assert "Traceback" not in result.stderr


def test_every_stack_setting_is_a_flag_with_an_env_var() -> None:
    result = CliRunner().invoke(cli, ["stack", "up", "--help"])
    assert result.exit_code == 0
    for name in StackSettings.model_fields:
        assert f"--{name.replace('_', '-')}" in result.output
        assert f"LOGFERRY_STACK_{name.upper()}" in result.output


def test_env_var_sets_a_stack_setting(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["stack", "status"],
        env={"LOGFERRY_STACK_STATE_DIR": str(tmp_path), "LOGFERRY_STACK_KAFKA_PORT": "1"},
    )
    # Nothing runs in an empty state dir; the table shows the port from the environment.
    assert "127.0.0.1:1 " in result.output
    assert "stopped" in result.output


def test_node_exporter_listens_on_its_setting_and_prometheus_scrapes_it(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path, node_exporter_port=19100)
    exporter = NodeExporter(settings)
    if exporter.missing() is None:
        argv, _ = exporter.prepare()
        assert "--web.listen-address=127.0.0.1:19100" in argv
    assert exporter.ports() == [(19100, "node_exporter_port")]
    config = yaml.safe_load(Prometheus(settings).config())
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    assert jobs["node"] == ["127.0.0.1:19100"]


def test_node_exporter_runs_only_collectors_that_work_here(tmp_path: Path) -> None:
    """Debian's build enables the systemd collector, which fails and logs an error at every
    scrape where systemd is not PID 1: the stack switches it off. (Collectors whose kernel
    interface is absent, such as bonding, fail quietly and stay.)"""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    exporter = NodeExporter(StackSettings(state_dir=tmp_path, node_exporter_port=port))
    if exporter.missing() is not None:
        pytest.skip(f"node exporter not installed: {exporter.missing()}")
    argv, _ = exporter.prepare()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        body = ""
        for _ in range(50):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    body = r.read().decode()
                break
            except OSError:
                time.sleep(0.1)
    finally:
        proc.terminate()
        log, _ = proc.communicate(timeout=10)
    failing = re.findall(r'^node_scrape_collector_success\{collector="([^"]+)"\} 0$', body, re.M)
    assert "node_cpu_seconds_total" in body
    assert "systemd" not in failing
    assert "collector failed" not in log


def test_down_stops_nodes_started_with_other_node_counts(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path)  # one node each: no kafka-3 among its services
    process = spawn(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        pid_file=settings.run_dir / "kafka-3.pid",
        log_file=tmp_path / "kafka-3.log",
        signal_group=True,
    )
    down(settings)
    assert process.wait(10) is not None
    assert not (settings.run_dir / "kafka-3.pid").exists()


def test_a_new_kafka_cluster_id_never_begins_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kafka's tools would read such an id as an option; Kafka's own ids avoid it too."""
    drawn = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x01" + bytes(15))])
    monkeypatch.setattr(services.uuid, "uuid4", lambda: next(drawn))
    assert services._new_cluster_id() == "AQAAAAAAAAAAAAAAAAAAAA"
