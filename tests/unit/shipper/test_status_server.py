"""/metrics, /healthz and /readyz over a real socket, and what serving them costs in imports."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import orjson
from prometheus_client import CollectorRegistry, Counter

from shipper.http import StatusServer


async def _get(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await reader.read()  # the server closes the connection after one answer
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


async def test_it_answers_metrics_health_and_readiness() -> None:
    registry = CollectorRegistry()
    Counter("demo_lines", "Lines.", registry=registry).inc(3)
    checks = {"output": True, "input": True}
    scrapes: list[int] = []
    server = StatusServer("127.0.0.1:0", registry, lambda: dict(checks), lambda: scrapes.append(1))
    await server.start()
    try:
        port = server.port
        status, headers, body = await _get(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 200 and headers["content-type"].startswith("text/plain")
        assert b"demo_lines_total 3.0" in body and b"process_resident_memory_bytes" in body
        assert int(headers["content-length"]) == len(body) and scrapes == [1]

        status, _, body = await _get(port, b"GET /healthz HTTP/1.1\r\n\r\n")
        assert (status, orjson.loads(body)) == (200, {"status": "ok"})

        status, _, body = await _get(port, b"GET /readyz?verbose=1 HTTP/1.1\r\n\r\n")
        assert (status, orjson.loads(body)["status"]) == (200, "ready")
        checks["output"] = False
        status, headers, body = await _get(port, b"GET /readyz HTTP/1.1\r\n\r\n")
        assert status == 503 and headers["content-type"] == "application/json"
        assert orjson.loads(body) == {
            "status": "not ready",
            "checks": {"output": False, "input": True},
        }

        status, headers, body = await _get(port, b"HEAD /healthz HTTP/1.1\r\n\r\n")
        assert (status, body) == (200, b"") and int(headers["content-length"]) > 0
        assert (await _get(port, b"GET /nothing HTTP/1.1\r\n\r\n"))[0] == 404
        assert (await _get(port, b"POST /readyz HTTP/1.1\r\n\r\n"))[0] == 405
        assert (await _get(port, b"hello\r\n\r\n"))[0] == 400
    finally:
        await server.close()


def test_the_shipper_serves_them_without_a_web_framework() -> None:
    """aiohttp's server held 12 MB of every shipper for three GET answers."""
    probe = "import sys, shipper.runner; print(sorted({m.split('.')[0] for m in sys.modules}))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert "'aiohttp'" not in done.stdout and "'shipper'" in done.stdout
