"""deploy/compose/alert_webhook.py answers Alertmanager's webhooks in the Compose stack."""

from __future__ import annotations

import importlib.util
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.unit.deploy.support import REPOSITORY

SCRIPT = REPOSITORY / "deploy" / "compose" / "alert_webhook.py"

NOTIFICATION = {
    "version": "4",
    "status": "firing",
    "receiver": "pager",
    "groupLabels": {"alertname": "KafkaUnreachable"},
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "KafkaUnreachable", "severity": "critical"},
            "annotations": {"summary": "shipper shipper:9108 cannot reach Kafka"},
        }
    ],
}


def _load() -> ModuleType:
    # A script mounted into a plain python container, not a package: load it by path.
    spec = importlib.util.spec_from_file_location("alert_webhook", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def base_url() -> Iterator[str]:
    server = _load().make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _post(url: str, body: bytes) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_notification_is_printed_as_one_json_line(
    base_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, answer = _post(f"{base_url}/pager", json.dumps(NOTIFICATION).encode())
    assert (status, answer) == (200, {"received": 1})
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line) == {
        "receiver": "pager",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "KafkaUnreachable", "severity": "critical"},
                "summary": "shipper shipper:9108 cannot reach Kafka",
            }
        ],
    }


def test_a_body_that_is_not_json_is_refused(base_url: str) -> None:
    status, _ = _post(f"{base_url}/tickets", b"not json")
    assert status == 400


def test_get_answers_for_the_health_check(base_url: str) -> None:
    with urllib.request.urlopen(base_url + "/", timeout=5) as response:
        assert response.status == 200
