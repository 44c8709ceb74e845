"""The runtime's side of the transforms: serialising, keys, oversize events, a failing stage."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from pipelines.types import RawLine
from shipper.config import load_config
from shipper.metrics import ShipperMetrics
from shipper.pipeline import PIPELINE_ERROR_TAG, EncoderSettings, EventEncoder, record
from shipper.sinks import OutgoingEvent


def _raw(data: bytes, offset: int = 0) -> RawLine:
    return RawLine(
        data=data,
        path="/var/log/app.log",
        file_id="f1",
        offset=offset,
        end_offset=offset + len(data) + 1,
    )


class _Encoder:
    """EventEncoder plus the metrics the runner would feed from its tallies."""

    def __init__(self, **config: Any) -> None:
        self.inner = EventEncoder(EncoderSettings.of(load_config(overrides=config, environ={})))
        self.metrics = ShipperMetrics()

    def encode(self, batch: list[RawLine]) -> list[OutgoingEvent]:
        encoded = self.inner.encode(batch)
        record(encoded, self.metrics)
        return encoded.events


def _encoder(**config: Any) -> tuple[_Encoder, ShipperMetrics]:
    encoder = _Encoder(**config)
    return encoder, encoder.metrics


def _sample(metrics: ShipperMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return value or 0.0


def test_events_are_keyed_by_trace_id_else_by_file() -> None:
    encoder, _ = _encoder()
    with_trace, without = encoder.encode(
        [
            _raw(b'{"message": "a", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}'),
            _raw(b'{"message": "b"}', 60),
        ]
    )
    assert with_trace.key == b"4bf92f3577b34da6a3ce929d0e0e4736"
    assert without.key == b"f1"
    assert orjson.loads(without.value)["event"]["id"] == without.event_id != with_trace.event_id


def test_app_metrics_and_problem_tags_are_counted() -> None:
    encoder, metrics = _encoder(service={"name": "orders"})
    encoder.encode(
        [
            _raw(
                b'{"levelname": "ERROR", "message": "boom", "method": "GET", "status": 503, "duration_ms": 20}'
            ),
            _raw(b"not json", 100),
        ]
    )
    assert _sample(metrics, "app_log_events_total", service="orders", level="error") == 1
    assert (
        _sample(
            metrics, "app_http_requests_total", service="orders", method="GET", status_class="5xx"
        )
        == 1
    )
    assert _sample(metrics, "logferry_shipper_parse_problems_total", tag="_jsonparsefailure") == 1


def test_an_event_too_big_for_the_output_is_cut_and_tagged() -> None:
    encoder, _ = _encoder(output={"max_event_bytes": 64 * 1024})
    (out,) = encoder.encode([_raw(b'{"message": "' + b"x" * 200_000 + b'", "order": 7}')])
    event = orjson.loads(out.value)
    assert len(out.value) <= 64 * 1024
    assert "_truncated" in event["tags"]
    assert event["message"].startswith("xxxx")
    assert event["app"]["order"] == 7


def test_a_failing_stage_ships_the_raw_line_tagged(monkeypatch: pytest.MonkeyPatch) -> None:
    encoder, metrics = _encoder()

    def broken(raw: RawLine) -> Any:
        raise RuntimeError("bug in a stage")

    monkeypatch.setattr(encoder.inner, "_pipeline", broken)
    (out,) = encoder.encode([_raw(b'{"message": "still here"}')])
    event = orjson.loads(out.value)
    assert event["message"] == '{"message": "still here"}'
    assert PIPELINE_ERROR_TAG in event["tags"]
    assert event["error"]["message"] == "bug in a stage"
    assert _sample(metrics, "logferry_shipper_parse_problems_total", tag=PIPELINE_ERROR_TAG) == 1


def test_a_drop_filter_is_counted_not_shipped() -> None:
    stages = [
        {"type": stage} for stage in ("parse", "timestamp", "redact", "ecs", "correlate", "derive")
    ]
    encoder, metrics = _encoder(pipeline=[*stages, {"type": "drop", "levels": ["debug"]}])
    out = encoder.encode(
        [_raw(b'{"levelname": "DEBUG", "message": "noise"}'), _raw(b'{"message": "kept"}', 50)]
    )
    assert [orjson.loads(o.value)["message"] for o in out] == ["kept"]
    assert _sample(metrics, "logferry_shipper_events_filtered_total", reason="filtered") == 1
    transformed = metrics.registry.get_sample_value(
        "logferry_shipper_lines_transformed_total", {"process": "main"}
    )
    assert transformed == 2  # the filtered line ran through the chain too


async def test_worker_processes_encode_exactly_like_the_main_process() -> None:
    from shipper.workers import InlineTransformer, ProcessTransformer

    config = load_config(overrides={"service": {"name": "orders"}}, environ={})
    # An hour ago: inside the timestamp stage's window around the (real) read time.
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    asctime = hour_ago.strftime("%Y-%m-%d %H:%M:%S,123").encode()
    iso = hour_ago.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    epoch = str(int(hour_ago.timestamp())).encode()
    batch = [
        _raw(
            b'{"asctime": "' + asctime + b'", "levelname": "INFO", "message": "ok", "status": 200}',
            0,
        ),
        _raw(b'{"time": "' + iso + b'", "message": "caf\xe9"}', 80),
        _raw(
            b'{"ts": '
            + epoch
            + b', "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}',
            100,
        ),
    ]
    inline = await InlineTransformer(config).encode(batch)
    lost: list[Exception] = []
    pool = ProcessTransformer(config, workers=1, on_lost=lost.append)
    try:
        in_worker = await pool.encode(batch)
    finally:
        await pool.close()
    assert lost == []

    def without_read_time(events: list[OutgoingEvent]) -> list[tuple[Any, bytes, str]]:
        decoded = []
        for event in events:
            body = orjson.loads(event.value)
            del body["event"]["created"]
            decoded.append((body, event.key, event.event_id))
        return decoded

    assert without_read_time(in_worker.events) == without_read_time(inline.events)
    assert (in_worker.tags, in_worker.app.levels, in_worker.app.requests) == (
        inline.tags,
        inline.app.levels,
        inline.app.requests,
    )
    assert {k: v.counts for k, v in in_worker.app.durations.items()} == {
        k: v.counts for k, v in inline.app.durations.items()
    }


def test_events_carry_the_routing_headers_the_indexer_splices_by() -> None:
    encoder, _ = _encoder(service={"name": "orders"})
    dated, undated = encoder.encode(
        [
            _raw(b'{"asctime": "2026-11-23 23:59:59,999", "message": "late"}'),
            _raw(b"not json", 80),
        ]
    )
    assert dict(dated.headers) == {"logferry-day": b"2026-11-23", "logferry-service": b"orders"}
    # Without a usable @timestamp the day comes from event.created, the read time.
    body = orjson.loads(undated.value)
    assert dict(undated.headers)["logferry-day"] == body["event"]["created"][:10].encode()


def test_an_encoded_event_holds_about_its_own_size() -> None:
    """Encoded events live until the broker acknowledges their batch: each must hold about its
    serialised size, not the serialiser's working buffer (orjson's is 4 KiB at least)."""
    encoder = EventEncoder(EncoderSettings.of(load_config(environ={})))
    line = (
        b'{"asctime": "2024-05-01 12:00:00,123", "levelname": "INFO", "name": "app.http",'
        b' "message": "GET /api/orders 200", "request_id": "r-1", "status": 200}'
    )
    batch = [_raw(line, offset) for offset in range(0, 200 * 200, 200)]
    encoder.encode(batch)  # the chain's per-key-set caches are made now, not measured below
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        events = encoder.encode(batch).events
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    value_bytes = sum(len(event.value) for event in events)
    # Besides the values: the key, the event id and the headers, a few hundred bytes an event.
    assert held < value_bytes + 600 * len(events), (held / len(events), value_bytes / len(events))
