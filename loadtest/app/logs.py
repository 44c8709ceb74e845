"""The demo shop's log: one JSON object per line, in a file rotated by rename + create.

Lines are written by python-json-logger through :class:`logging.handlers.RotatingFileHandler`,
as a typical Python service writes them, so the shipper meets the real thing: the keys
``time``, ``level``, ``logger``, ``message``, ``service`` first, then the record's extras.
"""

from __future__ import annotations

import logging
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any, Final

from pythonjsonlogger.core import merge_record_extra
from pythonjsonlogger.json import JsonFormatter

from loadtest.app.config import AppConfig

__all__ = ["ACCESS_LOGGER", "ORDERS_LOGGER", "SERVICE_LOGGER", "AppLogs", "ShopJsonFormatter"]

SERVICE_LOGGER: Final = "shop"
ACCESS_LOGGER: Final = "shop.access"
ORDERS_LOGGER: Final = "shop.orders"
_CACHE_ATTR: Final = "_shop_json_line"


class ShopJsonFormatter(JsonFormatter):
    """JSON lines with the shop's fixed keys first; ``time`` is UTC ISO 8601 with milliseconds."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service
        self._second = -1
        self._second_text = ""

    def format(self, record: logging.LogRecord) -> str:
        """The record's line, formatted once even though the handler asks twice."""
        # RotatingFileHandler formats every record once to measure it and again to write it;
        # the record lives for one emit, so it is a safe place to keep the first result.
        cached: str | None = record.__dict__.get(_CACHE_ATTR)
        if cached is None:
            cached = super().format(record)
            record.__dict__[_CACHE_ATTR] = cached
        return cached

    def add_fields(
        self,
        log_data: dict[str, Any],
        record: logging.LogRecord,
        message_dict: dict[str, Any],
    ) -> None:
        """The fixed keys in a fixed order, then exception info and the record's extras."""
        log_data["time"] = self._iso_time(record.created)
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        log_data["service"] = self._service
        log_data.update(message_dict)
        merge_record_extra(record, log_data, reserved=self._skip_fields)

    def _iso_time(self, created: float) -> str:
        second = int(created)
        if second != self._second:  # most lines of a busy second share the formatted prefix
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        millis = min(int((created - second) * 1000), 999)
        return f"{self._second_text}.{millis:03d}Z"


class AppLogs:
    """The shop's loggers, all writing to one rotating JSON file that this object owns."""

    def __init__(self, config: AppConfig) -> None:
        path = Path(config.log_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.handler = RotatingFileHandler(
            path,
            maxBytes=config.rotate_bytes,
            backupCount=config.rotate_keep,
            encoding="utf-8",
        )
        self.handler.setFormatter(ShopJsonFormatter(config.service))
        self.service = self._logger(SERVICE_LOGGER)
        self.access = self._logger(ACCESS_LOGGER)
        self.orders = self._logger(ORDERS_LOGGER)

    def _logger(self, name: str) -> logging.Logger:
        # Loggers made outside logging's registry belong to this app alone: two apps in one
        # process (tests) never write into each other's files, and nothing reaches the root.
        logger = logging.Logger(name, logging.INFO)
        logger.addHandler(self.handler)
        return logger

    def close(self) -> None:
        """Flush and close the file (idempotent)."""
        self.handler.close()
