"""`loadtest demo` beside a demo under way refuses and asks for --replace; with it, the running one
is stopped first. A sleeping process stands in for the demo under way, and an Elasticsearch
nobody listens at ends the new demo at its first step: about 15 s, and 10 s for the
topics."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from shipper.process import spawn
from tests.integration.support import free_port


def _demo(state_dir: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loadtest", "demo", "--state-dir", str(state_dir),
         "--elasticsearch", f"http://127.0.0.1:{free_port()}", *options],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_a_second_demo_asks_for_replace_and_replace_stops_the_first(tmp_path: Path) -> None:
    state_dir = tmp_path / "stack"
    pid_file = state_dir / "run" / "demo.pid"
    under_way = spawn(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        log_file=tmp_path / "under-way.log",
        pid_file=pid_file,
    )
    try:
        started = time.monotonic()
        refused = _demo(state_dir)
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert time.monotonic() - started < 30
        error = refused.stderr.strip().splitlines()[-1]
        assert f"a demo is already running (pid {under_way.pid}" in error
        assert "--replace" in error
        assert under_way.is_running() and pid_file.exists()

        replaced = _demo(state_dir, "--replace")
        assert f"--replace: stopped the demo that was running (pid {under_way.pid})" in (
            replaced.stdout
        ), replaced.stdout + replaced.stderr
        assert not under_way.is_running()
        assert replaced.returncode == 3  # then it went on, and stopped at the missing cluster
        assert "shipper setup failed" in replaced.stderr
        assert not pid_file.exists()  # a demo that ended leaves no claim behind
    finally:
        under_way.stop(timeout_s=5)


async def test_a_demo_deletes_only_its_own_state_dirs_earlier_topics(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from loadtest.demo.config import DemoConfig
    from loadtest.demo.runner import topic_prefix

    ours = DemoConfig(state_dir=tmp_path / "stack")
    theirs = DemoConfig(state_dir=tmp_path / "another-stack")  # a demo running beside ours
    earlier = f"{topic_prefix(ours)}19990101-000000"
    running = f"{topic_prefix(theirs)}19990101-000000"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in (earlier, running)])
        demo = _demo(ours.state_dir, "--kafka", kafka_bootstrap)
        assert demo.returncode == 3, demo.stdout + demo.stderr  # stops at the missing cluster
        topics = set(await admin.list_topics())
        assert running in topics, "a demo deleted the topic of a demo of another state dir"
        assert earlier not in topics
    finally:
        leftovers = [t for t in (earlier, running) if t in set(await admin.list_topics())]
        if leftovers:
            await admin.delete_topics(leftovers)
        await admin.close()
