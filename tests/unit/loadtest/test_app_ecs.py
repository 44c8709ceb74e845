"""The shop's lines through logferry's default pipeline land in the ECS fields dashboards use."""

from __future__ import annotations

from typing import Any

import pytest

from loadtest.app import AppConfig
from pipelines import Pipeline, PipelineContext, RawLine
from shipper.config import ShipperConfig
from shipper.pipeline import build_pipeline
from tests.unit.loadtest.support import Shop


def field(event: dict[str, Any], path: str) -> Any:
    """The value at a dotted ECS path (``KeyError`` if absent)."""
    value: Any = event
    for part in path.split("."):
        value = value[part]
    return value


async def shipped(shop: Shop, pipeline: Pipeline) -> dict[str, dict[str, Any]]:
    """Each access line of the log file through *pipeline*, by request id."""
    events: dict[str, dict[str, Any]] = {}
    offset = 0
    for line in shop.log_file.read_bytes().splitlines(keepends=True):
        event = pipeline(RawLine(line.rstrip(b"\n"), str(shop.log_file), "fp:1:2", offset, ()))
        offset += len(line)
        if field(event, "log.logger") == "shop.access":
            events[field(event, "http.request.id")] = event
    return events


@pytest.fixture
def pipeline() -> Pipeline:
    """The default chain, with no service name configured (so the line's own one is used)."""
    return Pipeline.from_config(None, PipelineContext(host_name="test", agent_version="test"))


async def test_access_line_maps_to_ecs(shop: Shop, pipeline: Pipeline) -> None:
    headers = {"X-Request-Id": "ecs-ok", "X-User-Id": "u-7", "User-Agent": "pytest/1"}
    async with shop.client.get("/orders/1001?verbose=1", headers=headers) as response:
        assert response.status == 200
    line = shop.access_line("ecs-ok")
    event = (await shipped(shop, pipeline))["ecs-ok"]

    assert "tags" not in event, event.get("tags")
    assert field(event, "@timestamp").startswith(line["time"][:23])
    assert field(event, "message") == "GET /orders/1001 200"
    assert field(event, "log.level") == "info"
    assert field(event, "log.logger") == "shop.access"
    assert field(event, "service.name") == "shop"
    assert field(event, "http.request.method") == "GET"
    assert field(event, "url.path") == "/orders/1001"
    assert field(event, "http.response.status_code") == 200
    assert field(event, "http.request.id") == "ecs-ok"
    assert field(event, "user.id") == "u-7"
    assert field(event, "client.address") == "127.0.0.1"
    assert field(event, "user_agent.original") == "pytest/1"
    assert field(event, "event.duration") == round(line["duration_ms"] * 1_000_000)
    assert field(event, "event.outcome") == "success"
    assert "error" not in event
    assert "app" not in event  # every key of an access line has an ECS home


async def test_error_line_maps_to_ecs(shop: Shop, pipeline: Pipeline) -> None:
    headers = {"X-Request-Id": "ecs-err", "X-Fault-Error-Rate": "1", "X-Fault-Latency-Ms": "5"}
    async with shop.client.post("/checkout", json={"order_id": 1001}, headers=headers) as response:
        assert response.status == 503
    line = shop.access_line("ecs-err")
    event = (await shipped(shop, pipeline))["ecs-err"]

    assert field(event, "log.level") == "error"
    assert field(event, "http.response.status_code") == 503
    assert field(event, "event.outcome") == "failure"
    assert field(event, "event.duration") >= 5_000_000
    assert field(event, "error.type") == "PaymentGatewayTimeout"
    assert field(event, "error.message") == "payment gateway did not answer in 3000 ms"
    assert field(event, "error.stack_trace") == line["stack_trace"]
    assert field(event, "error.grouping_key")


async def test_extra_lines_carry_the_request_id(shop: Shop, pipeline: Pipeline) -> None:
    headers = {"X-Request-Id": "ecs-flood", "X-Log-Extra-Lines": "3"}
    async with shop.client.get("/orders", headers=headers) as response:
        assert response.status == 200
    raw = shop.log_file.read_bytes().splitlines()
    events = [pipeline(RawLine(line, "p", "fp:1:2", n, ())) for n, line in enumerate(raw)]
    assert [field(event, "http.request.id") for event in events] == ["ecs-flood"] * 4
    assert [field(event, "log.logger") for event in events[:3]] == ["shop.orders"] * 3
    assert all("http" not in event or "response" not in event["http"] for event in events[:3])


async def test_shipper_pipeline_with_the_service_configured(shop: Shop) -> None:
    # As the load test harness runs it: the shipper's own service setting is the shop's name.
    config = ShipperConfig.model_validate({"service": {"name": AppConfig().service}})
    async with shop.client.get("/health", headers={"X-Request-Id": "ecs-svc"}) as response:
        assert response.status == 200
    event = (await shipped(shop, build_pipeline(config)))["ecs-svc"]
    assert field(event, "service.name") == "shop"
    assert field(event, "url.path") == "/health"
