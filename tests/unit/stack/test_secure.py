"""Secure mode's pure parts: the throwaway CA, the Kafka and Elasticsearch fragments, the files
and their modes. The real processes are proven in tests/integration/secure/."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import stat
from pathlib import Path

from click.testing import CliRunner
from cryptography import x509

from shipper.cli import cli
from shipper.stack import StackSettings
from shipper.stack import secure as secure_mode
from shipper.stack.certificates import issue_certificates
from shipper.stack.services import Elasticsearch, Kafka


def test_the_server_certificate_names_both_local_hosts_and_chains_to_the_ca(tmp_path: Path) -> None:
    files = issue_certificates(tmp_path)
    server = x509.load_pem_x509_certificates(files.certificate.read_bytes())[0]
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    # What a Python client does: trust the CA, load the chain and key as a server would.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.certificate, files.key)
    ssl.create_default_context(cafile=str(files.ca))
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600


def test_a_certificate_can_be_made_already_expired(tmp_path: Path) -> None:
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=3)
    files = issue_certificates(tmp_path, not_before=past, valid_days=1)
    server = x509.load_pem_x509_certificates(files.certificate.read_bytes())[0]
    assert server.not_valid_after_utc < datetime.datetime.now(datetime.UTC)


def test_material_is_made_once_with_private_files(tmp_path: Path) -> None:
    first = secure_mode.material(tmp_path)
    again = secure_mode.material(tmp_path)
    assert again.credentials == first.credentials
    assert first.certificates.ca.read_bytes() == again.certificates.ca.read_bytes()
    for path in (first.credentials_file, first.kafka_keystore, first.certificates.key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(first.dir.stat().st_mode) == 0o700
    assert first.credentials.kafka_password != first.credentials.elasticsearch_password


def test_an_expiring_certificate_is_made_anew(tmp_path: Path) -> None:
    directory = tmp_path / "secure"
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=3)
    issue_certificates(directory, not_before=past, valid_days=1)
    files = secure_mode.material(tmp_path).certificates
    server = x509.load_pem_x509_certificates(files.certificate.read_bytes())[0]
    assert server.not_valid_after_utc > datetime.datetime.now(datetime.UTC)


def test_each_kafka_node_gets_a_sasl_ssl_listener_and_keeps_a_plaintext_controller(
    tmp_path: Path,
) -> None:
    settings = StackSettings(state_dir=tmp_path, kafka_brokers=3, secure=True)
    material = secure_mode.material(tmp_path)
    for node in (1, 2, 3):
        kafka = Kafka(settings, node)
        text = secure_mode.kafka_properties(kafka.server_properties(), material)
        props = dict(line.split("=", 1) for line in text.splitlines() if line)
        host = f"127.0.0.1:{kafka.port}"
        assert (
            props["listeners"]
            == f"SASL_SSL://{host},CONTROLLER://127.0.0.1:{kafka.controller_port}"
        )
        assert props["advertised.listeners"] == f"SASL_SSL://{host}"
        assert props["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL"
        assert props["inter.broker.listener.name"] == "SASL_SSL"
        assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
        assert props["ssl.keystore.type"] == props["ssl.truststore.type"] == "PEM"
        assert "PLAINTEXT://" not in props["listeners"].replace("SASL_SSL://", "")
    arguments = secure_mode.kafka_format_arguments(material)
    assert arguments[0] == "--add-scram"
    assert arguments[1].startswith("SCRAM-SHA-512=[name=logferry,password=")


def test_elasticsearch_gets_tls_on_both_layers_and_file_realm_users(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path, es_nodes=2, secure=True)
    material = secure_mode.material(tmp_path)
    conf = tmp_path / "conf"
    conf.mkdir()
    node = Elasticsearch(settings, 2)
    assert node.url.startswith("https://")
    text = secure_mode.elasticsearch_config(node.node_config(), conf, material)
    assert "xpack.security.enabled: false" not in text
    for layer in ("http", "transport"):
        assert f"xpack.security.{layer}.ssl.enabled: true" in text
    users = (conf / "users").read_text()
    assert users.startswith("logferry:{PBKDF2}10000$")
    assert material.credentials.elasticsearch_password not in users
    assert stat.S_IMODE((conf / "users").stat().st_mode) == 0o600
    assert (conf / "certs" / "server.key").read_bytes() == material.certificates.key.read_bytes()


def test_status_prints_where_the_secrets_are_never_the_secrets(tmp_path: Path) -> None:
    material = secure_mode.material(tmp_path)
    secure_mode.remember(tmp_path, True)
    ports = ["--kafka-port", "1", "--elasticsearch-port", "2", "--prometheus-port", "3"]
    ports += ["--alertmanager-port", "4", "--node-exporter-port", "5"]
    result = CliRunner().invoke(cli, ["stack", "status", "--state-dir", str(tmp_path), *ports])
    assert str(material.credentials_file) in result.output
    assert str(material.certificates.ca) in result.output
    for secret in material.secrets():
        assert secret not in result.output


def test_secure_is_a_switch_and_an_environment_variable(tmp_path: Path) -> None:
    ports = ["--kafka-port", "1", "--elasticsearch-port", "2", "--prometheus-port", "3"]
    ports += ["--alertmanager-port", "4", "--node-exporter-port", "5"]
    status = ["stack", "status", "--state-dir", str(tmp_path), *ports]
    plain = CliRunner().invoke(cli, status)
    assert "secure mode" not in plain.output
    assert "http://127.0.0.1:2" in plain.output
    for extra, env in ((["--secure"], {}), ([], {"LOGFERRY_STACK_SECURE": "true"})):
        result = CliRunner().invoke(cli, [*status, *extra], env=env)
        assert "secure mode" in result.output, result.output
        assert "https://127.0.0.1:2" in result.output
