"""Issue 13, test 5: each mistake a user makes with a secure cluster (a wrong password, a CA
that does not vouch for the certificate, an expired certificate) stops `shipper run`,
`shipper index` and `shipper setup` with one line naming the cause: no retry loop, no traceback,
a non-zero exit, and neither the right secret nor the wrong one in what they print."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from shipper.stack.certificates import CertificateFiles
from tests.integration.secure.conftest import ExpiredServer, SecureStack
from tests.integration.support import free_port

WRONG_PASSWORD = "wrong-password-4f1c9a"
WRONG_API_KEY = "d3JvbmctaWQ6d3Jvbmcta2V5LTRmMWM5YQ=="  # base64 of wrong-id:wrong-key-4f1c9a


@dataclass(frozen=True)
class Mistake:
    """A setting gone wrong on one side (kafka or elasticsearch), and what the error must say."""

    side: str
    settings: Callable[[SecureStack, CertificateFiles, ExpiredServer], dict[str, Any]]
    says: str


MISTAKES = {
    "kafka-wrong-password": Mistake(
        "kafka",
        lambda stack, ca, expired: stack.kafka_security(sasl_password=WRONG_PASSWORD),
        "Kafka refused the SASL credentials for user 'logferry'",
    ),
    "kafka-untrusted-ca": Mistake(
        "kafka",
        lambda stack, ca, expired: stack.kafka_security(ssl_cafile=str(ca.ca)),
        "the broker's TLS certificate is not trusted by ssl_cafile",
    ),
    "kafka-expired-certificate": Mistake(
        "kafka",
        lambda stack, ca, expired: {
            **stack.kafka_security(ssl_cafile=str(expired.certificates.ca)),
            "bootstrap": expired.address,
        },
        "the broker's TLS certificate has expired",
    ),
    "elasticsearch-wrong-password": Mistake(
        "elasticsearch",
        lambda stack, ca, expired: stack.elasticsearch_config(
            api_key=None, username="logferry", password=WRONG_PASSWORD
        ),
        "Elasticsearch refused the credentials (401)",
    ),
    "elasticsearch-wrong-api-key": Mistake(
        "elasticsearch",
        lambda stack, ca, expired: stack.elasticsearch_config(api_key=WRONG_API_KEY),
        "Elasticsearch refused the credentials (401)",
    ),
    "elasticsearch-untrusted-ca": Mistake(
        "elasticsearch",
        lambda stack, ca, expired: stack.elasticsearch_config(ca_certs=str(ca.ca)),
        "Elasticsearch's TLS certificate is not trusted by ca_certs",
    ),
    "elasticsearch-expired-certificate": Mistake(
        "elasticsearch",
        lambda stack, ca, expired: stack.elasticsearch_config(
            url=f"https://{expired.address}", ca_certs=str(expired.certificates.ca)
        ),
        "Elasticsearch's TLS certificate has expired",
    ),
}


def _run(tmp_path: Path, command: list[str], config: dict[str, Any]) -> tuple[int, str, float]:
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "shipper", *command, "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


def _assert_one_line(code: int, output: str, says: str, stack: SecureStack) -> None:
    assert code != 0, output
    errors = [row for row in output.splitlines() if row.startswith("error:")]
    assert len(errors) == 1, output
    assert says in errors[0], output
    # Nothing else complains: no retry warnings, no aiokafka line, no traceback.
    others = [row for row in output.splitlines() if row not in errors]
    assert not [row for row in others if '"level": "INFO"' not in row], output
    assert "Traceback" not in output
    for secret in [*stack.secrets(), WRONG_PASSWORD, WRONG_API_KEY]:
        assert secret not in output


def _kafka(stack: SecureStack, mistake: Mistake, settings: dict[str, Any]) -> tuple[str, dict]:
    """The bootstrap address and the Kafka client settings of *mistake* (the right ones else)."""
    if mistake.side != "kafka":
        return stack.kafka, stack.kafka_security()
    settings = dict(settings)
    return settings.pop("bootstrap", stack.kafka), settings


@pytest.mark.parametrize(
    "name", [name for name, mistake in MISTAKES.items() if mistake.side == "kafka"]
)
def test_the_shipper_stops_with_one_line_naming_the_cause(
    name: str,
    tmp_path: Path,
    secure_stack: SecureStack,
    untrusted_ca: CertificateFiles,
    expired_server: ExpiredServer,
) -> None:
    mistake = MISTAKES[name]
    bootstrap, kafka = _kafka(
        secure_stack, mistake, mistake.settings(secure_stack, untrusted_ca, expired_server)
    )
    (tmp_path / "app.log").write_text('{"message": "hello"}\n')
    config = {
        "input": {"paths": [str(tmp_path / "app.log")]},
        "output": {"url": f"kafka://{bootstrap}/app-logs", "kafka": kafka},
        "state_dir": str(tmp_path / "state"),
        "metrics_addr": f"127.0.0.1:{free_port()}",
    }
    code, output, seconds = _run(tmp_path, ["run"], config)
    _assert_one_line(code, output, mistake.says, secure_stack)
    print(f"\nshipper, {name}: exit {code} after {seconds:.1f}s")


def _indexer_config(
    stack: SecureStack, name: str, ca: CertificateFiles, expired: ExpiredServer
) -> dict[str, Any]:
    mistake = MISTAKES[name]
    settings = mistake.settings(stack, ca, expired)
    bootstrap, kafka = _kafka(stack, mistake, settings)
    return {
        "kafka": {"url": f"kafka://{bootstrap}/app-logs", **kafka},
        "elasticsearch": settings
        if mistake.side == "elasticsearch"
        else stack.elasticsearch_config(),
        # A Kafka mistake is found without installing templates first.
        "index": {
            "setup_on_start": mistake.side == "elasticsearch",
            "template_name": "lf-mistakes",
        },
    }


@pytest.mark.parametrize("name", list(MISTAKES))
def test_the_indexer_stops_with_one_line_naming_the_cause(
    name: str,
    tmp_path: Path,
    secure_stack: SecureStack,
    untrusted_ca: CertificateFiles,
    expired_server: ExpiredServer,
) -> None:
    config = _indexer_config(secure_stack, name, untrusted_ca, expired_server)
    config["metrics_addr"] = f"127.0.0.1:{free_port()}"
    code, output, seconds = _run(tmp_path, ["index"], config)
    _assert_one_line(code, output, MISTAKES[name].says, secure_stack)
    print(f"\nindexer, {name}: exit {code} after {seconds:.1f}s")


@pytest.mark.parametrize("name", list(MISTAKES))
def test_setup_stops_with_one_line_naming_the_cause(
    name: str,
    tmp_path: Path,
    secure_stack: SecureStack,
    untrusted_ca: CertificateFiles,
    expired_server: ExpiredServer,
) -> None:
    config = _indexer_config(secure_stack, name, untrusted_ca, expired_server)
    config.pop("index")
    other = "--skip-elasticsearch" if MISTAKES[name].side == "kafka" else "--skip-kafka"
    code, output, seconds = _run(tmp_path, ["setup", other], config)
    # setup prints its progress lines (times, plain text) before the error.
    progress = [row for row in output.splitlines() if row[:2].isdigit() and row[2:3] == ":"]
    _assert_one_line(
        code,
        "\n".join(r for r in output.splitlines() if r not in progress),
        MISTAKES[name].says,
        secure_stack,
    )
    print(f"\nsetup, {name}: exit {code} after {seconds:.1f}s")
