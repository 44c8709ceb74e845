"""Locust counts as failed only what failed: a 404 the user asked for on purpose (an order that
does not exist, normal traffic) is not an HTTP error in the report; a 5xx is. Locust runs in a
subprocess (it monkey-patches the interpreter with gevent); about 2 s."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.unit.loadtest.support import running_shop

_SCRIPT = """
import sys
from locust.env import Environment
from loadtest.scenarios.latency_spike import Shopper

Shopper.host = sys.argv[1]
env = Environment(user_classes=[Shopper])
failed = []  # what Locust's statistics record: one entry a request, True when it failed
env.events.request.add_listener(lambda exception=None, **_: failed.append(exception is not None))
user = Shopper(env)
user.user_id, user.order_ids = "u-1", []
user._ids = iter(f"test-{n}" for n in range(10))
user.view_order()  # no order known: asks for one that does not exist, and gets its 404
user.client.put("/admin/faults", json={"/orders": {"error_rate": 1.0}})
user.list_orders()  # a real failure: 5xx
print(len(failed), sum(failed))
"""


async def test_a_wanted_404_is_no_failure_and_a_5xx_is(tmp_path: Path) -> None:
    async with running_shop(tmp_path) as shop:
        host = str(shop.client.make_url("")).rstrip("/")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _SCRIPT, host,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
        statuses = [line["status"] for line in shop.access_lines()]
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert sorted(statuses) == [200, 404, 500]
    assert stdout.decode().split() == ["3", "1"]  # requests, failures
