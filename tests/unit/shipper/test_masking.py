"""Issue 11, item 9: credentials in URLs are masked wherever they are shown, and a Kafka URL with
credentials is refused with a pointer to the SASL settings."""

from __future__ import annotations

import logging
import subprocess
import sys

import orjson
import pytest

from shipper.config import masked
from shipper.errors import ConfigError
from shipper.indexer.config import load_indexer_config
from shipper.logs import configure_logging
from shipper.masking import mask_urls

SECRET = "S3cretPW"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("http://elastic:S3cretPW@es:9200", "http://elastic:********@es:9200"),
        (
            "http://a:S3cretPW@h1:9200,https://b:S3cretPW@h2:9200",
            "http://a:********@h1:9200,https://b:********@h2:9200",
        ),
        ("kafka://bob:S3cretPW@k:9092/logs", "kafka://bob:********@k:9092/logs"),
        ("http://elastic:S3c@retPW@es:9200/x", "http://elastic:********@es:9200/x"),
        ("https://S3cretPW@github.com/o/r", "https://********@github.com/o/r"),
        ("'http://e:S3cretPW@es' is not valid", "'http://e:********@es' is not valid"),
        ("http://es:9200/x?mail=a@b.example", "http://es:9200/x?mail=a@b.example"),
        ("mail bob@example.com", "mail bob@example.com"),
        ("http://es:9200", "http://es:9200"),
    ],
)
def test_issue11_9_mask_urls(text: str, shown: str) -> None:
    assert mask_urls(text) == shown


def _shipper(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shipper", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


@pytest.mark.parametrize("command", ["check-config", "run"])
def test_issue11_9_kafka_url_with_credentials_is_refused(command: str) -> None:
    """Before: accepted, then logged on every retry and used as the output_up metric's label."""
    result = _shipper(
        command, "--output", f"kafka://bob:{SECRET}@127.0.0.1:9092/logs", "--path", "x.log"
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert "kafka://bob:********@127.0.0.1:9092/logs" in result.stderr
    assert "sasl_username and sasl_password" in result.stderr


def test_issue11_9_indexer_kafka_url_with_credentials_is_refused() -> None:
    with pytest.raises(ConfigError) as raised:
        load_indexer_config(
            None, {"kafka": {"url": f"kafka://bob:{SECRET}@k:9092/logs"}}, environ={}
        )
    text = "\n".join(raised.value.problems)
    assert text.startswith("kafka.url: ")
    assert "sasl_password" in text
    assert SECRET not in text


def test_issue11_9_errors_mask_urls() -> None:
    """A config error that quotes a URL (here: not http) shows it masked."""
    result = _shipper("setup", "--es", f"ftp://elastic:{SECRET}@127.0.0.1:9200", "--skip-kafka")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "ftp://elastic:********@127.0.0.1:9200" in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_issue11_9_printed_config_masks_urls() -> None:
    config = load_indexer_config(
        None,
        {"elasticsearch": {"url": f"http://elastic:{SECRET}@es:9200", "password": SECRET}},
        environ={},
    )
    shown = masked(config)
    assert shown["elasticsearch"]["url"] == "http://elastic:********@es:9200"
    assert shown["elasticsearch"]["password"] == "********"
    assert SECRET not in orjson.dumps(shown).decode()


def test_issue11_9_log_lines_mask_urls(capsys: pytest.CaptureFixture[str]) -> None:
    """Message and extra fields alike (the "indexer started" line carries the URLs as extras)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("info")
        logging.getLogger("shipper.test").info(
            "connecting to http://elastic:%s@es:9200",
            SECRET,
            extra={"elasticsearch": f"http://elastic:{SECRET}@es:9200"},
        )
    finally:
        root.handlers[:], root.level = handlers, level
    line = orjson.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "connecting to http://elastic:********@es:9200"
    assert line["elasticsearch"] == "http://elastic:********@es:9200"
