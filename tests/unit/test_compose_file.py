"""docker-compose.elk.yml offers the local stack's services on the same ports and versions, and
runs the pipeline (demo app, shipper sidecar, indexer, setup) with settings that really exist.

There is no Docker engine in CI, so the file is checked structurally: every reference in it
(images, host paths, volumes, services, settings, ports, URLs) must resolve to something real.
It is also loaded with compose-go (tools/composecheck, built with Go), the loader and schema
validation behind `docker compose config`, which runs too where the plugin is installed.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from aiohttp import web

from loadtest.app.config import AppConfig
from loadtest.app.handlers import add_routes
from shipper.config import load_config
from shipper.indexer.config import load_indexer_config
from shipper.stack import StackSettings
from tests.unit.deploy.support import APP_PREFIX, unknown_env_names, unknown_options

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.elk.yml"
DOCKERFILE = ROOT / "Dockerfile"

LOGFERRY_SERVICES = ("app", "shipper", "indexer", "setup")
"""The services that run the image built from the Dockerfile."""

WELL_KNOWN_IMAGES = {
    "docker.elastic.co/elasticsearch/elasticsearch",
    "docker.elastic.co/kibana/kibana",
    "apache/kafka",
    "prom/prometheus",
    "prom/alertmanager",
    "prom/node-exporter",
    "grafana/grafana",
    "python",
}
"""Official images only: nothing that must be invented, mirrored or trusted from a stranger."""

CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


def _host_ports(service: dict[str, Any]) -> set[int]:
    return {int(str(mapping).split(":")[-2]) for mapping in service.get("ports", [])}


def _port_mappings(service: dict[str, Any]) -> dict[int, int]:
    """Container port → host port, from the short syntax ``[IP:]HOST:CONTAINER``."""
    mappings: dict[int, int] = {}
    for mapping in service.get("ports", []):
        *_, host, container = str(mapping).split(":")
        mappings[int(container)] = int(host)
    return mappings


def _mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, read_only) of every volume, short or long syntax."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mounts.append(
                (str(volume["source"]), str(volume["target"]), bool(volume.get("read_only")))
            )
            continue
        source, target, *mode = str(volume).split(":")
        mounts.append((source, target, "ro" in "".join(mode).split(",")))
    return mounts


def _host_path(service: dict[str, Any], container_path: str) -> Path:
    """The repository file a bind mount of *service* shows at *container_path*."""
    wanted = PurePosixPath(container_path)
    for source, target, _ in _mounts(service):
        if source.startswith("./") and wanted.is_relative_to(target):
            return ROOT / source / wanted.relative_to(target)
    raise AssertionError(f"{container_path} is not bind-mounted from the repository")


def _env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        return dict(str(item).split("=", 1) for item in environment)
    return {str(key): str(value) for key, value in environment.items()}


def _listeners(kafka: dict[str, Any], variable: str) -> dict[str, tuple[str, int]]:
    """Listener name → (host, port) from KAFKA_LISTENERS or KAFKA_ADVERTISED_LISTENERS."""
    result = {}
    for listener in _env(kafka)[variable].split(","):
        name, address = listener.split("://")
        host, port = address.rsplit(":", 1)
        result[name] = (host, int(port))
    return result


def _dockerfile_healthcheck_port() -> str:
    match = re.search(r"^\s*HEALTHCHECK_PORT=(\d+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert match, "the Dockerfile sets no default HEALTHCHECK_PORT"
    return match.group(1)


def _healthcheck_port(name: str) -> int:
    return int(_env(_services()[name]).get("HEALTHCHECK_PORT", _dockerfile_healthcheck_port()))


def test_compose_has_the_stack_services_on_the_local_stack_ports() -> None:
    services = _services()
    defaults = StackSettings()
    assert _host_ports(services["kafka"]) == {defaults.kafka_port}
    assert _host_ports(services["elasticsearch"]) == {defaults.elasticsearch_port}
    assert _host_ports(services["prometheus"]) == {defaults.prometheus_port}
    assert _host_ports(services["alertmanager"]) == {defaults.alertmanager_port}
    assert _host_ports(services["node-exporter"]) == {defaults.node_exporter_port}
    assert {"kibana", "grafana"} <= services.keys()


def test_compose_elasticsearch_matches_the_local_version_and_settings() -> None:
    es = _services()["elasticsearch"]
    assert es["image"].endswith(f":{StackSettings().elasticsearch_version}")
    assert es["environment"]["xpack.security.enabled"] == "false"
    assert es["environment"]["discovery.type"] == "single-node"


def test_compose_kafka_and_kibana_match_the_local_versions() -> None:
    services, defaults = _services(), StackSettings()
    assert services["kafka"]["image"] == f"apache/kafka:{defaults.kafka_version}"
    assert services["kibana"]["image"].endswith(f":{defaults.elasticsearch_version}")


def test_every_service_has_an_official_image_or_the_project_build() -> None:
    for name, service in _services().items():
        assert "image" in service, name
        repository, _, tag = service["image"].rpartition(":")
        assert tag and tag != "latest", f"{name}: pin a version, not {service['image']!r}"
        if name in LOGFERRY_SERVICES:
            build = service["build"]
            assert (ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE, name
        else:
            assert "build" not in service, name
            assert repository in WELL_KNOWN_IMAGES, f"{name}: {service['image']}"


def test_the_logferry_services_share_one_image_tag() -> None:
    services = _services()
    assert len({services[name]["image"] for name in LOGFERRY_SERVICES}) == 1


def test_compose_mounts_exist() -> None:
    compose = _compose()
    named = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for source, target, read_only in _mounts(service):
            assert target.startswith("/"), f"{name}: {target}"
            if source.startswith("./"):
                assert (COMPOSE.parent / source).exists(), f"{name}: {source}"
            elif source == "/":
                # Only the node exporter sees the host, and only read-only.
                assert (name, target, read_only) == ("node-exporter", "/host", True)
            else:
                assert source in named, f"{name}: volume {source} is not declared"


def test_depends_on_names_real_services_with_valid_conditions() -> None:
    services = _services()
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        if isinstance(depends_on, list):
            depends_on = {target: {"condition": "service_started"} for target in depends_on}
        for target, spec in depends_on.items():
            assert target in services, f"{name} depends on unknown {target}"
            condition = spec["condition"]
            assert condition in CONDITIONS, f"{name} -> {target}: {condition}"
            if condition == "service_healthy":
                # Its own healthcheck, or the Dockerfile's HEALTHCHECK for the project image.
                check = services[target].get("healthcheck", {})
                assert not check.get("disable"), f"{target} has its health check disabled"
                assert "test" in check or target in LOGFERRY_SERVICES, f"{target}: no healthcheck"
            if condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", f"{target} must run once"


def test_depends_on_has_no_cycle() -> None:
    graph = {name: set(svc.get("depends_on", {})) for name, svc in _services().items()}
    done: set[str] = set()
    while graph.keys() - done:
        ready = {name for name in graph.keys() - done if graph[name] <= done}
        assert ready, f"cycle among {sorted(graph.keys() - done)}"
        done |= ready


def test_start_order_of_the_pipeline() -> None:
    """setup after the services it configures; the indexer and shipper after setup."""
    services = _services()

    def conditions(name: str) -> dict[str, str]:
        return {t: s["condition"] for t, s in services[name]["depends_on"].items()}

    assert conditions("setup") == {
        "elasticsearch": "service_healthy",
        "kafka": "service_healthy",
        "kibana": "service_healthy",
    }
    assert conditions("indexer")["setup"] == "service_completed_successfully"
    assert conditions("shipper")["setup"] == "service_completed_successfully"
    assert conditions("shipper")["app"] == "service_healthy"


@pytest.mark.parametrize("name", LOGFERRY_SERVICES)
def test_logferry_env_vars_are_real_settings(name: str) -> None:
    assert unknown_env_names(_env(_services()[name])) == set()


@pytest.mark.parametrize("name", LOGFERRY_SERVICES)
def test_logferry_commands_use_real_subcommands_and_options(name: str) -> None:
    service = _services()[name]
    # Without an entrypoint the image's ENTRYPOINT, `shipper`, runs the command.
    (program,) = service.get("entrypoint", ["shipper"])
    assert unknown_options(program, service["command"]) == set()


def test_shipper_env_loads_with_the_real_config_model() -> None:
    config = load_config(environ=_env(_services()["shipper"]))
    assert config.output.url == "kafka://kafka:9092/app-logs"
    assert config.metrics_addr == "0.0.0.0:9108"
    assert config.service.name == "shop"


def test_indexer_and_setup_env_load_and_agree() -> None:
    services = _services()
    indexer = load_indexer_config(environ=_env(services["indexer"]))
    setup = load_indexer_config(environ=_env(services["setup"]))
    assert indexer.metrics_addr == "0.0.0.0:9109"
    assert indexer.kafka.url == "kafka://kafka:9092/app-logs"
    assert indexer.elasticsearch.url == "http://elasticsearch:9200"
    # Both render the index templates and the topic from these: they must be the same.
    assert setup.index == indexer.index
    assert setup.retention == indexer.retention
    assert setup.kafka == indexer.kafka


def test_app_env_loads_with_the_real_config_model() -> None:
    env = _env(_services()["app"])
    values = {
        k.removeprefix(APP_PREFIX).lower(): v for k, v in env.items() if k.startswith(APP_PREFIX)
    }
    config = AppConfig.model_validate(values)
    assert config.service == "shop"


def test_metrics_ports_are_published_scraped_and_health_checked() -> None:
    services = _services()
    scrape = yaml.safe_load((ROOT / "dashboards" / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target
        for job in scrape["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    addresses = {
        "shipper": load_config(environ=_env(services["shipper"])).metrics_addr,
        "indexer": load_indexer_config(environ=_env(services["indexer"])).metrics_addr,
    }
    for name, address in addresses.items():
        host, port = address.rsplit(":", 1)
        assert host == "0.0.0.0", f"{name} must listen beyond its container's loopback"
        assert int(port) in _port_mappings(services[name]), name
        assert f"{name}:{port}" in targets, f"Prometheus does not scrape {name}:{port}"
        assert _healthcheck_port(name) == int(port), name


def test_prometheus_scrapes_the_node_exporter_which_reads_the_host() -> None:
    exporter = _services()["node-exporter"]
    scrape = yaml.safe_load((ROOT / "dashboards" / "prometheus" / "prometheus.yml").read_text())
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in scrape["scrape_configs"]
    }
    assert jobs["node"] == [f"node-exporter:{StackSettings().node_exporter_port}"]
    assert exporter["pid"] == "host"
    assert "--path.rootfs=/host" in exporter["command"]


def test_pipeline_reaches_kafka_on_its_internal_listener() -> None:
    services = _services()
    kafka = services["kafka"]
    advertised = _listeners(kafka, "KAFKA_ADVERTISED_LISTENERS")
    bound = _listeners(kafka, "KAFKA_LISTENERS")
    urls = [
        _env(services["shipper"])["SHIPPER_OUTPUT_URL"],
        _env(services["indexer"])["INDEXER_KAFKA_URL"],
        _env(services["setup"])["INDEXER_KAFKA_URL"],
    ]
    for url in urls:
        parts = urlsplit(url)
        address = (parts.hostname, parts.port)
        assert address in advertised.values(), f"{url}: no listener advertises {address}"
        (listener,) = [name for name, value in advertised.items() if value == address]
        assert bound[listener][1] == parts.port, url
    # Host clients: the published container port is a listener advertised as 127.0.0.1:host.
    for container, host in _port_mappings(kafka).items():
        (listener,) = [name for name, (_, port) in bound.items() if port == container]
        assert advertised[listener] == ("127.0.0.1", host)


def test_shipper_reads_the_app_log_volume_read_only() -> None:
    services = _services()
    app, shipper = services["app"], services["shipper"]
    log_file = PurePosixPath(_env(app)["LOADTEST_APP_LOG_FILE"])
    app_mounts = {source: (target, ro) for source, target, ro in _mounts(app)}
    shipper_mounts = {source: (target, ro) for source, target, ro in _mounts(shipper)}
    (volume,) = [s for s, (t, _) in app_mounts.items() if log_file.is_relative_to(t)]
    assert volume == "app-logs"
    assert app_mounts[volume][1] is False, "the app must be able to write its log"
    assert shipper_mounts[volume] == (app_mounts[volume][0], True)
    config = load_config(environ=_env(shipper))
    assert any(fnmatch.fnmatch(str(log_file), glob) for glob in config.input.paths)
    assert any(fnmatch.fnmatch(f"{log_file}.1", glob) for glob in config.input.paths), (
        "rotated files should stay in the globs"
    )
    # The checkpoints survive a restart of the container: they are on a volume too.
    state_dir = PurePosixPath(config.state_dir)
    assert any(state_dir.is_relative_to(t) and not ro for t, ro in shipper_mounts.values())


def test_app_listens_for_other_containers_and_is_health_checked() -> None:
    app = _services()["app"]
    assert app["entrypoint"] == ["loadtest"]
    command = app["command"]
    assert command[0] == "app"
    assert command[command.index("--host") + 1] == "0.0.0.0"
    port = AppConfig.model_fields["port"].default
    assert port in _port_mappings(app)
    assert _healthcheck_port("app") == port
    routes = web.Application()
    add_routes(routes)
    paths = {resource.canonical for resource in routes.router.resources()}
    assert _env(app)["HEALTHCHECK_PATH"] in paths


def test_setup_imports_the_kibana_objects_from_the_kibana_service() -> None:
    services = _services()
    command = services["setup"]["command"]
    assert command[0] == "setup"
    url = urlsplit(command[command.index("--kibana") + 1])
    assert url.hostname == "kibana"
    assert url.port in _port_mappings(services["kibana"])


def test_prometheus_loads_its_config_and_alert_rules_from_the_repository() -> None:
    services = _services()
    prometheus = services["prometheus"]
    (flag,) = [arg for arg in prometheus["command"] if arg.startswith("--config.file=")]
    container_config = PurePosixPath(flag.split("=", 1)[1])
    config_file = _host_path(prometheus, str(container_config))
    assert config_file == ROOT / "dashboards" / "prometheus" / "prometheus.yml"
    config = yaml.safe_load(config_file.read_text())
    assert config["rule_files"], "no alert rules"
    for rule_file in config["rule_files"]:
        container_rules = container_config.parent / rule_file
        assert _host_path(prometheus, str(container_rules)).is_file(), rule_file
    for alerting in config["alerting"]["alertmanagers"]:
        for target in alerting["static_configs"][0]["targets"]:
            host, port = target.rsplit(":", 1)
            assert int(port) in _port_mappings(services[host]), target


def test_alertmanager_config_is_mounted_and_its_webhooks_reach_a_service() -> None:
    services = _services()
    alertmanager = services["alertmanager"]
    (flag,) = [arg for arg in alertmanager["command"] if arg.startswith("--config.file=")]
    config_file = _host_path(alertmanager, flag.split("=", 1)[1])
    assert config_file == ROOT / "dashboards" / "alertmanager" / "alertmanager.yml"
    config = yaml.safe_load(config_file.read_text())
    urls = [
        hook["url"]
        for receiver in config["receivers"]
        for hook in receiver.get("webhook_configs", [])
    ]
    assert urls
    for url in urls:
        parts = urlsplit(url)
        assert parts.hostname in services, url
        command = services[parts.hostname]["command"]
        assert command[command.index("--port") + 1] == str(parts.port), url
    receiver = services["alert-webhook"]
    (script,) = [arg for arg in receiver["command"] if arg.endswith(".py")]
    assert _host_path(receiver, script).is_file()


def test_grafana_provisioning_is_mounted_where_its_files_expect() -> None:
    services = _services()
    grafana = services["grafana"]
    mounts = {target: (source, ro) for source, target, ro in _mounts(grafana)}
    assert mounts["/etc/grafana/provisioning"] == ("./dashboards/grafana/provisioning", True)
    assert mounts["/var/lib/grafana/dashboards"] == ("./dashboards/grafana/dashboards", True)
    provisioning = ROOT / "dashboards" / "grafana" / "provisioning"
    for provider_file in sorted((provisioning / "dashboards").glob("*.y*ml")):
        for provider in yaml.safe_load(provider_file.read_text())["providers"]:
            assert provider["options"]["path"] in mounts, provider_file.name
    for source_file in sorted((provisioning / "datasources").glob("*.y*ml")):
        for source in yaml.safe_load(source_file.read_text())["datasources"]:
            url = urlsplit(source["url"])
            assert url.hostname in services, source["url"]
            assert url.port in _port_mappings(services[url.hostname]), source["url"]


def test_docker_compose_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("could not check: the docker client is not installed on this machine")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("could not check: `docker compose` is not available on this machine")
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def composecheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tools/composecheck built with Go: compose-go, the loader behind `docker compose config`."""
    go = shutil.which("go")
    if go is None:
        message = "could not check: Go is not installed (it builds tools/composecheck)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    binary = tmp_path_factory.mktemp("composecheck") / "composecheck"
    build = subprocess.run(
        [go, "build", "-mod=readonly", "-o", str(binary), "."],
        cwd=ROOT / "tools" / "composecheck",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    return binary


def test_the_compose_spec_loader_accepts_the_file(composecheck: Path) -> None:
    result = subprocess.run(
        [str(composecheck), str(COMPOSE), str(ROOT)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == set(_services())


def test_the_compose_spec_loader_rejects_a_broken_file(composecheck: Path, tmp_path: Path) -> None:
    broken = yaml.safe_load(COMPOSE.read_text())
    broken["services"]["shipper"]["depends_on"] = {
        "no-such-service": {"condition": "service_started"}
    }
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(broken))
    result = subprocess.run(
        [str(composecheck), str(path), str(ROOT)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1 and "no-such-service" in result.stderr
