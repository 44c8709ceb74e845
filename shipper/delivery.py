"""Publishing one batch until the output acknowledges it: the shipper's one publish-retry loop,
run by the main process, or by a worker that publishes what it encoded (:mod:`shipper.workers`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from shipper.backoff import Backoff
from shipper.sinks import OutgoingEvent, Sink, SinkError

__all__ = ["deliver"]

log = logging.getLogger("logferry.shipper")


async def deliver(
    sink: Sink,
    events: Sequence[OutgoingEvent],
    backoff_max_s: float,
    on_failure: Callable[[int], None],
) -> float:
    """Publish *events* until *sink* acknowledges every one; return how long the attempt that
    succeeded took. A batch is never given up on: the checkpoint cannot pass it, and while it
    waits, reading stops (the log file is the buffer). *on_failure* gets the size of each failed
    attempt as it happens, so an outage shows in the metrics while it lasts."""
    backoff = Backoff(0.1, backoff_max_s)
    while True:
        started = time.perf_counter()
        try:
            if events:
                await sink.publish(events)
        except Exception as exc:  # SinkError, or a bug: either way the batch must not be lost
            on_failure(len(events))
            delay = backoff.next()
            log.warning(
                "publish failed, retrying",
                exc_info=None if isinstance(exc, SinkError) else exc,
                extra={"error": str(exc), "retry_in_s": round(delay, 2)},
            )
            await asyncio.sleep(delay)
            continue
        return time.perf_counter() - started
