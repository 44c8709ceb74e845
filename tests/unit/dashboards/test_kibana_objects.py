"""The Kibana saved objects of dashboards/kibana/ are consistent, and `shipper setup --kibana`
builds the import Kibana expects and reports its answer in one line per problem."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from click.testing import CliRunner
from pydantic import SecretStr

from pipelines import tags
from shipper.cli import cli
from shipper.errors import ConfigError, KibanaError
from shipper.indexer.config import ElasticsearchConfig, IndexConfig, KibanaConfig
from shipper.indexer.kibana import (
    SavedObject,
    auth_header,
    build_bulk_get_request,
    build_import_request,
    compare,
    describe_import_errors,
    import_summary,
    load_saved_objects,
    objects_dir,
    setup_kibana,
)
from shipper.resources import KIBANA_OBJECTS, files_with_suffix

OBJECTS = load_saved_objects()
BY_KEY = {(o.type, o.id): o for o in OBJECTS}
APP_VIEW = "logferry-app-logs"
DEADLETTER_VIEW = "logferry-deadletters"


def search_source(obj: SavedObject) -> dict[str, Any]:
    source: dict[str, Any] = orjson.loads(
        obj.attributes["kibanaSavedObjectMeta"]["searchSourceJSON"]
    )
    return source


def of_type(kind: str) -> list[SavedObject]:
    return [o for o in OBJECTS if o.type == kind]


# --- the files ---------------------------------------------------------------------------------


def test_every_line_of_every_file_is_one_saved_object() -> None:
    files = files_with_suffix(KIBANA_OBJECTS, ".ndjson")
    assert files
    for path in files:
        for text in path.read_text().splitlines():
            data = orjson.loads(text)
            assert {"type", "id", "attributes", "references"} <= data.keys(), text[:80]
            # Only set when sure of the values; Kibana migrates objects without them.
            assert "migrationVersion" not in data and "typeMigrationVersion" not in data


def test_ids_are_unique_and_fixed() -> None:
    keys = [(o.type, o.id) for o in OBJECTS]
    assert len(keys) == len(set(keys))
    assert all(o.id.startswith("logferry-") for o in OBJECTS)


def test_every_reference_resolves_to_an_object_in_the_files() -> None:
    for obj in OBJECTS:
        for ref in obj.references:
            assert (ref["type"], ref["id"]) in BY_KEY, f"{obj.label}: {ref}"


def test_the_data_views() -> None:
    app = BY_KEY[("index-pattern", APP_VIEW)].attributes
    assert app["title"] == "app-logs-*"
    assert app["timeFieldName"] == "@timestamp"
    formats = orjson.loads(app["fieldFormatMap"])
    assert formats["event.duration"]["params"]["inputFormat"] == "nanoseconds"
    deadletters = BY_KEY[("index-pattern", DEADLETTER_VIEW)].attributes
    assert deadletters["title"] == IndexConfig().deadletter_index_glob()
    assert deadletters["timeFieldName"] == "@timestamp"
    # The dead-letter indices also match app-logs-*: the queries below must cope with that.
    assert IndexConfig().deadletter_index_glob().startswith(app["title"].rstrip("*"))


def test_every_saved_search_is_lucene_and_references_its_data_view() -> None:
    searches = of_type("search")
    assert {s.id for s in searches} == {
        "logferry-errors-by-service",
        "logferry-trace",
        "logferry-slow-requests",
        "logferry-parse-failures",
        "logferry-dead-letters",
    }
    for search in searches:
        source = search_source(search)
        assert source["query"]["language"] == "lucene", search.label
        assert source["query"]["query"].strip(), search.label
        ref_name = source["indexRefName"]
        (ref,) = [r for r in search.references if r["name"] == ref_name]
        assert ref["type"] == "index-pattern"
        expected = DEADLETTER_VIEW if search.id == "logferry-dead-letters" else APP_VIEW
        assert ref["id"] == expected, search.label
        assert search.attributes["columns"] and search.attributes["sort"]


def test_the_queries_say_what_the_searches_promise() -> None:
    query = {s.id: search_source(s)["query"]["query"] for s in of_type("search")}
    assert query["logferry-errors-by-service"].startswith("log.level:(error OR critical")
    assert query["logferry-slow-requests"] == "event.duration:>1000000000"  # 1 s in ns
    assert "trace.id:" in query["logferry-trace"] and "http.request.id:" in query["logferry-trace"]
    assert "REPLACE-ME" in query["logferry-trace"]
    errors = BY_KEY[("search", "logferry-errors-by-service")].attributes
    assert errors["columns"] == ["service.name", "error.type", "message"]
    assert errors["sort"] == [["@timestamp", "desc"]]


def test_parse_failures_name_the_tags_the_shipper_really_adds() -> None:
    query = search_source(BY_KEY[("search", "logferry-parse-failures")])["query"]["query"]
    named = set(query.removeprefix("tags:(").removesuffix(")").split(" OR "))
    assert named == {
        tags.JSON_PARSE_FAILURE,
        tags.NOT_OBJECT,
        tags.TOO_DEEP,
        tags.EMPTY,
        tags.INVALID_UTF8,
        tags.TRUNCATED,
    }


def test_the_dashboard_panels_reference_existing_visualizations_on_the_app_logs_view() -> None:
    (dashboard,) = of_type("dashboard")
    panels = orjson.loads(dashboard.attributes["panelsJSON"])
    refs = {r["name"]: r for r in dashboard.references}
    titles = []
    for panel in panels:
        assert panel["gridData"]["i"] == panel["panelIndex"]
        ref = refs[panel["panelRefName"]]
        target = BY_KEY[(ref["type"], ref["id"])]
        titles.append(target.title)
        assert search_source(target)["query"]["language"] == "lucene"
        (view,) = [r for r in target.references if r["type"] == "index-pattern"]
        assert view["id"] == APP_VIEW
    assert titles == [
        "logferry: log volume by level",
        "logferry: error rate",
        "logferry: p95 request duration",
        "logferry: top error groups",
    ]
    assert len({p["panelIndex"] for p in panels}) == len(panels)


def test_the_visualizations_leave_the_dead_letters_out() -> None:
    for vis in of_type("visualization"):
        query = search_source(vis)["query"]["query"]
        assert query == f"NOT _index:{IndexConfig().deadletter_index_glob()}", vis.label
        state = orjson.loads(vis.attributes["visState"])
        assert state["title"] == vis.title


def test_a_broken_file_is_a_config_error_naming_the_line(tmp_path: Path) -> None:
    (tmp_path / "a.ndjson").write_text('{"type":"search","id":"x","attributes":{}}\n{oops\n')
    with pytest.raises(ConfigError, match=r"a\.ndjson:2 is not JSON"):
        load_saved_objects(tmp_path)
    with pytest.raises(ConfigError, match=r"no \*\.ndjson"):
        load_saved_objects(tmp_path / "nothing-here")


# --- the import request ------------------------------------------------------------------------


def test_the_import_request_is_one_multipart_ndjson_file_with_overwrite() -> None:
    request = build_import_request(
        "http://kibana:5601/base/", OBJECTS, {"Authorization": "Basic x"}, boundary="BOUNDARY"
    )
    assert request.method == "POST"
    assert request.url == "http://kibana:5601/base/api/saved_objects/_import?overwrite=true"
    assert request.headers == {
        "kbn-xsrf": "true",
        "Content-Type": "multipart/form-data; boundary=BOUNDARY",
        "Authorization": "Basic x",
    }
    head, _, rest = request.body.partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [
        b"--BOUNDARY",
        b'Content-Disposition: form-data; name="file"; filename="logferry.ndjson"',
        b"Content-Type: application/ndjson",
    ]
    assert rest.endswith(b"\r\n--BOUNDARY--\r\n")
    lines = rest.removesuffix(b"\r\n--BOUNDARY--\r\n").splitlines()
    assert [(o["type"], o["id"]) for o in map(orjson.loads, lines)] == list(BY_KEY)


def test_the_comparison_request_asks_for_every_id() -> None:
    request = build_bulk_get_request("https://k:5601", OBJECTS)
    assert request.url == "https://k:5601/api/saved_objects/_bulk_get"
    assert request.headers["kbn-xsrf"] == "true"
    assert orjson.loads(request.body) == [{"type": t, "id": i} for t, i in BY_KEY]


def test_credentials_are_kibanas_own_else_the_elasticsearch_ones() -> None:
    es = ElasticsearchConfig(username="elastic", password=SecretStr("pw"))
    basic = "Basic " + base64.b64encode(b"elastic:pw").decode()
    assert auth_header(KibanaConfig(url="http://k"), es) == {"Authorization": basic}
    own = KibanaConfig(url="http://k", username="kb", password=SecretStr("s"))
    assert auth_header(own, es)["Authorization"] == "Basic " + base64.b64encode(b"kb:s").decode()
    key = KibanaConfig(url="http://k", api_key=SecretStr("abc"))
    assert auth_header(key, es) == {"Authorization": "ApiKey abc"}
    assert auth_header(KibanaConfig(url="http://k"), ElasticsearchConfig()) == {}


def stored(obj: SavedObject, **extra_attributes: Any) -> dict[str, Any]:
    """What Kibana might answer for *obj*: JSON text re-serialised, plus fields it adds."""
    attributes = dict(obj.attributes)
    for key in ("visState", "panelsJSON"):
        if key in attributes:
            attributes[key] = orjson.dumps(orjson.loads(attributes[key])).decode()
    return {
        **obj.to_json(),
        "attributes": {**attributes, **extra_attributes},
        "updated_at": "2026-01-01T00:00:00.000Z",
        "version": "WzEsMV0=",
    }


def test_compare_ignores_what_kibana_adds_and_finds_what_differs() -> None:
    answer = {"saved_objects": [stored(o, kibanaExtra=1) for o in OBJECTS]}
    same = compare(OBJECTS, answer)
    assert (len(same.missing), len(same.differing), len(same.same)) == (0, 0, len(OBJECTS))

    edited = [stored(o) for o in OBJECTS]
    edited[0]["attributes"]["title"] = "edited in Kibana"
    edited[1] = {"type": OBJECTS[1].type, "id": OBJECTS[1].id, "error": {"statusCode": 404}}
    result = compare(OBJECTS, {"saved_objects": edited})
    assert [o.id for o in result.differing] == [OBJECTS[0].id]
    assert [o.id for o in result.missing] == [OBJECTS[1].id]


# --- Kibana's answers --------------------------------------------------------------------------


def test_import_errors_become_one_message_per_object() -> None:
    response = {
        "success": False,
        "successCount": 10,
        "errors": [
            {
                "id": "logferry-overview",
                "type": "dashboard",
                "title": "logferry: overview",
                "error": {
                    "type": "missing_references",
                    "references": [{"type": "visualization", "id": "gone"}],
                },
            },
            {
                "id": "logferry-trace",
                "type": "search",
                "meta": {"title": "logferry: one trace"},
                "error": {"type": "unknown", "message": "bad request", "statusCode": 400},
            },
            {"id": "x", "type": "lens", "error": {"type": "unsupported_type"}},
            {"id": "y", "type": "search", "error": {"type": "ambiguous_conflict"}},
        ],
    }
    assert describe_import_errors(response) == [
        'dashboard logferry-overview ("logferry: overview"): refers to objects that are neither '
        "in the files nor in Kibana: visualization gone",
        'search logferry-trace ("logferry: one trace"): bad request (HTTP 400)',
        "lens x: its type is not supported by this Kibana (a plugin is disabled?)",
        "search y: matches several existing objects (copies in other spaces); resolve it in Kibana",
    ]
    assert describe_import_errors({"success": True, "successCount": 12}) == []


def test_import_summary_counts_the_overwritten() -> None:
    response = {
        "success": True,
        "successCount": 3,
        "successResults": [
            {"type": "search", "id": "a", "overwrite": True},
            {"type": "search", "id": "b"},
            {"type": "search", "id": "c", "overwrite": True},
        ],
    }
    assert import_summary(response) == (3, 2)


# --- the whole step, against a stand-in for Kibana's two endpoints -----------------------------


class FakeKibana:
    """Kibana's _bulk_get and _import, keeping what was imported (the real one is not here)."""

    def __init__(self, *, status: int = 200, refuse: str | None = None) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.imports = 0
        self.status = status
        self.refuse = refuse
        self.app = web.Application()
        self.app.router.add_post("/api/saved_objects/_bulk_get", self.bulk_get)
        self.app.router.add_post("/api/saved_objects/_import", self.import_)

    async def bulk_get(self, request: web.Request) -> web.Response:
        if self.status != 200:
            return web.json_response({"message": "nope"}, status=self.status)
        wanted = await request.json()
        found = [
            self.objects.get((w["type"], w["id"]), {**w, "error": {"statusCode": 404}})
            for w in wanted
        ]
        return web.json_response({"saved_objects": found})

    async def import_(self, request: web.Request) -> web.Response:
        assert request.query["overwrite"] == "true"
        assert request.headers["kbn-xsrf"] == "true"
        form = await request.post()
        upload = form["file"]
        assert isinstance(upload, web.FileField) and upload.filename.endswith(".ndjson")
        self.imports += 1
        results, errors = [], []
        for text in upload.file.read().splitlines():
            obj = orjson.loads(text)
            key = (obj["type"], obj["id"])
            if obj["id"] == self.refuse:
                errors.append({**obj, "error": {"type": "unknown", "message": "invalid"}})
                continue
            results.append({"type": key[0], "id": key[1], "overwrite": key in self.objects})
            self.objects[key] = {**obj, "attributes": {**obj["attributes"], "added": 1}}
        body = {"success": not errors, "successCount": len(results), "successResults": results}
        return web.json_response({**body, "errors": errors} if errors else body)


async def serve(kibana: FakeKibana) -> AsyncIterator[str]:
    server = TestServer(kibana.app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.fixture
def fake() -> FakeKibana:
    return FakeKibana()


@pytest.fixture
async def kibana_url(fake: FakeKibana) -> AsyncIterator[str]:
    async for url in serve(fake):
        yield url


async def test_first_run_creates_second_changes_nothing_an_edit_is_put_back(
    fake: FakeKibana, kibana_url: str
) -> None:
    config, es = KibanaConfig(url=kibana_url), ElasticsearchConfig()
    first = await setup_kibana(config, es)
    assert (first.status, first.detail.split(" (")[0]) == (
        "created",
        f"imported {len(OBJECTS)} objects",
    )
    second = await setup_kibana(config, es)
    assert (second.status, second.detail) == (
        "unchanged",
        f"all {len(OBJECTS)} objects already there",
    )
    assert fake.imports == 1  # the second run imported nothing

    fake.objects[("search", "logferry-trace")]["attributes"]["title"] = "edited"
    dry = await setup_kibana(config, es, dry_run=True)
    assert dry.status == "would update" and "1 changed: logferry-trace" in dry.detail
    assert fake.imports == 1
    third = await setup_kibana(config, es)
    assert third.status == "updated" and fake.imports == 2
    assert (await setup_kibana(config, es)).status == "unchanged"


async def test_refused_objects_and_credentials_are_one_line_errors() -> None:
    config, es = KibanaConfig, ElasticsearchConfig()
    refusing = FakeKibana(refuse="logferry-trace")
    async for url in serve(refusing):
        with pytest.raises(
            KibanaError, match=r"refused 1 of \d+ saved objects: search logferry-trace"
        ):
            await setup_kibana(config(url=url), es)
    unauthorised = FakeKibana(status=401)
    async for url in serve(unauthorised):
        with pytest.raises(KibanaError, match=r"refused the credentials \(401\)"):
            await setup_kibana(config(url=url), es)


async def test_objects_dir_points_setup_at_the_operators_own_copies(
    tmp_path: Path, fake: FakeKibana, kibana_url: str
) -> None:
    assert objects_dir(KibanaConfig()) == KIBANA_OBJECTS
    own = tmp_path / "kibana"
    own.mkdir()
    first = files_with_suffix(KIBANA_OBJECTS, ".ndjson")[0]
    (own / first.name).write_bytes(first.read_bytes())
    config = KibanaConfig(url=kibana_url, objects_dir=own)
    step = await setup_kibana(config, ElasticsearchConfig())
    imported = len(load_saved_objects(own))
    assert 0 < imported < len(OBJECTS)
    assert step.status == "created" and step.detail.startswith(f"imported {imported} objects")
    with pytest.raises(ConfigError, match=rf"no \*\.ndjson file in {tmp_path}"):
        await setup_kibana(
            config.model_copy(update={"objects_dir": tmp_path}), ElasticsearchConfig()
        )


async def test_unreachable_kibana_is_one_line() -> None:
    from tests.integration.support import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(KibanaError, match=f"Kibana at {url} is unreachable"):
        await setup_kibana(KibanaConfig(url=url), ElasticsearchConfig())


# --- the command line --------------------------------------------------------------------------


def test_setup_help_shows_the_kibana_options() -> None:
    result = CliRunner().invoke(cli, ["setup", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--kibana URL", "--kibana-username", "--kibana-password"):
        assert option in result.output
    assert "INDEXER_KIBANA_URL" in result.output


def test_without_kibana_nothing_about_kibana_happens(monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[object] = []

    async def fake_setup_kibana(*args: object, **kwargs: object) -> None:
        called.append(args)

    monkeypatch.setattr("shipper.indexer.kibana.setup_kibana", fake_setup_kibana)
    result = CliRunner().invoke(cli, ["setup", "--skip-kafka", "--skip-elasticsearch"])
    assert result.exit_code == 0, result.output
    assert called == []
    assert "Kibana" not in result.output


def test_kibana_flags_reach_the_step(monkeypatch: pytest.MonkeyPatch) -> None:
    from shipper.indexer.setup import SetupStep

    seen: list[KibanaConfig] = []

    async def fake_setup_kibana(
        kibana: KibanaConfig, es: ElasticsearchConfig, *, dry_run: bool
    ) -> SetupStep:
        seen.append(kibana)
        return SetupStep("Kibana saved objects", "unchanged", "all 12 objects already there")

    monkeypatch.setattr("shipper.indexer.kibana.setup_kibana", fake_setup_kibana)
    result = CliRunner().invoke(
        cli,
        ["setup", "--skip-kafka", "--skip-elasticsearch", "--kibana", "http://kb:5601/"],
        env={"INDEXER_KIBANA_USERNAME": "ops", "INDEXER_KIBANA_PASSWORD": "pw"},
    )
    assert result.exit_code == 0, result.output
    (kibana,) = seen
    assert kibana.url == "http://kb:5601" and kibana.username == "ops"
    assert "Kibana saved objects" in result.output and "unchanged" in result.output
    assert "nothing changed" in result.output
