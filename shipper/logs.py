"""logferry's own logs: JSON lines on stderr (python-json-logger), one logger per component."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from shipper.masking import mask_urls

__all__ = ["MaskingJsonFormatter", "configure_logging"]


class MaskingJsonFormatter(JsonFormatter):
    """JSON lines with the credentials of every URL masked, in the message and extra fields
    alike (``"elasticsearch": "http://elastic:********@es:9200"``)."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_urls(super().format(record))


def configure_logging(level: str) -> None:
    """Send every logger's records as JSON to stderr at *level*; quiet chatty libraries."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        MaskingJsonFormatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs every failed connection attempt at ERROR; the shipper reports outages itself.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL if level != "debug" else logging.DEBUG)
