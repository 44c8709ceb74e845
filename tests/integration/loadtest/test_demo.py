"""`loadtest demo` (what `make demo` runs after the stack is up): equal counts at every stage, the
expected alerts fired, every URL it prints answers, the README's tour (read from README.md) runs
against it with the output each command must show, and `loadtest demo down` leaves nothing running.

The demo takes about four minutes; the tour after it about 15 s (seven short commands, four URLs).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests import readme_tour
from tests.integration.support import free_port


def test_demo_ends_with_equal_counts_and_the_alert_and_down_stops_it(
    tmp_path: Path,
    kafka_bootstrap: str,
    elasticsearch_url: str,
    prometheus_url: str,
    alertmanager_url: str,
) -> None:
    ports = {
        "--app-port": free_port(),
        "--shipper-port": free_port(),
        "--indexer-port": free_port(),
    }
    state_dir = tmp_path / "stack"
    options = [
        "--state-dir", str(state_dir), "--kafka", kafka_bootstrap,
        "--elasticsearch", elasticsearch_url, "--prometheus", prometheus_url,
        "--alertmanager", alertmanager_url,
        *(str(part) for option, port in ports.items() for part in (option, port)),
    ]  # fmt: skip
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "loadtest", "demo", *options],
            capture_output=True,
            text=True,
            timeout=400,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "COLUMNS": "200"},  # the summary table on one line per row
        )
        output = completed.stdout
        assert completed.returncode == 0, output[-4000:] + completed.stderr[-2000:]
        assert "(equal)" in output
        assert "alert AppHighErrorRatio" in output and "fired" in output
        assert "where to look next" in output and "shipper trace" in output
        # Every line is accounted for: the load test's requests and what the demo asked itself.
        lines = re.search(r"lines written by the app\s+([\d,]+)\s+\((.*)\)", output)
        assert lines is not None, output[-4000:]
        explained = [int(n.replace(",", "")) for n in re.findall(r"([\d,]+) [a-z]", lines[2])]
        assert sum(explained) == int(lines[1].replace(",", "")), lines[0]
        assert "load-test requests" in lines[2] and "fault switch" in lines[2], lines[0]
        rotations = re.search(r"log rotations\s+(\d+)", output)
        assert rotations is not None and int(rotations[1]) >= 2, output[-4000:]
        assert len(list((state_dir / "demo").glob("*/logs/app.log.*"))) == int(rotations[1])
        printed = re.findall(r"http://127\.0\.0\.1:\d+/\S+", output.split("where to look next")[1])
        assert len(printed) >= 6, printed
        for url in printed:
            with urllib.request.urlopen(url, timeout=10) as response:  # an HTTPError fails it
                assert response.status == 200, url
        pid_files = sorted((state_dir / "run").glob("demo-*.pid"))
        assert [p.name for p in pid_files] == [
            "demo-app.pid",
            "demo-indexer.pid",
            "demo-shipper.pid",
        ]
        _run_the_readme_tour(ports, state_dir, elasticsearch_url, prometheus_url, alertmanager_url)
    finally:
        down = subprocess.run(
            [sys.executable, "-m", "loadtest", "demo", *options, "down"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert down.returncode == 0, down.stderr
    assert not list((state_dir / "run").glob("demo-*.pid"))


def _run_the_readme_tour(
    ports: dict[str, int],
    state_dir: Path,
    elasticsearch_url: str,
    prometheus_url: str,
    alertmanager_url: str,
) -> None:
    """Each command of the README's tour, as written but for the demo's ports and the services'
    addresses (this demo listens on free ports, beside whatever runs on the defaults)."""
    readme = readme_tour.README.read_text()
    addresses = {
        "http://127.0.0.1:9108": f"http://127.0.0.1:{ports['--shipper-port']}",
        "http://127.0.0.1:9109": f"http://127.0.0.1:{ports['--indexer-port']}",
        "http://127.0.0.1:9090": prometheus_url.rstrip("/"),
        "http://127.0.0.1:9093": alertmanager_url.rstrip("/"),
        ".venv/bin/": f"{Path(sys.executable).parent}/",
    }
    env = {
        **os.environ,
        "COLUMNS": "200",
        "INDEXER_ELASTICSEARCH_URL": elasticsearch_url,  # shipper search and trace
        "LOADTEST_DEMO_STATE_DIR": str(state_dir),  # loadtest demo alerts
    }
    context: readme_tour.Context = {}
    for command in readme_tour.commands(readme):
        shell = command
        for default, actual in addresses.items():
            shell = shell.replace(default, actual)
        if readme_tour.key(command) == "shipper trace":
            shell = shell.replace(f" {readme_tour.PLACEHOLDER}", f" {context['id']}")
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", shell],
            cwd=readme_tour.REPO,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        readme_tour.CHECKS[readme_tour.key(command)](result.stdout, context)
    for url in readme_tour.urls(readme):
        for default, actual in addresses.items():
            url = url.replace(default, actual)
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200, url
