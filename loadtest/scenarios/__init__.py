"""Load-test scenarios: what traffic to make, which incident to inject, which alerts must fire.

The declarations (:mod:`loadtest.scenarios.catalog`) are plain data the harness reads. Each
scenario also has a locustfile here (``baseline.py``, ``error_spike.py``, ...) with its Locust user
classes and ``LoadTestShape``; those import Locust, whose gevent patching must never reach the
harness's asyncio process, so the harness only ever runs them in a Locust subprocess.
"""
