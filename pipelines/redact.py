"""``redact``: secrets and personal data are masked before the event leaves the process.

Two kinds of rule, each can be switched off:

* **By key**, anywhere in the event, nested objects and lists included: the value of a key named
  like a secret (``password``, ``passwd``, ``pass``, ``passcode``, ``pwd``, ``pin``, ``secret``,
  ``*token``, ``api_key``, ``authorization``, ``cookie``, ``credentials``, ``private_key``,
  ``card_number``, ``cvv``, …; matched on the key in snake_case, so ``accessToken`` and
  ``X-Api-Key`` count) becomes ``[REDACTED]`` whatever its type (``null`` and booleans are kept:
  they reveal nothing). ``max_tokens`` and ``token_count`` do not match: the secret word must end
  the key. A header stored as an object of its own, ``{"name": "Authorization", "value": …}``
  (or ``key``/``Key``/``Name`` and ``value``/``Value``), counts as the key it names.
* **By value**, in every string: e-mail addresses, in any script, → ``[REDACTED:email]``, and an
  object key that is one becomes it too (a second one ``[REDACTED:email]#2``: no value is lost);
  ``Bearer``/``Basic``/``Digest`` credentials, ``Authorization:``, ``Cookie:`` and
  ``Set-Cookie:`` header values (any scheme), ``key=value`` / ``key: value`` secrets in text
  (``pass=`` included), passwords in URLs and well-known token formats (Stripe ``sk_live_``,
  GitHub ``ghp_``, Slack ``xox?-``, AWS ``AKIA``, Google ``AIza``, GitLab ``glpat-``, JWTs) →
  ``[REDACTED:token]``; PEM private-key blocks (also cut short) → ``[REDACTED:private_key]``;
  payment card numbers → ``[REDACTED:card]`` — 13 to 19 digits, alone or in groups (4-4-4-4,
  Amex 4-6-5) separated by single spaces, dashes or dots, starting with 2-6 (the card networks'
  ranges) and passing the Luhn check, so order numbers and timestamps are left alone (except the
  one in ten a Luhn check lets through by chance). Numbers that look like card numbers are
  redacted too, written as integers or as floats (``4111111111111111.0``).

A redacted event is tagged ``_redacted``. Fields the pipeline itself wrote (``@timestamp``,
``event.id``, ``agent``, …, see ``skip_fields``) are not scanned. The default chain redacts
right after ``timestamp``, while the line's keys are still together under the app namespace:
everything later works on redacted values (the error grouping key included).

Cost: regexes are slow next to the rest of the pipeline, so every rule first asks a cheap
question no match can do without (is there an ``@``? a ``:`` or ``=`` and a secret-ish word?
13 digits starting a number with 2-6, or 4-digit groups?) — once, of all the event's strings
joined, and again per string only if the answer was yes. Strings that passed every rule before
are remembered (bounded) and skipped: a line's level, logger and thread names repeat on every
line. So are key sets without a secret's name: then only the values are looked at.

Compiled for a key set (:meth:`Redact.compile`, where the event holds nothing else the walk would
look at and no key is a secret's name), the stage asks those questions once per line in C, of
``orjson.dumps`` of the app object's values (:meth:`Redact._may_change`); only if one answers
yes does the walk above run. Why the values' JSON and not the raw line: the raw line also holds
the keys and the time (``asctime`` has a 13-character run of digits, dashes and spaces; keys
hold ``_`` and every letter), so nearly every line would take the walk; and orjson escapes
nothing but ``"``, ``\\`` and control characters, so a backslash-free dump holds every string
as it is (a ``\\u0041`` in the line cannot hide a secret from it). ``extra_patterns`` have no
cheap question: with them the stage always walks.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any, Final, Literal

import orjson
from pydantic import Field, field_validator

from pipelines import tags as T
from pipelines._model import StageModel, compile_regex
from pipelines._paths import split_path
from pipelines.context import PipelineContext
from pipelines.types import Compiled, Event

__all__ = [
    "DEFAULT_SENSITIVE_KEY_PATTERNS",
    "DEFAULT_SKIP_FIELDS",
    "Redact",
    "RedactConfig",
    "luhn_valid",
]

DEFAULT_SENSITIVE_KEY_PATTERNS: Final = (
    r"passw(?:or)?d|passphrase|passcode",
    r"(?:^|_)(?:pwd|pass|pin|pin_?code)$",
    r"secrets?(?:$|_)",
    r"token$",
    r"(?:api|access|private|secret|signing|encryption|client)_?key$",
    r"^apikey$|_apikey$",
    r"authori[sz]ation",
    r"^auth$|_auth$",
    r"cookie",
    r"credentials?$",
    r"(?:^|_)(?:cvv|cvc)$",
    r"card_?(?:number|num|no)$|(?:^|_)(?:pan|ccn)$",
)
"""Searched in the key converted to snake_case (``X-Api-Key`` → ``x_api_key``)."""

DEFAULT_SKIP_FIELDS: Final = (
    "@timestamp",
    "agent",
    "ecs",
    "tags",
    "event.id",
    "event.created",
    "event.duration",
    "event.outcome",
    "log.file",
    "log.offset",
    "log.level",
    "trace",
    "span",
    "transaction",
    "error.grouping_key",
)

# Value rules: each pairs a cheap test (substrings every match contains) with its regex.
# Local part and domain labels in any script (``用户@例子.广告``, ``josé@bücher.de``); the top
# level is letters, or an IDNA ``xn--`` label.
_EMAIL: Final = re.compile(
    r"(?<![\w.%+-])[\w.%+-]{1,64}@[^\W_](?:[\w-]{0,61}[^\W_])?"
    r"(?:\.[^\W_](?:[\w-]{0,61}[^\W_])?)*\.(?:[Xx][Nn]--[A-Za-z0-9-]{1,59}|[^\W\d_]{2,24})\b"
)
# Digest's credentials are a list of ``name=value`` / ``name="value"`` pairs.
_AUTH_PARAMS: Final = r'[\w-]+=(?:"[^"\r\n]*"|[^\s,"]*)(?:\s*,\s*[\w-]+=(?:"[^"\r\n]*"|[^\s,"]*))*'
_AUTH_HEADER: Final = re.compile(
    r"\b([Bb]earer|BEARER|[Bb]asic|BASIC)(\s+)[A-Za-z0-9\-._~+/]{8,}=*"
    rf"|\b([Dd]igest|DIGEST)(\s+)(?={_AUTH_PARAMS}){_AUTH_PARAMS}"
)
_SCHEMES: Final = r"(?:bearer|basic|token|digest|negotiate|ntlm|hoba|mutual|aws4-hmac-sha256)"
# A header's value in text (``Authorization: Token …``, ``Cookie: a=1; b=2``, JSON in a string):
# the scheme is kept, the credentials go. A scheme we do not know takes the rest of the value.
_HEADER: Final = re.compile(
    r"(?ai)(?<![\w-])((?:proxy[_-]?)?authori[sz]ation|(?:set[_-]?)?cookie)"
    r"(\"?'?\s*[:=]\s*\"?'?)(?!\[REDACTED)"
    rf"(?:({_SCHEMES}\s+)(?!\[REDACTED)(?:{_AUTH_PARAMS}|[^\s\"',;]+)"
    rf"|(?!{_SCHEMES}\s)[^\s\"';]+(?:;\s*[^\s\"';]+)*(?:[ \t]+[^\s\"';,]+)*)"
)
# Headers written as a list of pairs, in a string: ``{"name": "Cookie", "value": "…"}``.
_HEADER_PAIR: Final = re.compile(
    r'(?ai)("(?:name|key)"\s*:\s*"(?:proxy-)?(?:authori[sz]ation|(?:set-)?cookie)"\s*,\s*'
    r'"value"\s*:\s*")(?!\[REDACTED)(?:[^"\\]|\\.)+'
)
_PRIVATE_KEY: Final = re.compile(
    r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----(?:(?!-----END).)*"
    r"(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----)?",
    re.DOTALL,
)
_KEY_VALUE: Final = re.compile(
    r"(?ai)(?<![\w.-])([\w.-]{0,40}?(?:api[_-]?key|apikey|access[_-]?key|secret|token|"
    r"passw(?:or)?d|passphrase|passcode|(?<![a-z0-9])pass|pwd|credentials?))"
    r"(\"?'?\s*[:=]\s*\"?'?)(?!\[REDACTED)([^\s\"'&,;]+)"
)
_KNOWN_TOKEN: Final = re.compile(
    r"\b(?:(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{10,}|gh[pousr]_[0-9A-Za-z]{30,}"
    r"|github_pat_[0-9A-Za-z_]{20,}|xox[abposr]-[0-9A-Za-z-]{10,}|AKIA[0-9A-Z]{16}"
    r"|AIza[0-9A-Za-z_-]{35}|glpat-[0-9A-Za-z_-]{20,}"
    r"|eyJ[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]{8,})"
)
_URL_PASSWORD: Final = re.compile(r"(://[^/\s:@]{1,256}:)[^/\s@]{1,256}@")
_CARD_RUN: Final = re.compile(r"[0-9][0-9 .-]{11,}[0-9]")
_CARD_GROUPS: Final = re.compile(r"[0-9]+")
# Digits → "d", space, dash and dot → "s", anything else → "x"; a card then leaves one of these
# marks: 13 digits in a row, or 4-digit groups (4-4-…, Amex/Diners 4-6-…: both start 4-4).
_CARD_MAP: Final = bytes(
    ord("d") if 48 <= i <= 57 else ord("s") if i in (32, 45, 46) else ord("x") for i in range(256)
)
# Searched in the marks decoded to str: ``in`` on bytes goes through the buffer protocol and
# costs several times more.
_DIGITS_13: Final = "d" * 13
_GROUPS_4: Final = "ddddsdddd"  # the start of both 4-4-… and 4-6-…
_CARD_INT_MIN, _CARD_INT_MAX = 10**12, 10**19
# Floats hold whole numbers exactly up to 2**53 (all 13-15-digit and most 16-digit cards); orjson
# writes them as digits (``4111111111111111.0``), which the compiled pre-check sees. A larger
# float is not the number that was written.
_CARD_FLOAT_MAX = 2**53
_CARD_FIRST_DIGITS: Final = frozenset("23456")  # Mastercard 2/5, Amex 3, Visa 4, Discover 6…

_dumps: Final = orjson.dumps
_JSONEncodeError: Final = orjson.JSONEncodeError

_CAMEL: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_KEY_SEPARATORS: Final = re.compile(r"[\s.\-]+")
_MEMO_MAX: Final = 8192
_CLEAN_MAX_CHARS: Final = 256  # longer strings rarely repeat; remembering them would only churn
_KEY_SETS_MAX: Final = 1024

# Name and value keys of a header (or tag, attribute) stored as an object of its own.
_PAIRS: Final = (("name", "value"), ("Name", "Value"), ("key", "value"), ("Key", "Value"))

_SkipTree = dict[str, Any]  # key → True (skip the subtree) or a nested _SkipTree
_Rewrite = Callable[[str], str]


class RedactConfig(StageModel):
    """Mask secrets and personal data."""

    type: Literal["redact"] = "redact"
    sensitive_keys: bool = Field(
        True,
        description=(
            "Redact the values of keys named like secrets (password, pass, pin, token, cookie, "
            "…), and of `{name: …, value: …}` objects that name one."
        ),
    )
    extra_key_patterns: list[str] = Field(
        default_factory=list,
        description=(
            "More regexes searched in snake_cased key names (e.g. `^session_id$`, `iban`), "
            "added to the built-in ones."
        ),
    )
    emails: bool = Field(
        True, description="Redact e-mail addresses (any script) in strings and in object keys."
    )
    tokens: bool = Field(
        True,
        description=(
            "Redact Bearer/Basic/Digest credentials, Authorization/Cookie/Set-Cookie header values "
            "and `key=value` secrets in text, passwords in URLs, PEM private keys and "
            "well-known token formats (sk_live_, ghp_, AKIA, JWT, …)."
        ),
    )
    cards: bool = Field(
        True, description="Redact Luhn-valid payment card numbers (in text, integers and floats)."
    )
    extra_patterns: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Name → regex; every match in a string becomes `[REDACTED:<name>]` (e.g. `iban: "
            "'\\\\b[A-Z]{2}\\\\d{2}[A-Z0-9]{11,30}\\\\b'`). Runs on every string: keep them simple."
        ),
    )
    skip_fields: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SKIP_FIELDS),
        description="Dotted fields (with everything under them) that are never scanned.",
    )
    replacement: str = Field(
        "[REDACTED]",
        min_length=1,
        description="What a redacted value becomes; value rules add their kind: `[REDACTED:email]`.",
    )

    @field_validator("extra_key_patterns")
    @classmethod
    def _key_patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            compile_regex(pattern)
        return patterns

    @field_validator("extra_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: dict[str, str]) -> dict[str, str]:
        for name, pattern in patterns.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name):
                raise ValueError(f"{name!r}: names are lower-case words (a-z, 0-9, _)")
            if compile_regex(pattern).search("") is not None:
                raise ValueError(f"{name}: the pattern matches the empty string")
        return patterns

    @field_validator("skip_fields")
    @classmethod
    def _paths(cls, fields: list[str]) -> list[str]:
        for field in fields:
            split_path(field)
        return fields


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of ASCII digits holds."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def _is_card(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and digits[0] in _CARD_FIRST_DIGITS and luhn_valid(digits)


def _is_pair(keys: tuple[Any, ...]) -> bool:
    return any(name in keys and value in keys for name, value in _PAIRS)


def _snake(key: str) -> str:
    return _KEY_SEPARATORS.sub("_", _CAMEL.sub("_", key)).lower()


def _skip_tree(fields: Iterable[str]) -> _SkipTree:
    tree: _SkipTree = {}
    for field in fields:
        node = tree
        *parents, leaf = split_path(field)
        for part in parents:
            child = node.setdefault(part, {})
            if child is True:
                break
            node = child
        else:
            node[leaf] = True
    return tree


def _substitute(pattern: re.Pattern[str], label: str) -> _Rewrite:
    return lambda text: pattern.sub(label, text)


def _may_hold_token(text: str) -> bool:
    if "_" in text and ("_live_" in text or "_test_" in text or "gh" in text):
        return True
    if "-" in text and ("xox" in text or "glpat-" in text):
        return True
    if "A" in text and ("AKIA" in text or "AIza" in text):
        return True
    if "K" in text and "PRIVATE KEY" in text:
        return True
    return "J" in text and "eyJ" in text  # (a JWT also has dots; "J" is the rarer letter)


# Written out rather than any(... for ...): a generator costs more than the tests themselves.
# Each ``in`` is a pass over the text: a one-letter test (memchr) first spares three of them.
def _may_hold_key_value(text: str, lowered: str) -> bool:
    if ":" not in text and "=" not in text:
        return False
    if "k" in lowered and ("key" in lowered or "token" in lowered or "cookie" in lowered):
        return True
    return (
        "secret" in lowered
        or "pass" in lowered
        or "pwd" in lowered
        or "credential" in lowered
        or "authori" in lowered
    )


def _may_hold_auth_header(lowered: str) -> bool:
    return "earer" in lowered or "asic" in lowered or "igest" in lowered


def _key_values(text: str, token: str) -> str:
    """``key=value`` secrets and header values (``Cookie: …``, ``Authorization: Token …``)."""
    lowered = text.lower()
    if "cookie" in lowered or "authori" in lowered:
        text = _HEADER_PAIR.sub(rf"\g<1>{token}", text)
        text = _HEADER.sub(lambda match: f"{match[1]}{match[2]}{match[3] or ''}{token}", text)
    return _KEY_VALUE.sub(rf"\g<1>\g<2>{token}", text)


def _tokens(text: str, token: str, private_key: str) -> str:
    """Well-known token formats, and PEM private-key blocks (kept whole or cut short)."""
    if "PRIVATE KEY" in text:
        text = _PRIVATE_KEY.sub(private_key, text)
    return _KNOWN_TOKEN.sub(token, text)


def _may_hold_card(text: str) -> bool:
    return len(text) >= 13 and _may_hold_card_bytes(text.encode("utf-8", "surrogatepass"))


def _may_hold_card_bytes(data: bytes) -> bool:
    """Whether a card number (or an int that is one) may be in ``data`` (UTF-8 or JSON).

    Every card leaves one of these marks: 4-digit groups (4-4-…, Amex/Diners 4-6-…), or 13
    digits in a row whose first one starts a group (no digit before it) and is 2-6.
    """
    marks = data.translate(_CARD_MAP).decode("ascii")
    if _GROUPS_4 in marks:
        return True
    at = marks.find(_DIGITS_13)
    while at >= 0:
        if 50 <= data[at] <= 54 and (at == 0 or marks[at - 1] != "d"):
            return True
        at = marks.find(_DIGITS_13, at + 13)  # (a group starts after a non-digit)
    return False


class Redact:
    """The ``redact`` stage."""

    __slots__ = (
        "_auth_rule",
        "_card_ints",
        "_card_label",
        "_card_rule",
        "_clean",
        "_email_rule",
        "_extra_rules",
        "_key_pattern",
        "_key_value_rule",
        "_namespace",
        "_replacement",
        "_sensitive",
        "_sensitive_keys",
        "_skip",
        "_token_rule",
        "_tokens",
        "_url_rule",
    )

    def __init__(
        self, config: RedactConfig | None = None, context: PipelineContext | None = None
    ) -> None:
        config = config or RedactConfig()
        context = context or PipelineContext()
        patterns = [*DEFAULT_SENSITIVE_KEY_PATTERNS] if config.sensitive_keys else []
        patterns += config.extra_key_patterns
        self._key_pattern = re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None
        # Keys and key sets come from the lines: remembered, within bounds.
        self._sensitive: Callable[[object], bool] = functools.lru_cache(maxsize=_MEMO_MAX)(
            self._is_sensitive
        )
        self._sensitive_keys: Callable[[tuple[Any, ...]], bool] = functools.lru_cache(
            maxsize=_KEY_SETS_MAX
        )(self._any_key_sensitive)
        # A set: strings found clean by the batch, no call to cache (a probe 14 ns, lru_cache 41).
        self._clean: set[str] = set()
        self._replacement = config.replacement
        self._skip = _skip_tree(config.skip_fields)
        self._namespace = context.namespace
        self._card_ints = config.cards
        self._card_label = self._label("card")
        self._build_rules(config)

    def _label(self, kind: str) -> str:
        base = self._replacement
        return f"{base[:-1]}:{kind}]" if base.endswith("]") else f"{base}:{kind}"

    def _build_rules(self, config: RedactConfig) -> None:
        """One rewrite per value rule (``None`` when switched off), applied in this order."""
        token = self._label("token")
        email = self._label("email")
        card = self._card_label
        private_key = self._label("private_key")
        # The rules of the ``tokens`` switch: asked for only when it is on.
        self._tokens = config.tokens
        self._url_rule: _Rewrite = lambda text: _URL_PASSWORD.sub(rf"\g<1>{token}@", text)
        self._auth_rule: _Rewrite = lambda text: _AUTH_HEADER.sub(
            lambda match: f"{match[1] or match[3]}{match[2] or match[4]}{token}", text
        )
        self._key_value_rule: _Rewrite = lambda text: _key_values(text, token)
        self._token_rule: _Rewrite = lambda text: _tokens(text, token, private_key)
        self._email_rule: _Rewrite | None = (
            (lambda text: _EMAIL.sub(email, text)) if config.emails else None
        )
        self._card_rule: _Rewrite | None = (
            (lambda text: _redact_cards(text, card)) if config.cards else None
        )
        self._extra_rules: tuple[_Rewrite, ...] = tuple(
            _substitute(re.compile(pattern), self._label(name))
            for name, pattern in config.extra_patterns.items()
        )

    def _open_rules(self, text: str) -> list[_Rewrite]:
        """The rules that may match in ``text``: each asks for substrings all its matches have.

        One call with the cheap single-character tests first; on an ordinary line it returns
        ``[]`` after a handful of ``in`` checks.
        """
        rules: list[_Rewrite] = []
        at = "@" in text
        if at and self._tokens and "://" in text:
            rules.append(self._url_rule)
        if self._tokens:  # (the auth, key-value and token rules)
            lowered = text.lower()
            if _may_hold_auth_header(lowered):
                rules.append(self._auth_rule)
            if _may_hold_key_value(text, lowered):
                rules.append(self._key_value_rule)
            if _may_hold_token(text):
                rules.append(self._token_rule)
        if at and self._email_rule is not None:
            rules.append(self._email_rule)
        if self._card_rule is not None and _may_hold_card(text):
            rules.append(self._card_rule)
        if self._extra_rules:
            rules += self._extra_rules
        return rules

    def _any_rule_open(self, text: str) -> bool:
        """``bool(self._open_rules(text))``, answered as soon as one rule is open.

        Asked of all the event's new strings joined: on an ordinary line no rule is open, and
        then no string needs looking at one by one. The cheapest tests come first.
        """
        if self._extra_rules:
            return True
        return self._text_rule_open(text) or (self._card_rule is not None and _may_hold_card(text))

    def _may_change(self, values: tuple[Any, ...]) -> bool:
        """Whether redacting ``values`` (an app object's, none under a secret's name) may
        change one; ``False`` only when it provably would not.

        One pass in C over ``orjson.dumps(values)``: that text holds every string as it is,
        but for ``"``, ``\\`` and control characters, which it escapes with a backslash (and
        then a string may hide anything: answer yes). A rule whose cheap test finds nothing in
        the whole text can match in none of the strings; nested objects and lists (whose keys
        may be secrets' names) answer yes; ints are there as their digits (the card test).
        """
        try:
            data = _dumps(values)
        except _JSONEncodeError:  # an int beyond 64 bits, say: the walk will tell
            return True
        text = data.decode()
        # An object or list among the values opens right after the array's "[" or a ",": a
        # string with a brace inside ("/orders/{id}") is no reason for the walk.
        if "\\" in text or ",{" in text or ",[" in text or text.startswith(("[{", "[[")):
            return True
        if self._text_rule_open(text):
            return True
        return (self._card_rule is not None or self._card_ints) and _may_hold_card_bytes(data)

    def _text_rule_open(self, text: str) -> bool:
        """:meth:`_any_rule_open` but for the card rule (and ``extra_patterns``)."""
        if "@" in text and (self._email_rule is not None or (self._tokens and "://" in text)):
            return True
        if not self._tokens:
            return False
        lowered = text.lower()  # once, for the key-value and auth tests
        return (
            _may_hold_key_value(text, lowered)
            or _may_hold_token(text)
            or _may_hold_auth_header(lowered)
        )

    def __call__(self, event: Event) -> Event:
        """Redact ``event`` in place; tag it ``_redacted`` if anything changed."""
        texts: list[str] = []
        return self._finish(event, texts, self._walk(event, self._skip, texts))

    def _finish(self, event: Event, texts: list[str], redacted: bool) -> Event:
        """After the walk: the value rules on the strings it collected, then the tag."""
        if texts and self._may_rewrite(texts):
            redacted = self._rewrite(event, texts) or redacted
        if redacted:
            tags = event.get("tags")
            if tags is None:
                event["tags"] = [T.REDACTED]
            elif T.REDACTED not in tags:
                tags.append(T.REDACTED)
        return event

    def compile(self, keys: tuple[str, ...], fields: frozenset[str] | None) -> Compiled | None:
        """This stage for app objects with ``keys``, in an event that holds ``fields`` besides.

        When every one of ``fields`` is skipped and none of ``keys`` is a secret's name, the
        walk of the event is the walk of the app object's values: the step starts there (the
        rest is :meth:`__call__`'s own code). Otherwise (or with ``extra_patterns``, which have
        no cheap test) the stage runs generically.
        """
        namespace = self._namespace
        if (
            fields is None
            or self._extra_rules
            or namespace in self._skip
            or self._sensitive(namespace)
            or not all(self._skipped(split_path(field)) for field in fields)
            or self._sensitive_keys(keys)
        ):
            return None
        walk_values = self._walk_values
        finish = self._finish
        may_change = self._may_change

        def step(event: Event, app: dict[str, Any]) -> dict[str, Any]:
            if may_change(tuple(app.values())):  # rare: the walk of __call__, from the app on
                texts: list[str] = []
                finish(event, texts, walk_values(app, app.items(), texts))
            return app  # values may be redacted; the keys stay

        return Compiled(step, keys, fields | {"tags"})

    def _skipped(self, path: tuple[str, ...]) -> bool:
        """Whether the walk skips the field at ``path`` (it or an object above it is skipped)."""
        node: Any = self._skip
        for part in path:
            node = node.get(part)
            if node is True:
                return True
            if node is None:
                return False
        return False

    def _may_rewrite(self, texts: list[str]) -> bool:
        """Whether a rule may match one of ``texts``; if none can, they are remembered clean.

        The rules are asked once, of all the strings joined; only if one is open does each
        string get looked at.
        """
        clean = self._clean
        if len(clean) >= _MEMO_MAX:  # strings come from the lines: stay bounded
            clean.clear()
        joined = texts[0] if len(texts) == 1 else "\x00".join(texts)
        if self._any_rule_open(joined):
            return True
        for text in texts:
            if len(text) <= _CLEAN_MAX_CHARS:
                clean.add(text)
        return False

    def _rewrite(self, event: Event, texts: list[str]) -> bool:
        """Apply the open rules to each string; put the changed ones back. Says if any changed."""
        clean = self._clean
        changes: dict[int, str] = {}
        for text in texts:
            new = text
            for rewrite in self._open_rules(text):
                new = rewrite(new)
            if new != text:
                changes[id(text)] = new
            elif len(text) <= _CLEAN_MAX_CHARS:
                clean.add(text)
        if not changes:
            return False
        _replace(event, self._skip, changes)  # rare: a second walk puts the new strings back
        return True

    def _is_sensitive(self, key: object) -> bool:
        """Whether ``key`` is a secret's name; :attr:`_sensitive` remembers it."""
        pattern = self._key_pattern
        return pattern is not None and type(key) is str and pattern.search(_snake(key)) is not None

    def _any_key_sensitive(self, keys: tuple[Any, ...]) -> bool:
        """Whether an object with ``keys`` (in line order) needs more than its values looked
        at: a key is sensitive or an e-mail address, or the object is a ``name``/``value`` pair;
        :attr:`_sensitive_keys` remembers it per key set.

        The lines of one app share a few key sets, so one lookup replaces a lookup per key.
        """
        if any(map(self._sensitive, keys)):
            return True
        if self._key_pattern is not None and _is_pair(keys):
            return True
        return self._email_rule is not None and any(type(key) is str and "@" in key for key in keys)

    def _walk(self, node: dict[str, Any], skip: _SkipTree | None, texts: list[str]) -> bool:
        """Redact sensitive keys under ``node``; collect its strings not yet known to be clean."""
        if skip is None:
            return self._walk_dict(node, texts)
        redacted = False
        items: list[tuple[str, Any]] = []
        sensitive = self._sensitive
        for key, value in node.items():
            subtree = skip.get(key)
            if subtree is True:
                continue
            if type(value) is not dict:
                items.append((key, value))  # (a skip entry is for an object; this is none)
            elif subtree is not None:
                if not subtree.keys() >= value.keys():  # an object of ours, partly skipped
                    redacted = self._walk(value, subtree, texts) or redacted
            elif not sensitive(key):  # the app namespace: straight to its values
                redacted = self._walk_dict(value, texts) or redacted
            else:
                items.append((key, value))
        if items:
            redacted = self._walk_items(node, items, texts) or redacted
        return redacted

    def _walk_dict(self, node: dict[Any, Any], texts: list[str]) -> bool:
        """An object: only its values matter when none of its keys is sensitive (the usual)."""
        if self._sensitive_keys(tuple(node)):
            redacted = self._rename_email_keys(node) | self._redact_pair(node)
            return self._walk_items(node, node.items(), texts) or redacted
        return self._walk_values(node, node.items(), texts)

    def _redact_pair(self, node: dict[Any, Any]) -> bool:
        """A header stored as ``{"name": "Authorization", "value": …}`` (or ``key``/``Key``…):
        the value is redacted when the name is a secret's."""
        for name_key, value_key in _PAIRS:
            if name_key in node and value_key in node:
                name, value = node[name_key], node[value_key]
                if (
                    type(name) is str
                    and self._sensitive(name)
                    and value is not None
                    and type(value) is not bool
                    and value != self._replacement
                ):
                    node[value_key] = self._replacement
                    return True
        return False

    def _rename_email_keys(self, node: dict[Any, Any]) -> bool:
        """Keys that hold e-mail addresses are redacted like values; the values stay, each
        under its own key (a second address becomes ``[REDACTED:email]#2``, and so on)."""
        rule = self._email_rule
        if rule is None:
            return False
        renamed: dict[str, str] = {}
        for key in node:
            if type(key) is str and "@" in key:
                new = rule(key)
                if new != key:
                    renamed[key] = new
        if not renamed:
            return False
        kept = node.keys() - renamed.keys()
        items = list(node.items())
        node.clear()
        for key, value in items:
            target = renamed.get(key) if type(key) is str else None
            if target is None:
                node[key] = value
                continue
            unique, count = target, 1
            while unique in node or unique in kept:
                count += 1
                unique = f"{target}#{count}"
            node[unique] = value
        return True

    def _walk_items(self, node: Any, items: Iterable[tuple[Any, Any]], texts: list[str]) -> bool:
        """Key names, then strings, nested values, cards (``items``: of a dict, or a list
        enumerated: int keys are never sensitive)."""
        redacted = False
        sensitive_key = self._sensitive
        clean = self._clean
        for key, value in items:
            sensitive = sensitive_key(key)
            kind = type(value)
            if sensitive:
                if value is not None and kind is not bool and value != self._replacement:
                    node[key] = self._replacement  # same key: safe while iterating
                    redacted = True
            elif kind is str:
                if value not in clean:
                    texts.append(value)
            elif kind is dict:
                redacted = self._walk_dict(value, texts) or redacted
            elif kind is list:
                redacted = self._walk_values(value, enumerate(value), texts) or redacted
            elif kind is int and self._card_ints and _CARD_INT_MIN <= value < _CARD_INT_MAX:
                redacted = self._card_int(node, key, value) or redacted
            elif kind is float and self._card_ints and _CARD_INT_MIN <= value < _CARD_FLOAT_MAX:
                redacted = self._card_float(node, key, value) or redacted
        return redacted

    def _walk_values(self, node: Any, items: Iterable[tuple[Any, Any]], texts: list[str]) -> bool:
        """The hot loop: :meth:`_walk_items` for keys known not to be sensitive (list indexes
        never are), so without the per-key lookup."""
        redacted = False
        clean = self._clean
        for key, value in items:
            kind = type(value)
            if kind is str:
                if value not in clean:
                    texts.append(value)
            elif kind is int:
                # _card_int(), inlined: a thread id is card-sized on every python-json-logger line
                if (
                    self._card_ints
                    and _CARD_INT_MIN <= value < _CARD_INT_MAX
                    and _is_card(str(value))
                ):
                    node[key] = self._card_label
                    redacted = True
            elif kind is dict:
                redacted = self._walk_dict(value, texts) or redacted
            elif kind is list:
                redacted = self._walk_values(value, enumerate(value), texts) or redacted
            elif kind is float and self._card_ints and _CARD_INT_MIN <= value < _CARD_FLOAT_MAX:
                redacted = self._card_float(node, key, value) or redacted
        return redacted

    def _card_int(self, holder: Any, key: Any, value: int) -> bool:
        if _is_card(str(value)):
            holder[key] = self._card_label
            return True
        return False

    def _card_float(self, holder: Any, key: Any, value: float) -> bool:
        """A card number written as a JSON number with a fraction or exponent
        (``4111111111111111.0``, ``4.111111111111111e15``): whole (and below 2**53)."""
        return value.is_integer() and self._card_int(holder, key, int(value))


def _replace(node: Any, skip: _SkipTree | None, changes: dict[int, str]) -> None:
    """Swap every string whose id is in ``changes`` (collected by ``_walk`` this very call)."""
    items = node.items() if type(node) is dict else enumerate(node)
    for key, value in list(items):
        subtree = skip.get(key) if skip is not None else None
        if subtree is True:
            continue
        kind = type(value)
        if kind is str:
            new = changes.get(id(value))
            if new is not None:
                node[key] = new
        elif kind is dict or kind is list:
            _replace(value, subtree if kind is dict else None, changes)


def _redact_cards(text: str, label: str) -> str:
    if len(text) < 13:
        return text
    return _CARD_RUN.sub(lambda match: _redact_card_run(match[0], label), text)


def _redact_card_run(run: str, label: str) -> str:
    """Replace the card numbers inside a run of digits, spaces and dashes.

    A card is either one group of 13-19 digits, or 4-digit groups (the middle ones 4 or 6
    digits, the last 3-6: Visa/Mastercard 4-4-4-4, Amex 4-6-5) adding up to 13-19.
    """
    groups = [(match.start(), match.end()) for match in _CARD_GROUPS.finditer(run)]
    pieces: list[str] = []
    done = 0  # run[:done] is already in pieces
    index = 0
    while index < len(groups):
        end = _card_end(run, groups, index)
        if end is None:
            index += 1
            continue
        start = groups[index][0]
        pieces.append(run[done:start])
        pieces.append(label)
        done = groups[end][1]
        index = end + 1
    if not pieces:
        return run
    pieces.append(run[done:])
    return "".join(pieces)


def _card_end(run: str, groups: list[tuple[int, int]], first: int) -> int | None:
    """Index of the last group of a card starting at group ``first``, or ``None``."""
    start, end = groups[first]
    if _is_card(run[start:end]):
        return first
    if end - start != 4:
        return None
    digits = run[start:end]
    for index in range(first + 1, min(first + 5, len(groups))):
        previous_end = groups[index - 1][1]
        group_start, group_end = groups[index]
        if group_start - previous_end != 1:  # exactly one separator between groups
            return None
        group = run[group_start:group_end]
        digits += group
        if 13 <= len(digits) <= 19 and 3 <= len(group) <= 6 and _is_card(digits):
            return index
        if len(group) not in (4, 6) or len(digits) >= 19:
            return None
    return None
