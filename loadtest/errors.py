"""The load tester's error, in logferry's one tree (:mod:`shipper.errors`)::

    LogferryError              (shipper.errors)
    └── LoadTestError          `loadtest` could not set up or carry out a run (exit 3)

Being a :class:`~shipper.errors.LogferryError`, the shared command-line group
(:class:`shipper.commandline.LogferryGroup`) turns it into one line and its exit code.
"""

from __future__ import annotations

from shipper.errors import LogferryError

__all__ = ["LoadTestError"]


class LoadTestError(LogferryError):
    """A load test could not be set up or carried out (a failed expectation is a result, not this)."""

    exit_code = 3
