"""The Kibana saved objects `shipper setup --kibana` imports, from ``dashboards/kibana/*.ndjson``.

The files are package data (:data:`shipper.resources.KIBANA_OBJECTS`); ``kibana.objects_dir``
names a directory of the operator's own copies instead.

Every file is imported in one request to Kibana's saved-objects import API
(``POST /api/saved_objects/_import?overwrite=true``, multipart, ``kbn-xsrf``): references
between objects then resolve inside the request, whatever the order of the files.

Before importing, :func:`setup_kibana` reads what Kibana holds under the same ids
(``_bulk_get``) and compares it with the files (:func:`compare`). When every object is already
there as the files say, nothing is imported and the step reports ``unchanged``; otherwise the
whole set is imported with ``overwrite=true`` (``created`` when an object was new, ``updated``
when one differed). Importing again is harmless either way: the ids are fixed.

The pure parts — loading the files, building the request, comparing, turning Kibana's answer
into messages — are separate from the one function that talks HTTP, so they are tested without
a server.
"""

from __future__ import annotations

import base64
import ssl
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from typing import Any, Final

import aiohttp
import orjson

from shipper.errors import ConfigError, KibanaError
from shipper.indexer.config import ElasticsearchConfig, KibanaConfig
from shipper.indexer.setup import SetupStep, Status
from shipper.resources import KIBANA_OBJECTS, files_with_suffix

__all__ = [
    "IMPORT_FILENAME",
    "Comparison",
    "HttpRequest",
    "SavedObject",
    "auth_header",
    "build_bulk_get_request",
    "build_import_request",
    "compare",
    "describe_import_errors",
    "import_summary",
    "load_saved_objects",
    "objects_dir",
    "setup_kibana",
]

WHAT: Final = "Kibana saved objects"
"""The step's name in `setup`'s table."""
IMPORT_FILENAME: Final = "logferry.ndjson"
"""Name of the uploaded file: Kibana refuses an import whose file name does not end in .ndjson."""

# Attributes Kibana stores as JSON text: compared parsed, since key order and spacing may differ.
_JSON_ATTRIBUTES: Final = frozenset(
    {"searchSourceJSON", "visState", "uiStateJSON", "panelsJSON", "optionsJSON", "fieldFormatMap"}
)


@dataclass(frozen=True)
class SavedObject:
    """One line of an NDJSON file: a Kibana saved object, as written in the file."""

    type: str
    id: str
    attributes: dict[str, Any]
    references: list[dict[str, str]]
    source: str
    """``file:line``, for messages."""

    @property
    def title(self) -> str:
        return str(self.attributes.get("title", ""))

    @property
    def label(self) -> str:
        """``type id ("title")``, how messages name an object."""
        return f'{self.type} {self.id} ("{self.title}")' if self.title else f"{self.type} {self.id}"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "id": self.id,
            "attributes": self.attributes,
            "references": self.references,
        }


@dataclass(frozen=True)
class HttpRequest:
    """A request to Kibana, built purely so it can be checked without a server."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Comparison:
    """The objects of the files, split by what Kibana holds under their ids."""

    missing: list[SavedObject] = field(default_factory=list)
    differing: list[SavedObject] = field(default_factory=list)
    same: list[SavedObject] = field(default_factory=list)


def objects_dir(kibana: KibanaConfig) -> Traversable:
    """Where the saved objects are: ``kibana.objects_dir``, else the packaged ones."""
    return kibana.objects_dir if kibana.objects_dir is not None else KIBANA_OBJECTS


def load_saved_objects(directory: Traversable = KIBANA_OBJECTS) -> list[SavedObject]:
    """Every object of every ``*.ndjson`` file of *directory*, files in name order."""
    files = files_with_suffix(directory, ".ndjson")
    if not files:
        raise ConfigError(f"Kibana saved objects: no *.ndjson file in {directory}")
    objects: list[SavedObject] = []
    for path in files:
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not text.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                data = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise ConfigError(f"Kibana saved objects: {where} is not JSON: {exc}") from exc
            if not isinstance(data, dict) or not {"type", "id", "attributes"} <= data.keys():
                raise ConfigError(
                    f"Kibana saved objects: {where} is not a saved object (type, id, attributes)"
                )
            objects.append(
                SavedObject(
                    type=str(data["type"]),
                    id=str(data["id"]),
                    attributes=dict(data["attributes"]),
                    references=list(data.get("references", [])),
                    source=where,
                )
            )
    return objects


def auth_header(kibana: KibanaConfig, elasticsearch: ElasticsearchConfig) -> dict[str, str]:
    """The Authorization header: Kibana's own credentials, else the Elasticsearch ones.

    Kibana authenticates users against Elasticsearch's security realms, so the user that
    installs the templates is usually the one that may import saved objects too.
    """
    if kibana.api_key is not None:
        return {"Authorization": f"ApiKey {kibana.api_key.get_secret_value()}"}
    if kibana.username is not None:
        return _basic(kibana.username, kibana.password)
    if elasticsearch.api_key is not None:
        return {"Authorization": f"ApiKey {elasticsearch.api_key.get_secret_value()}"}
    if elasticsearch.username is not None:
        return _basic(elasticsearch.username, elasticsearch.password)
    return {}


def _basic(username: str, password: Any) -> dict[str, str]:
    secret = password.get_secret_value() if password is not None else ""
    token = base64.b64encode(f"{username}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def build_import_request(
    base_url: str,
    objects: Sequence[SavedObject],
    auth: Mapping[str, str] | None = None,
    boundary: str | None = None,
) -> HttpRequest:
    """``POST {base_url}/api/saved_objects/_import?overwrite=true`` with every object in one file.

    The multipart body is built here rather than by aiohttp so that it is plain bytes a test
    can read.
    """
    boundary = boundary or f"logferry-{uuid.uuid4().hex}"
    ndjson = b"".join(orjson.dumps(obj.to_json()) + b"\n" for obj in objects)
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{IMPORT_FILENAME}"\r\n'
            "Content-Type: application/ndjson\r\n\r\n"
        ).encode()
        + ndjson
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {
        "kbn-xsrf": "true",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        **(auth or {}),
    }
    url = f"{base_url.rstrip('/')}/api/saved_objects/_import?overwrite=true"
    return HttpRequest("POST", url, headers, body)


def build_bulk_get_request(
    base_url: str, objects: Sequence[SavedObject], auth: Mapping[str, str] | None = None
) -> HttpRequest:
    """``POST {base_url}/api/saved_objects/_bulk_get``: what Kibana holds under the files' ids."""
    body = orjson.dumps([{"type": obj.type, "id": obj.id} for obj in objects])
    headers = {"kbn-xsrf": "true", "Content-Type": "application/json", **(auth or {})}
    return HttpRequest("POST", f"{base_url.rstrip('/')}/api/saved_objects/_bulk_get", headers, body)


def compare(objects: Sequence[SavedObject], bulk_get: Mapping[str, Any]) -> Comparison:
    """Split *objects* by Kibana's ``_bulk_get`` answer: missing, differing, the same.

    "The same" means every attribute and reference the file has is in Kibana with that value;
    what Kibana adds (defaults its migrations fill in, counters, ``updated_at``) is ignored, so a
    second `setup` finds nothing to do.
    """
    stored = {
        (found.get("type"), found.get("id")): found
        for found in bulk_get.get("saved_objects", [])
        if isinstance(found, dict) and "error" not in found
    }
    result = Comparison()
    for obj in objects:
        held = stored.get((obj.type, obj.id))
        if held is None:
            result.missing.append(obj)
        elif _contains(_parsed(held.get("attributes", {})), _parsed(obj.attributes)) and all(
            ref in held.get("references", []) for ref in obj.references
        ):
            result.same.append(obj)
        else:
            result.differing.append(obj)
    return result


def _parsed(value: Any, key: str = "") -> Any:
    if isinstance(value, str) and key in _JSON_ATTRIBUTES:
        try:
            return _parsed(orjson.loads(value))
        except orjson.JSONDecodeError:
            return value
    if isinstance(value, dict):
        return {k: _parsed(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_parsed(v) for v in value]
    return value


def _contains(held: Any, wanted: Any) -> bool:
    """Whether *held* has everything *wanted* has (dicts may hold more keys)."""
    if isinstance(wanted, dict):
        return isinstance(held, dict) and all(
            k in held and _contains(held[k], v) for k, v in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(held, list)
            and len(held) == len(wanted)
            and all(_contains(h, w) for h, w in zip(held, wanted, strict=True))
        )
    return bool(held == wanted)


def describe_import_errors(response: Mapping[str, Any]) -> list[str]:
    """One message per object Kibana refused, from the import answer's ``errors``."""
    messages: list[str] = []
    for item in response.get("errors") or []:
        title = item.get("title") or (item.get("meta") or {}).get("title")
        who = f"{item.get('type', '?')} {item.get('id', '?')}" + (f' ("{title}")' if title else "")
        error = item.get("error") or {}
        kind = error.get("type", "unknown")
        if kind == "missing_references":
            refs = ", ".join(f"{r.get('type')} {r.get('id')}" for r in error.get("references", []))
            why = f"refers to objects that are neither in the files nor in Kibana: {refs}"
        elif kind == "conflict":
            why = "conflicts with an existing object (import was not allowed to overwrite it)"
        elif kind == "ambiguous_conflict":
            why = "matches several existing objects (copies in other spaces); resolve it in Kibana"
        elif kind == "unsupported_type":
            why = "its type is not supported by this Kibana (a plugin is disabled?)"
        else:
            status = error.get("statusCode")
            detail = error.get("message") or error.get("error") or kind
            why = f"{detail}" + (f" (HTTP {status})" if status else "")
        messages.append(f"{who}: {why}")
    return messages


def import_summary(response: Mapping[str, Any]) -> tuple[int, int]:
    """(objects imported, of which already there and overwritten) from a successful import."""
    results = response.get("successResults") or []
    overwritten = sum(1 for r in results if isinstance(r, dict) and r.get("overwrite"))
    return int(response.get("successCount", len(results))), overwritten


async def _send(
    session: aiohttp.ClientSession, request: HttpRequest, base_url: str, *, compare: bool = False
) -> dict[str, Any] | None:
    """Send *request*; its JSON answer, or a KibanaError saying in one line what went wrong.

    With *compare*, an answer other than success, 401 and 403 is None: the comparison is an
    optimisation, and the import that follows reports what is really wrong.
    """
    try:
        async with session.request(
            request.method, request.url, data=request.body, headers=request.headers
        ) as response:
            text = await response.read()
            status = response.status
    except aiohttp.ClientConnectorError as exc:
        raise KibanaError(f"Kibana at {base_url} is unreachable: {exc.os_error}") from exc
    except TimeoutError as exc:
        raise KibanaError(f"Kibana at {base_url} did not answer in time") from exc
    except aiohttp.ClientError as exc:
        raise KibanaError(f"Kibana at {base_url}: {type(exc).__name__}: {exc}") from exc
    if status == 401:
        raise KibanaError(
            f"Kibana at {base_url} refused the credentials (401): set --kibana-username and "
            "--kibana-password (or kibana.api_key); without them the Elasticsearch ones are used"
        )
    if status == 403:
        raise KibanaError(
            f"Kibana at {base_url}: the user may not manage saved objects (403): {_message(text)}"
        )
    if status >= 300 and compare:
        return None
    if status >= 300:
        raise KibanaError(
            f"Kibana at {base_url} answered {status} to {request.url.removeprefix(base_url)}: "
            f"{_message(text)}"
        )
    try:
        loaded = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise KibanaError(
            f"Kibana at {base_url} answered something that is not JSON (is this Kibana?): "
            f"{text[:200]!r}"
        ) from exc
    if not isinstance(loaded, dict):
        raise KibanaError(f"Kibana at {base_url} answered an unexpected {type(loaded).__name__}")
    return loaded


def _message(body: bytes) -> str:
    """Kibana's error answers are ``{"statusCode", "error", "message"}``; else the raw text."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", "replace").strip() or "(empty answer)"
    if isinstance(data, dict):
        return str(data.get("message") or data.get("error") or data)
    return str(data)


def _ssl(kibana: KibanaConfig) -> ssl.SSLContext | bool:
    if not kibana.verify_certs:
        return False
    if kibana.ca_certs is not None:
        return ssl.create_default_context(cafile=str(kibana.ca_certs))
    return True


async def setup_kibana(
    kibana: KibanaConfig,
    elasticsearch: ElasticsearchConfig,
    *,
    dry_run: bool = False,
) -> SetupStep:
    """Import the saved objects of :func:`objects_dir` into Kibana unless it already holds them all.

    Unreachable Kibana, refused credentials and objects Kibana refuses raise
    :class:`~shipper.errors.KibanaError` with one line saying which.
    """
    if kibana.url is None:
        raise ConfigError("kibana.url: not set")
    objects = load_saved_objects(objects_dir(kibana))
    auth = auth_header(kibana, elasticsearch)
    timeout = aiohttp.ClientTimeout(total=kibana.request_timeout_s)
    connector = aiohttp.TCPConnector(ssl=_ssl(kibana))
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        held = await _send(
            session, build_bulk_get_request(kibana.url, objects, auth), kibana.url, compare=True
        )
        # A Kibana without _bulk_get (it is deprecated) cannot be compared: import everything.
        comparison = (
            compare(objects, held) if held is not None else Comparison(differing=[*objects])
        )
        if not comparison.missing and not comparison.differing:
            return SetupStep(WHAT, "unchanged", f"all {len(objects)} objects already there")
        plan = _plan(comparison) if held is not None else "could not compare: importing all"
        if dry_run:
            status: Status = "would create" if comparison.missing else "would update"
            return SetupStep(WHAT, status, f"would import {len(objects)} objects ({plan})")
        response = await _send(session, build_import_request(kibana.url, objects, auth), kibana.url)
        assert response is not None  # only a comparison may come back empty
    errors = describe_import_errors(response)
    if errors or not response.get("success", False):
        raise KibanaError(
            f"Kibana at {kibana.url} refused {len(errors)} of {len(objects)} saved objects: "
            + "; ".join(errors or ["no reason given"])
        )
    imported, _ = import_summary(response)
    status = "created" if comparison.missing else "updated"
    return SetupStep(WHAT, status, f"imported {imported} objects ({plan})")


def _plan(comparison: Comparison) -> str:
    parts = [
        f"{len(group)} {word}: {_ids(group)}" if word != "unchanged" else f"{len(group)} {word}"
        for word, group in (
            ("new", comparison.missing),
            ("changed", comparison.differing),
            ("unchanged", comparison.same),
        )
        if group
    ]
    return "; ".join(parts)


def _ids(objects: Iterable[SavedObject]) -> str:
    return ", ".join(obj.id for obj in objects)
