"""The services of the local stack: how to prepare, start and probe each one."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
import uuid
from abc import ABC, abstractmethod
from functools import cached_property
from pathlib import Path
from typing import Any

from shipper.errors import ServiceStartError, StackError
from shipper.process import debian_binary
from shipper.resources import ALERT_RULES, real_path
from shipper.stack import secure as secure_mode
from shipper.stack.analysis import secure_elasticsearch_home
from shipper.stack.distributions import elasticsearch_home, kafka_libs
from shipper.stack.java import find_java
from shipper.stack.settings import StackSettings

__all__ = [
    "SERVICES",
    "Alertmanager",
    "Elasticsearch",
    "Kafka",
    "NodeExporter",
    "Prometheus",
    "Service",
    "all_services",
]

_PROBE_TIMEOUT_S = 3.0
DEFAULT_TOPIC = "app-logs"
"""The topic `shipper run` publishes to by default; `up` creates it."""


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=_PROBE_TIMEOUT_S) as response:
        return json.load(response)


class Service(ABC):
    """One process of the stack, tracked by its pid file (:mod:`shipper.process`).

    Kafka and Elasticsearch may run as several nodes (``kafka_brokers``, ``es_nodes``): one
    instance per node, named ``<kind>-<n>``; a single node keeps the plain ``<kind>`` name.
    """

    kind: str
    """What `up`/`down` name on the command line: every node of that service."""
    install_hint: str | None = None

    def __init__(self, settings: StackSettings, node: int = 1) -> None:
        self.settings = settings
        self.node = node
        """1-based; node n takes the n-th port of each range."""
        self.name = self.kind if self.nodes(settings) == 1 else f"{self.kind}-{node}"
        self.dir = settings.service_dir(self.name).resolve()

    @classmethod
    def nodes(cls, settings: StackSettings) -> int:
        """How many nodes of this service the settings ask for."""
        return 1

    @property
    def secure(self) -> bool:
        """Whether this stack runs TLS and authentication (`up --secure`, or started so)."""
        return secure_mode.enabled(self.settings.state_dir, self.settings.secure)

    @cached_property
    def secure_material(self) -> secure_mode.SecureMaterial:
        """The CA, certificates and credentials of secure mode (made on first use)."""
        return secure_mode.material(self.settings.state_dir)

    @property
    def pid_file(self) -> Path:
        return self.settings.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.settings.log_dir / f"{self.name}.log"

    def missing(self) -> str | None:
        """Why this service cannot run here (with how to fix it), or None."""
        return None

    @property
    @abstractmethod
    def url(self) -> str:
        """Where clients reach the service."""

    @abstractmethod
    def ports(self) -> list[tuple[int, str]]:
        """(port, setting name) pairs the service binds."""

    @abstractmethod
    def prepare(self) -> tuple[list[str], dict[str, str]]:
        """Write configs, fetch what is missing; return the argv and extra env to start it."""

    @abstractmethod
    def probe(self) -> str | None:
        """The running version when the service answers healthy, else None."""

    def after_healthy(self) -> None:
        """Provision what the stack promises once every node of the service answers (idempotent);
        called on the first node only."""
        return None


def _new_cluster_id() -> str:
    """A random Kafka cluster id, as Kafka makes them: URL-safe base64 of a UUID, never starting
    with "-" (which Kafka's own tools would read as an option)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


class Kafka(Service):
    """Apache Kafka in KRaft mode: each node both broker and controller, all of them the quorum.

    Combined nodes keep a small cluster to one process per node; three of them tolerate one
    down (quorum and `min.insync.replicas=2` alike).
    """

    kind = "kafka"

    @classmethod
    def nodes(cls, settings: StackSettings) -> int:
        return settings.kafka_brokers

    @property
    def port(self) -> int:
        return self.settings.kafka_port + 100 * (self.node - 1)

    @property
    def controller_port(self) -> int:
        return self.settings.kafka_controller_port + self.node - 1

    @property
    def url(self) -> str:
        return f"{self.settings.host}:{self.port}"

    @property
    def bootstrap_servers(self) -> str:
        """Every broker, as a client's bootstrap list."""
        return ",".join(
            Kafka(self.settings, n).url for n in range(1, self.nodes(self.settings) + 1)
        )

    def ports(self) -> list[tuple[int, str]]:
        return [(self.port, "kafka_port"), (self.controller_port, "kafka_controller_port")]

    def server_properties(self) -> str:
        """The node's configuration: replication as wide as the cluster, fast group joins."""
        s = self.settings
        count = self.nodes(s)
        voters = ",".join(
            f"{n}@{s.host}:{Kafka(s, n).controller_port}" for n in range(1, count + 1)
        )
        replication = min(count, 3)
        min_isr = max(1, replication - 1)
        return "\n".join(
            [
                "process.roles=broker,controller",
                f"node.id={self.node}",
                f"controller.quorum.voters={voters}",
                f"listeners=PLAINTEXT://{s.host}:{self.port},CONTROLLER://{s.host}:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://{s.host}:{self.port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={self.dir / 'data'}",
                "num.partitions=1",
                f"default.replication.factor={replication}",
                f"offsets.topic.replication.factor={replication}",
                f"transaction.state.log.replication.factor={replication}",
                f"transaction.state.log.min.isr={min_isr}",
                f"share.coordinator.state.topic.replication.factor={replication}",
                f"share.coordinator.state.topic.min.isr={min_isr}",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                # Room for a 1 MiB line plus its ECS fields in one record.
                "message.max.bytes=8388608",
                "replica.fetch.max.bytes=8388608",
                "",
            ]
        )

    def _client_options(self) -> dict[str, Any]:
        return secure_mode.kafka_client_options(self.secure_material) if self.secure else {}

    def _cluster_id(self) -> str:
        """One id for every node of the cluster, made by the first node formatted."""
        path = self.settings.state_dir.resolve() / "kafka-cluster-id"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_new_cluster_id())
        return path.read_text().strip()

    def prepare(self) -> tuple[list[str], dict[str, str]]:
        java = find_java("Kafka", 17)
        libs = kafka_libs(
            self.settings.cache_dir,
            self.settings.kafka_version,
            self.settings.elasticsearch_version,
        )
        self.dir.mkdir(parents=True, exist_ok=True)
        config = self.dir / "server.properties"
        properties = self.server_properties()
        secure_mode.remember(self.settings.state_dir, self.settings.secure)
        format_arguments: list[str] = []
        if self.settings.secure:
            properties = secure_mode.kafka_properties(properties, self.secure_material)
            format_arguments = secure_mode.kafka_format_arguments(self.secure_material)
        secure_mode.write_private(
            config, properties
        )  # 0600: in secure mode it holds the SCRAM secret
        log4j = self.dir / "log4j2.properties"
        log4j.write_text(
            "rootLogger.level=INFO\nrootLogger.appenderRef.stdout.ref=STDOUT\n"
            "appender.stdout.type=Console\nappender.stdout.name=STDOUT\n"
            "appender.stdout.layout.type=PatternLayout\n"
            "appender.stdout.layout.pattern=[%d] %p %m (%c)%n\n"
            "logger.kafka.name=kafka\nlogger.kafka.level=INFO\n"
            "logger.state.name=state.change.logger\nlogger.state.level=WARN\n"
        )
        classpath = f"{libs}/*"
        if not (self.dir / "data" / "meta.properties").exists():
            cluster_id = self._cluster_id()
            result = subprocess.run(
                [str(java.java), f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath,
                 # --cluster-id=: an id may begin with "-", which would read as an option.
                 "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(config),
                 # Two `up` at once both find the directory unformatted: the second is a no-op.
                 "--ignore-formatted", *format_arguments],
                capture_output=True, text=True,
            )  # fmt: skip
            if result.returncode != 0:
                output = f"{result.stdout}{result.stderr}"
                if self.settings.secure:
                    output = self.secure_material.mask(output)
                raise ServiceStartError(f"{self.name}: formatting the storage failed: {output}")
        heap = self.settings.kafka_node_heap
        argv = [
            str(java.java), f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}", f"-Dkafka.logs.dir={self.dir / 'logs'}",
            "-cp", classpath, "kafka.Kafka", str(config),
        ]  # fmt: skip
        return argv, {}

    def probe(self) -> str | None:
        from aiokafka.admin import AIOKafkaAdminClient

        # Before the port opens, aiokafka would log a connection error on every poll.
        try:
            socket.create_connection((self.settings.host, self.port), _PROBE_TIMEOUT_S).close()
        except OSError:
            return None

        async def describe() -> bool:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.url, request_timeout_ms=3000, **self._client_options()
            )
            try:
                await admin.start()
                await admin.list_topics()
                return True
            except Exception:
                return False
            finally:
                await admin.close()

        return self.settings.kafka_version if asyncio.run(describe()) else None

    def after_healthy(self) -> None:
        """Create the default topic, so `shipper run` with no config has somewhere to publish."""
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic
        from aiokafka.errors import TopicAlreadyExistsError

        async def create() -> None:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.bootstrap_servers, **self._client_options()
            )
            await admin.start()
            try:
                if DEFAULT_TOPIC not in await admin.list_topics():
                    with contextlib.suppress(TopicAlreadyExistsError):  # a concurrent `up`
                        replication = min(self.nodes(self.settings), 3)
                        topic = NewTopic(
                            DEFAULT_TOPIC,
                            num_partitions=3,
                            replication_factor=replication,
                            topic_configs={"min.insync.replicas": str(max(1, replication - 1))},
                        )
                        await admin.create_topics([topic])
            finally:
                await admin.close()

        asyncio.run(create())
        if self.secure:
            secure_mode.write_client_configs(self.secure_material, kafka=self.bootstrap_servers)


class Elasticsearch(Service):
    """Elasticsearch's integ-test-zip bound to the stack's host, security off: one node, or a
    cluster of nodes that are each master-eligible and hold data."""

    kind = "elasticsearch"

    @classmethod
    def nodes(cls, settings: StackSettings) -> int:
        return settings.es_nodes

    @property
    def port(self) -> int:
        return self.settings.elasticsearch_port + self.node - 1

    @property
    def transport_port(self) -> int:
        return self.settings.elasticsearch_transport_port + self.node - 1

    @property
    def url(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"{scheme}://{self.settings.host}:{self.port}"

    def ports(self) -> list[tuple[int, str]]:
        return [
            (self.port, "elasticsearch_port"),
            (self.transport_port, "elasticsearch_transport_port"),
        ]

    def node_config(self) -> str:
        """elasticsearch.yml of this node."""
        s = self.settings
        count = self.nodes(s)
        if count == 1:
            discovery = "discovery.type: single-node\n"
        else:
            peers = [f"{s.host}:{Elasticsearch(s, n).transport_port}" for n in range(1, count + 1)]
            discovery = f"discovery.seed_hosts: [{', '.join(peers)}]\n"
            if not (self.dir / "data" / "_state").exists():
                # Only to form the cluster the first time: later starts join the one they formed.
                masters = ", ".join(f"logferry-{n}" for n in range(1, count + 1))
                discovery += f"cluster.initial_master_nodes: [{masters}]\n"
        return (
            "cluster.name: logferry\n"
            f"node.name: logferry-{self.node}\n"
            f"{discovery}"
            f"network.host: {s.host}\n"
            f"http.port: {self.port}\n"
            f"transport.port: {self.transport_port}\n"
            f"path.logs: {self.dir / 'logs'}\n"
            "xpack.security.enabled: false\n"
            # A laptop disk above 90% would otherwise turn every index read-only mid-test.
            "cluster.routing.allocation.disk.threshold_enabled: false\n"
            "action.destructive_requires_name: false\n"
        )

    def prepare(self) -> tuple[list[str], dict[str, str]]:
        # 8.x runs on Java 17 to 24; the 9.x line needs 21+ and is not published as integ-test-zip.
        java = find_java("Elasticsearch 8", 17, 24)
        home = elasticsearch_home(
            self.settings.cache_dir,
            self.settings.kafka_version,
            self.settings.elasticsearch_version,
        )
        if self.settings.secure:  # the zip lacks what x-pack's API keys need: a home that has it
            home = secure_elasticsearch_home(home, self.settings.elasticsearch_version, java)
        conf = self.dir / "config"
        if not conf.exists():
            shutil.copytree(home / "config", conf)
        (conf / "jvm.options.d").mkdir(exist_ok=True)
        heap = self.settings.elasticsearch_node_heap
        (conf / "jvm.options.d" / "logferry-heap.options").write_text(f"-Xms{heap}\n-Xmx{heap}\n")
        config = self.node_config()
        secure_mode.remember(self.settings.state_dir, self.settings.secure)
        if self.settings.secure:
            config = secure_mode.elasticsearch_config(config, conf, self.secure_material)
        (conf / "elasticsearch.yml").write_text(config)
        tmp = self.dir / "tmp"
        tmp.mkdir(exist_ok=True)
        env = {"ES_PATH_CONF": str(conf), "ES_JAVA_HOME": str(java.home), "ES_TMPDIR": str(tmp)}
        env["ES_JAVA_OPTS"] = ""
        argv = [str(home / "bin" / "elasticsearch"), "-E", f"path.data={self.dir / 'data'}"]
        if os.geteuid() == 0:
            # Elasticsearch refuses to run as root. A user namespace gives it another uid while
            # the files it touches stay ours.
            if shutil.which("unshare") is None:
                raise StackError(
                    "elasticsearch refuses to run as root and `unshare` is missing. "
                    "Fix: apt-get install util-linux, or run `shipper stack up` as a normal user."
                )
            argv = ["unshare", "--user", "--map-user=1000", "--map-group=1000", *argv]
        return argv, env

    def _get(self, path: str) -> Any:
        if self.secure:
            return secure_mode.elasticsearch_request(self.url, path, self.secure_material)
        return _get_json(f"{self.url}{path}")

    def probe(self) -> str | None:
        try:
            health = self._get("/_cluster/health")
            if health.get("status") not in ("green", "yellow"):
                return None
            nodes = self._get("/_nodes/_local?filter_path=nodes.*.version")
            return str(next(iter(nodes["nodes"].values()))["version"])
        except (OSError, ValueError, KeyError, StopIteration):
            return None

    def after_healthy(self) -> None:
        """In secure mode: the API key, and the client configs naming it."""
        if self.secure:
            nodes = range(1, self.nodes(self.settings) + 1)
            every_node = ",".join(Elasticsearch(self.settings, n).url for n in nodes)
            secure_mode.provision_elasticsearch(
                self.url, self.secure_material, every_node=every_node
            )


class NodeExporter(Service):
    """Prometheus' node exporter from Debian's package: this host's CPU, memory and filesystems."""

    kind = "node-exporter"
    install_hint = "apt-get install prometheus-node-exporter"

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.node_exporter_port}"

    def ports(self) -> list[tuple[int, str]]:
        return [(self.settings.node_exporter_port, "node_exporter_port")]

    def missing(self) -> str | None:
        if debian_binary("prometheus-node-exporter", "node_exporter") is None:
            return f"node exporter is not installed. Fix: {self.install_hint}"
        return None

    def prepare(self) -> tuple[list[str], dict[str, str]]:
        binary = debian_binary("prometheus-node-exporter", "node_exporter")
        assert binary is not None  # checked by missing()
        self.dir.mkdir(parents=True, exist_ok=True)
        listen = f"{self.settings.host}:{self.settings.node_exporter_port}"
        # Its default collectors: CPU, memory, filesystems, network, load. Debian's build also
        # enables systemd's, which fails every scrape (and logs it) where systemd is not PID 1.
        return [binary, f"--web.listen-address={listen}", "--no-collector.systemd"], {}

    def probe(self) -> str | None:
        try:
            with urllib.request.urlopen(f"{self.url}/metrics", timeout=_PROBE_TIMEOUT_S) as r:
                text = r.read().decode("utf-8", "replace")
        except OSError:
            return None
        found = re.search(r'^node_exporter_build_info\{[^}]*version="([^"]+)"', text, re.M)
        return found.group(1) if found else None


class Prometheus(Service):
    """Prometheus from Debian's package, scraping the stack and logferry's own processes."""

    kind = "prometheus"
    install_hint = "apt-get install prometheus"

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.prometheus_port}"

    def ports(self) -> list[tuple[int, str]]:
        return [(self.settings.prometheus_port, "prometheus_port")]

    def missing(self) -> str | None:
        if debian_binary("prometheus") is None:
            return f"prometheus is not installed. Fix: {self.install_hint}"
        return None

    def config(self) -> str:
        """Scrape config: Prometheus itself, the node exporter, the shipper (:9108) and the
        indexer (:9109); the alert rules (``alert_rules``, else the packaged ones, read where they are so that a
        reload sees an edit)."""
        s = self.settings
        path = (s.alert_rules or real_path(ALERT_RULES, self.dir)).resolve()
        if not path.is_file():
            raise StackError(f"alert_rules: {path} is not a file")
        rules = f"rule_files: ['{path}']\n"
        return (
            "global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\n"
            f"{rules}"
            "alerting:\n  alertmanagers:\n"
            f"    - static_configs:\n        - targets: ['{s.host}:{s.alertmanager_port}']\n"
            "scrape_configs:\n"
            f"  - job_name: prometheus\n    static_configs:\n      - targets: ['{s.host}:{s.prometheus_port}']\n"
            f"  - job_name: node\n    static_configs:\n      - targets: ['{s.host}:{s.node_exporter_port}']\n"
            f"  - job_name: shipper\n    static_configs:\n      - targets: ['{s.host}:9108']\n"
            f"  - job_name: indexer\n    static_configs:\n      - targets: ['{s.host}:9109']\n"
        )

    def prepare(self) -> tuple[list[str], dict[str, str]]:
        binary = debian_binary("prometheus")
        assert binary is not None  # checked by missing()
        self.dir.mkdir(parents=True, exist_ok=True)
        config = self.dir / "prometheus.yml"
        config.write_text(self.config())
        argv = [
            binary, f"--config.file={config}", f"--storage.tsdb.path={self.dir / 'data'}",
            f"--web.listen-address={self.settings.host}:{self.settings.prometheus_port}",
            "--web.enable-lifecycle",
        ]  # fmt: skip
        return argv, {}

    def probe(self) -> str | None:
        try:
            urllib.request.urlopen(f"{self.url}/-/ready", timeout=_PROBE_TIMEOUT_S).close()
            return str(_get_json(f"{self.url}/api/v1/status/buildinfo")["data"]["version"])
        except (OSError, ValueError, KeyError):
            return None


class Alertmanager(Service):
    """Alertmanager from Debian's package, clustering off."""

    kind = "alertmanager"
    install_hint = "apt-get install prometheus-alertmanager"

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.alertmanager_port}"

    def ports(self) -> list[tuple[int, str]]:
        return [(self.settings.alertmanager_port, "alertmanager_port")]

    def missing(self) -> str | None:
        if debian_binary("prometheus-alertmanager", "alertmanager") is None:
            return f"alertmanager is not installed. Fix: {self.install_hint}"
        return None

    def prepare(self) -> tuple[list[str], dict[str, str]]:
        binary = debian_binary("prometheus-alertmanager", "alertmanager")
        assert binary is not None  # checked by missing()
        self.dir.mkdir(parents=True, exist_ok=True)
        config = self.dir / "alertmanager.yml"
        if not config.exists():
            config.write_text(
                "route:\n  receiver: blackhole\n  group_by: [alertname]\n"
                "receivers:\n  - name: blackhole\n"
            )
        argv = [
            binary, f"--config.file={config}", f"--storage.path={self.dir / 'data'}",
            f"--web.listen-address={self.settings.host}:{self.settings.alertmanager_port}",
            "--cluster.listen-address=",  # no gossip port: one instance, nothing else bound
        ]  # fmt: skip
        return argv, {}

    def probe(self) -> str | None:
        try:
            urllib.request.urlopen(f"{self.url}/-/ready", timeout=_PROBE_TIMEOUT_S).close()
            return str(_get_json(f"{self.url}/api/v2/status")["versionInfo"]["version"])
        except (OSError, ValueError, KeyError):
            return None


SERVICES: tuple[type[Service], ...] = (Kafka, Elasticsearch, NodeExporter, Prometheus, Alertmanager)


def all_services(settings: StackSettings) -> list[Service]:
    """One instance per node of every stack service, in start order."""
    return [cls(settings, n) for cls in SERVICES for n in range(1, cls.nodes(settings) + 1)]
