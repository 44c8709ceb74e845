"""Credentials written into URLs are never shown: not in a log line, an error, a metric label,
``check-config``'s output or a command's progress.

One function, :func:`mask_urls`, applied where text leaves the process for people to read: the
log formatter (:mod:`shipper.logs`), the command line's error lines (:mod:`shipper.commandline`),
progress lines and tables (:mod:`shipper.cli.output`), and :func:`shipper.config.masked`. The
settings keep the URL as given, so clients still log in with it.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["MASK", "mask_urls"]

MASK: Final = "********"
"""What a secret is shown as."""

# scheme://userinfo@ — the userinfo runs to the last "@" before the host's end (a password may
# hold "@"); "/", "?", "#" and white space end the authority, so an "@" in a path or a query is
# not taken for one.
_USERINFO: Final = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]{0,31}://)(?P<user>[^/?#\s:@]*)"
    r"(?P<password>:[^/?#\s]*)?@(?=[^/?#\s@]*(?:[/?#\s]|$))"
)


def _mask(match: re.Match[str]) -> str:
    # With a password, the user name stays (it helps to tell accounts apart); alone, the user
    # part may itself be the secret (a token as user name).
    if match["password"] is None:
        return f"{match['scheme']}{MASK}@"
    return f"{match['scheme']}{match['user']}:{MASK}@"


def mask_urls(text: str) -> str:
    """*text* with the credentials of every URL in it masked (``http://elastic:********@es``)."""
    if "@" not in text:  # the usual case, and the cheapest answer
        return text
    return _USERINFO.sub(_mask, text)
