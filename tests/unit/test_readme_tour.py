"""The README's tour is marked for CI, and every command in it has a check (tests/readme_tour.py)
that the demo test runs: the README cannot drift from what the commands print."""

from __future__ import annotations

import re

from tests import readme_tour


def test_the_tour_is_marked_and_every_command_has_a_check() -> None:
    readme = readme_tour.README.read_text()
    commands = readme_tour.commands(readme)
    assert len(commands) >= 5, commands
    unchecked = [c for c in commands if readme_tour.key(c) not in readme_tour.CHECKS]
    assert not unchecked, f"tour commands without a check in tests/readme_tour.py: {unchecked}"
    stale = set(readme_tour.CHECKS) - {readme_tour.key(c) for c in commands}
    assert not stale, f"checks of commands the README no longer has: {stale}"


def test_the_tour_names_hosts_and_no_placeholder_a_shell_would_misread() -> None:
    readme = readme_tour.README.read_text()
    for command in readme_tour.commands(readme):
        # curl 7.88 (Debian 12) refuses `:9108/metrics` (exit 3, hidden by -s).
        for url in re.findall(r"curl\s+(?:-\S+\s+)*(\S+)", command):
            assert url.startswith("http://127.0.0.1:"), command
        assert "<" not in command and ">" not in command.replace(">=", ""), command
    assert readme_tour.urls(readme), "the tour names no URL for a browser"
    for url in readme_tour.urls(readme):
        # Debian's Prometheus 2.42 serves only the classic UI: /alerts, /graph, /rules are 404.
        assert not re.match(r"http://127\.0\.0\.1:9090/(alerts|rules|targets)\b", url), url
