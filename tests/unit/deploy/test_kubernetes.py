"""deploy/kubernetes/: manifests that parse, reference only what exists, and configure logferry
with settings its config models accept.

No cluster here: every document is checked structurally, the shipper's ConfigMap is loaded with
the real config loader, and every object, of each file and of `kubectl kustomize`'s output, is
validated in strict mode (an unknown field fails) against the Kubernetes API schemas that the
kubernetes-validate dev dependency bundles (no network). Rendering needs kubectl (or a standalone
kustomize, which scripts/bootstrap.sh builds with Go where kubectl is missing): without either the
rendering tests skip on a laptop and fail under CI=true. About 2 s in all.
"""

from __future__ import annotations

import copy
import fnmatch
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate
import pytest
import yaml
from aiohttp import web

from loadtest.app.config import AppConfig
from loadtest.app.handlers import add_routes
from pipelines.types import DropEvent, RawLine
from shipper.config import ShipperConfig, load_config
from shipper.indexer.config import IndexerConfig, load_indexer_config
from shipper.indexer.metrics import IndexerMetrics
from shipper.pipeline import build_pipeline
from tests.unit.deploy.support import (
    APP_PREFIX,
    REPOSITORY,
    unknown_env_names,
    unknown_options,
)

MANIFESTS = REPOSITORY / "deploy" / "kubernetes"
VERSION = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]["version"]
IMAGE_USER = 10001
"""The Dockerfile's USER."""

KUBERNETES_VERSION = "1.32.0"
"""The Kubernetes API the manifests are validated against, pinned (kubectl 1.32 renders them)."""

OLDEST_KUBERNETES = "1.29.0"
"""The oldest release deploy/README.md supports (native sidecars): nothing newer may be used."""

Doc = dict[str, Any]


def _documents() -> list[tuple[Path, Doc]]:
    docs = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                docs.append((path, doc))
    return docs


def _objects() -> list[Doc]:
    """Every Kubernetes object (the kustomization is kustomize's, not the API's)."""
    return [doc for _, doc in _documents() if doc["kind"] != "Kustomization"]


def _one(kind: str, name: str) -> Doc:
    (doc,) = [d for d in _objects() if d["kind"] == kind and d["metadata"]["name"] == name]
    found: Doc = doc
    return found


def _pod(workload: Doc) -> Doc:
    pod: Doc = workload["spec"]["template"]["spec"]
    return pod


def _containers(pod: Doc) -> list[Doc]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def _container(pod: Doc, name: str) -> Doc:
    (container,) = [c for c in _containers(pod) if c["name"] == name]
    found: Doc = container
    return found


def _workloads() -> list[Doc]:
    return [doc for doc in _objects() if doc["kind"] in {"Deployment", "Job"}]


def _volume(pod: Doc, name: str) -> Doc:
    (volume,) = [v for v in pod["volumes"] if v["name"] == name]
    found: Doc = volume
    return found


def _mount_of(container: Doc, path: PurePosixPath) -> Doc:
    """The volume mount of *container* that holds *path*."""
    (mount,) = [m for m in container["volumeMounts"] if path.is_relative_to(m["mountPath"])]
    found: Doc = mount
    return found


def _port(container: Doc, port: int | str) -> int:
    """A probe's port, by number or by the name of a declared container port."""
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p.get("name") == port]
    return int(number)


def _environment(container: Doc) -> dict[str, str]:
    """The container's variables: envFrom ConfigMaps, then env (secret references as '')."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(_one("ConfigMap", source["configMapRef"]["name"])["data"])
    for variable in container.get("env", []):
        env[variable["name"]] = str(variable.get("value", ""))
    return env


def _shipper_config(tmp_path: Path) -> ShipperConfig:
    """The ConfigMap's shipper.yml, loaded as `shipper run --config` would."""
    config_file = tmp_path / "shipper.yml"
    config_file.write_text(_one("ConfigMap", "shipper-config")["data"]["shipper.yml"])
    return load_config(config_file, environ={})


def _indexer_config(container: Doc) -> IndexerConfig:
    env = {k: v for k, v in _environment(container).items() if v}  # unset optional secrets
    return load_indexer_config(environ=env)


def _validate(objects: Iterable[Doc], version: str = KUBERNETES_VERSION) -> int:
    """Validate each object against the API schemas of *version*, strictly; how many there were.

    Strict: a field the API does not have fails, like a wrong type or a missing required field
    (kubernetes_validate.ValidationError); a kind or apiVersion it does not know fails too
    (SchemaNotFoundError).
    """
    count = 0
    for doc in objects:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as e:
            e.add_note(f"in {doc.get('kind')}/{doc.get('metadata', {}).get('name')} ({version})")
            raise
        count += 1
    return count


def _kustomize_command() -> list[str] | None:
    """`kubectl kustomize`, or a standalone kustomize (on PATH or bootstrap's, in .venv/bin)."""
    kubectl = shutil.which("kubectl")
    if kubectl is not None:
        return [kubectl, "kustomize"]
    kustomize = shutil.which("kustomize") or shutil.which(
        "kustomize", path=str(Path(sys.executable).parent)
    )
    return None if kustomize is None else [kustomize, "build"]


def _render(command: list[str], directory: Path) -> list[Doc]:
    """The objects kustomize makes of *directory* (what `kubectl apply -k` would send)."""
    result = subprocess.run(
        [*command, str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


@pytest.fixture(scope="module")
def kustomize() -> list[str]:
    command = _kustomize_command()
    if command is None:
        message = (
            "could not render deploy/kubernetes: neither kubectl nor kustomize is installed "
            "(scripts/bootstrap.sh builds kustomize with Go where kubectl is missing)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return command


@pytest.fixture(scope="module")
def rendered(kustomize: list[str]) -> list[Doc]:
    return _render(kustomize, MANIFESTS)


def _find(objects: list[Doc], kind: str, name: str) -> Doc:
    (doc,) = [d for d in objects if d["kind"] == kind and d["metadata"]["name"] == name]
    found: Doc = doc
    return found


def _scale_target(hpa: Doc, objects: list[Doc]) -> Doc | None:
    """The workload an HPA scales: same namespace, kind, name and API group/version."""
    ref = hpa["spec"]["scaleTargetRef"]
    namespace = hpa["metadata"].get("namespace")
    for doc in objects:
        if (doc["apiVersion"], doc["kind"], doc["metadata"]["name"]) == (
            ref.get("apiVersion"),
            ref["kind"],
            ref["name"],
        ) and doc["metadata"].get("namespace") == namespace:
            return doc
    return None


def _selected_workloads(budget: Doc, objects: list[Doc]) -> list[Doc]:
    """The workloads of *objects* whose pods a PodDisruptionBudget's selector selects."""
    selector = budget["spec"]["selector"]
    assert "matchExpressions" not in selector, "only matchLabels is checked here"
    wanted = selector["matchLabels"].items()
    namespace = budget["metadata"].get("namespace")
    return [
        doc
        for doc in objects
        if "template" in doc.get("spec", {})
        and doc["metadata"].get("namespace") == namespace
        and wanted <= doc["spec"]["template"]["metadata"].get("labels", {}).items()
    ]


def _line(data: str) -> RawLine:
    return RawLine(data=data.encode(), path="/var/log/app/app.log", file_id="f", offset=0)


def test_every_document_parses_and_names_itself() -> None:
    documents = _documents()
    assert documents
    for path, doc in documents:
        assert {"apiVersion", "kind", "metadata"} <= doc.keys(), path.name
        assert doc["metadata"]["name"], path.name


def test_kustomization_lists_every_manifest_and_sets_the_image() -> None:
    (kustomization,) = [doc for _, doc in _documents() if doc["kind"] == "Kustomization"]
    manifests = {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests
    assert len(kustomization["resources"]) == len(manifests), "a resource is listed twice"
    (image,) = kustomization["images"]
    assert image == {"name": "logferry", "newTag": VERSION}
    namespaces = [doc for doc in _objects() if doc["kind"] == "Namespace"]
    assert [ns["metadata"]["name"] for ns in namespaces] == [kustomization["namespace"]]


def test_every_container_runs_the_project_image_of_this_version() -> None:
    for workload in _workloads():
        for container in _containers(_pod(workload)):
            assert container["image"] == f"logferry:{VERSION}", container["name"]


def test_every_container_has_requests_and_limits() -> None:
    for workload in _workloads():
        for container in _containers(_pod(workload)):
            resources = container["resources"]
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= resources[kind].keys(), (container["name"], kind)


def test_every_pod_runs_unprivileged_as_the_image_user() -> None:
    for workload in _workloads():
        pod = _pod(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == IMAGE_USER
        assert pod["automountServiceAccountToken"] is False
        for container in _containers(pod):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, container["name"]
            assert context["readOnlyRootFilesystem"] is True, container["name"]
            assert context["capabilities"]["drop"] == ["ALL"], container["name"]


def test_long_running_containers_have_probes_on_their_ports() -> None:
    for workload in _workloads():
        if workload["kind"] != "Deployment":
            continue
        for container in _containers(_pod(workload)):
            declared = {p["containerPort"] for p in container["ports"]}
            for probe in ("livenessProbe", "readinessProbe"):
                check = container[probe]["httpGet"]
                assert _port(container, check["port"]) in declared, (container["name"], probe)


def test_volume_mounts_and_config_references_resolve() -> None:
    config_maps = {d["metadata"]["name"]: d for d in _objects() if d["kind"] == "ConfigMap"}
    for workload in _workloads():
        pod = _pod(workload)
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in _containers(pod):
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes, (container["name"], mount["name"])
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps
            for variable in container.get("env", []):
                secret = variable.get("valueFrom", {}).get("secretKeyRef")
                if secret:
                    # No Secret ships with the manifests: a missing one must not block the pod.
                    assert secret["optional"] is True, variable["name"]
        for volume in volumes.values():
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps


@pytest.mark.parametrize("workload", ["shop", "indexer", "logferry-setup"])
def test_env_var_names_are_real_settings(workload: str) -> None:
    (doc,) = [d for d in _workloads() if d["metadata"]["name"] == workload]
    for container in _containers(_pod(doc)):
        assert unknown_env_names(_environment(container)) == set(), container["name"]


def test_commands_use_real_subcommands_and_options() -> None:
    for workload in _workloads():
        for container in _containers(_pod(workload)):
            # Without a command the image's ENTRYPOINT, `shipper`, runs the args.
            (program,) = container.get("command", ["shipper"])
            assert unknown_options(program, container["args"]) == set(), container["name"]


def test_the_shipper_configmap_loads_with_the_real_config_model(tmp_path: Path) -> None:
    config = _shipper_config(tmp_path)
    assert config.output.url.startswith("kafka://")
    assert config.service.name == "shop"
    host, _ = config.metrics_addr.rsplit(":", 1)
    assert host == "0.0.0.0", "the kubelet and Prometheus reach the port from outside the pod"


def test_the_shipper_pipeline_drops_only_the_probe_requests(tmp_path: Path) -> None:
    pipeline = build_pipeline(_shipper_config(tmp_path))
    with pytest.raises(DropEvent) as dropped:
        pipeline(_line('{"message": "GET /health 200", "path": "/health", "status": 200}'))
    assert dropped.value.reason == "health_check"
    event = pipeline(_line('{"message": "GET /orders 200", "path": "/orders", "status": 200}'))
    assert event["url"]["path"] == "/orders"


def test_sidecar_and_app_share_the_log_volume(tmp_path: Path) -> None:
    pod = _pod(_one("Deployment", "shop"))
    app, shipper = _container(pod, "app"), _container(pod, "shipper")
    log_file = PurePosixPath(_environment(app)["LOADTEST_APP_LOG_FILE"])
    app_mount = _mount_of(app, log_file)
    assert not app_mount.get("readOnly"), "the app writes its log"
    assert "emptyDir" in _volume(pod, app_mount["name"])
    shipper_mount = _mount_of(shipper, log_file)
    assert shipper_mount["name"] == app_mount["name"]
    assert shipper_mount["readOnly"] is True
    globs = _shipper_config(tmp_path).input.paths
    assert any(fnmatch.fnmatch(str(log_file), glob) for glob in globs)
    assert any(fnmatch.fnmatch(f"{log_file}.1", glob) for glob in globs)


def test_the_shipper_is_a_native_sidecar() -> None:
    pod = _pod(_one("Deployment", "shop"))
    (sidecar,) = pod["initContainers"]
    assert sidecar["name"] == "shipper"
    assert sidecar["restartPolicy"] == "Always"


def test_the_shipper_reads_its_mounted_config_and_keeps_state_on_a_volume(tmp_path: Path) -> None:
    pod = _pod(_one("Deployment", "shop"))
    shipper = _container(pod, "shipper")
    args = shipper["args"]
    assert args[0] == "run"
    config_path = PurePosixPath(args[args.index("--config") + 1])
    mount = _mount_of(shipper, config_path)
    assert mount["readOnly"] is True
    config_map = _one("ConfigMap", _volume(pod, mount["name"])["configMap"]["name"])
    assert str(config_path.relative_to(mount["mountPath"])) in config_map["data"]
    state = _mount_of(shipper, PurePosixPath(_shipper_config(tmp_path).state_dir))
    assert not state.get("readOnly")
    assert "emptyDir" in _volume(pod, state["name"])


def test_the_shipper_metrics_port_matches_its_config(tmp_path: Path) -> None:
    deployment = _one("Deployment", "shop")
    shipper = _container(_pod(deployment), "shipper")
    port = int(_shipper_config(tmp_path).metrics_addr.rsplit(":", 1)[1])
    assert [p["containerPort"] for p in shipper["ports"]] == [port]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"
    assert shipper["livenessProbe"]["httpGet"]["path"] == "/healthz"
    # /healthz for readiness too: /readyz follows Kafka, and a Kafka outage must not take the
    # app out of its Service (the comment in app-with-shipper.yaml).
    assert shipper["readinessProbe"]["httpGet"]["path"] == "/healthz"


def test_the_app_listens_on_its_probed_port_and_health_path() -> None:
    app = _container(_pod(_one("Deployment", "shop")), "app")
    assert app["command"] == ["loadtest"]
    args = app["args"]
    assert args[0] == "app"
    assert args[args.index("--host") + 1] == "0.0.0.0"
    port = int(args[args.index("--port") + 1])
    values = {k.removeprefix(APP_PREFIX).lower(): v for k, v in _environment(app).items() if v}
    AppConfig.model_validate({**values, "port": port})
    routes = web.Application()
    add_routes(routes)
    paths = {resource.canonical for resource in routes.router.resources()}
    for probe in ("livenessProbe", "readinessProbe"):
        check = app[probe]["httpGet"]
        assert _port(app, check["port"]) == port
        assert check["path"] in paths


def test_the_indexer_config_loads_and_its_port_matches() -> None:
    deployment = _one("Deployment", "indexer")
    indexer = _container(_pod(deployment), "indexer")
    assert indexer["args"] == ["index"]
    config = _indexer_config(indexer)
    port = int(config.metrics_addr.rsplit(":", 1)[1])
    assert config.metrics_addr.startswith("0.0.0.0:")
    assert [p["containerPort"] for p in indexer["ports"]] == [port]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port)
    assert indexer["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert indexer["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # indexer-hpa.yaml owns the count: a replicas field would reset it at every apply.
    assert "replicas" not in deployment["spec"]


def test_the_indexer_consumes_the_topic_the_shipper_publishes_to(tmp_path: Path) -> None:
    indexer = _container(_pod(_one("Deployment", "indexer")), "indexer")
    assert _indexer_config(indexer).kafka.url == _shipper_config(tmp_path).output.url


def test_the_setup_job_renders_what_the_indexer_renders() -> None:
    job = _one("Job", "logferry-setup")
    pod = _pod(job)
    assert pod["restartPolicy"] in {"OnFailure", "Never"}
    (setup,) = pod["containers"]
    assert setup["args"][0] == "setup"
    assert setup["args"][setup["args"].index("--kibana") + 1].startswith("http")
    indexer = _container(_pod(_one("Deployment", "indexer")), "indexer")
    assert setup["envFrom"] == indexer["envFrom"]
    setup_config, indexer_config = _indexer_config(setup), _indexer_config(indexer)
    assert setup_config.index == indexer_config.index
    assert setup_config.retention == indexer_config.retention
    assert setup_config.kafka == indexer_config.kafka


@pytest.mark.parametrize("version", [OLDEST_KUBERNETES, KUBERNETES_VERSION])
@pytest.mark.parametrize("manifest", sorted(p.name for p in MANIFESTS.glob("*.yaml")))
def test_each_manifest_file_validates_strictly(manifest: str, version: str) -> None:
    objects = [doc for path, doc in _documents() if path.name == manifest]
    if manifest == "kustomization.yaml":
        (kustomization,) = objects
        assert kustomization["kind"] == "Kustomization"  # kustomize's, not the API's
        return
    assert _validate(objects, version) >= 1


@pytest.mark.parametrize("version", [OLDEST_KUBERNETES, KUBERNETES_VERSION])
def test_the_kustomize_output_validates_strictly(rendered: list[Doc], version: str) -> None:
    assert _validate(rendered, version) == len(_objects()), "kustomize dropped or added objects"
    for doc in rendered:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "logferry", doc["metadata"]["name"]
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "logferry"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["spec", "template", "spec", "containers", 0, "imagePullPolicyy"], "Always"),  # unknown
        (["spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"], "9109x"),
        (["spec", "template", "spec", "terminationGracePeriodSeconds"], [45]),  # wrong type
        (["spec", "selector"], None),  # required
        (["apiVersion"], "apps/v2"),  # no such API
    ],
)
def test_the_validation_rejects_a_broken_object(path: list[str | int], value: object) -> None:
    broken = copy.deepcopy(_one("Deployment", "indexer"))
    *parents, leaf = path
    node: Any = broken
    for key in parents:
        node = node[key]
    if value is None:
        del node[leaf]
    else:
        node[leaf] = value
    with pytest.raises(
        (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError)
    ):
        _validate([broken])


def test_the_native_sidecar_field_is_validated_not_ignored() -> None:
    shop = _one("Deployment", "shop")
    assert _validate([shop]) == 1
    # Before restartPolicy existed on containers (1.28), the schema rejects it: the field is
    # checked, so a typo or a wrong value in it fails too.
    with pytest.raises(kubernetes_validate.ValidationError, match="restartPolicy"):
        _validate([shop], "1.27.0")
    wrong = copy.deepcopy(shop)
    _container(_pod(wrong), "shipper")["restartPolicy"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate([wrong])


def test_a_broken_manifest_fails_through_kustomize(kustomize: list[str], tmp_path: Path) -> None:
    copied = tmp_path / "kubernetes"
    shutil.copytree(MANIFESTS, copied)
    budget = copied / "indexer-pdb.yaml"
    budget.write_text(budget.read_text().replace("maxUnavailable:", "maxUnavailabel:"))
    with pytest.raises(kubernetes_validate.ValidationError, match="maxUnavailabel"):
        _validate(_render(kustomize, copied))


def test_the_indexer_hpa_and_pdb_target_the_indexer_deployment(rendered: list[Doc]) -> None:
    indexer = _find(rendered, "Deployment", "indexer")
    hpa = _find(rendered, "HorizontalPodAutoscaler", "indexer")
    assert _scale_target(hpa, rendered) is indexer
    assert "replicas" not in indexer["spec"], "every kubectl apply would reset the HPA's count"
    budget = _find(rendered, "PodDisruptionBudget", "indexer")
    assert _selected_workloads(budget, rendered) == [indexer]
    # The Deployment's own selector picks the same pods (kustomize keeps labels out of both).
    assert budget["spec"]["selector"] == indexer["spec"]["selector"]
    assert budget["spec"]["maxUnavailable"] == 1


def test_the_target_checks_catch_a_mismatch(rendered: list[Doc]) -> None:
    hpa = copy.deepcopy(_find(rendered, "HorizontalPodAutoscaler", "indexer"))
    hpa["spec"]["scaleTargetRef"]["name"] = "indexers"
    assert _scale_target(hpa, rendered) is None
    hpa["spec"]["scaleTargetRef"] = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": "indexer",
    }
    assert _scale_target(hpa, rendered) is None
    budget = copy.deepcopy(_find(rendered, "PodDisruptionBudget", "indexer"))
    budget["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = "index"
    assert _selected_workloads(budget, rendered) == []
    budget["spec"]["selector"]["matchLabels"] = {}  # policy/v1: every pod of the namespace
    assert len(_selected_workloads(budget, rendered)) > 1
    budget = copy.deepcopy(_find(rendered, "PodDisruptionBudget", "indexer"))
    budget["metadata"]["namespace"] = "default"
    assert _selected_workloads(budget, rendered) == []


def test_the_indexer_scales_on_the_lag_it_exports_up_to_the_partitions(rendered: list[Doc]) -> None:
    hpa = _find(rendered, "HorizontalPodAutoscaler", "indexer")
    config = _indexer_config(_container(_pod(_one("Deployment", "indexer")), "indexer"))
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "External"
    external = metric["external"]
    # The series the indexer exports, with the labels the selector uses.
    metrics = IndexerMetrics()
    metrics.consumer_lag.labels(config.kafka.topic, "0").set(1)
    samples = {
        sample.name: sample.labels
        for family in metrics.registry.collect()
        for sample in family.samples
    }
    assert external["metric"]["name"] in samples
    labels = samples[external["metric"]["name"]]
    assert external["metric"]["selector"]["matchLabels"] == {"topic": labels["topic"]}
    assert external["target"]["type"] == "AverageValue"
    assert int(external["target"]["averageValue"]) > 0
    # A replica beyond the topic's partitions would get none and sit idle.
    spec = hpa["spec"]
    assert 1 <= spec["minReplicas"] < spec["maxReplicas"] <= config.kafka.topic_partitions


def test_the_node_exporter_runs_on_every_node_reading_the_host_read_only() -> None:
    daemonset = _one("DaemonSet", "node-exporter")
    pod = _pod(daemonset)
    assert pod["hostPID"] is True and pod["hostNetwork"] is True
    assert pod["tolerations"] == [{"operator": "Exists"}]
    (container,) = pod["containers"]
    assert container["image"].startswith("prom/node-exporter:v")
    assert "--path.rootfs=/host" in container["args"]
    mount = _mount_of(container, PurePosixPath("/host"))
    assert mount["readOnly"] is True
    assert _volume(pod, mount["name"])["hostPath"]["path"] == "/"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    annotations = daemonset["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(container["ports"][0]["containerPort"])
