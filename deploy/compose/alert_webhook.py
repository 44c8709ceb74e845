"""A stand-in for the pager and ticket bridges of dashboards/alertmanager/alertmanager.yml.

Alertmanager's receivers post to http://alert-webhook:5001/pager and /tickets. In the Docker
Compose stack this script answers there: it prints each notification as one JSON line on
stdout (``docker compose logs -f alert-webhook``) and answers 200, so the routing, grouping and
inhibition can be watched without a real pager. Replace the service with your bridge to page
someone for real.

Standard library only: it runs in the plain ``python`` image, with no build step.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Handler", "main", "make_server"]

_MAX_BODY_BYTES = 4 * 1024 * 1024
"""Larger bodies are refused: Alertmanager's notifications are far smaller."""


class Handler(BaseHTTPRequestHandler):
    """POST: print the notification; GET: answer 200 (the health check)."""

    server_version = "alert-webhook"

    def do_GET(self) -> None:
        self._answer(200, {"status": "ok"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY_BYTES:
            self._answer(413, {"error": "body too large"})
            return
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            self._answer(400, {"error": "body is not JSON"})
            return
        notification = body if isinstance(body, dict) else {}
        alerts = [
            {
                "status": alert.get("status"),
                "labels": alert.get("labels", {}),
                "summary": alert.get("annotations", {}).get("summary"),
            }
            for alert in notification.get("alerts", [])
            if isinstance(alert, dict)
        ]
        record = {
            "receiver": self.path.strip("/") or "default",
            "status": notification.get("status"),
            "alerts": alerts,
        }
        print(json.dumps(record, sort_keys=True), flush=True)
        self._answer(200, {"received": len(alerts)})

    def log_message(self, format: str, *args: object) -> None:
        # Access logs would interleave with the notifications on stdout; the prints say enough.
        return

    def _answer(self, status: int, payload: dict[str, object]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def make_server(host: str, port: int) -> ThreadingHTTPServer:
    """The receiver bound to *host*:*port* (port 0: any free one), not yet serving."""
    return ThreadingHTTPServer((host, port), Handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=5001)
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port)
    # As PID 1 of its container the process would ignore SIGTERM, and `docker compose stop`
    # would wait for its timeout: exit at once instead.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"alert-webhook listening on {args.host}:{args.port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
