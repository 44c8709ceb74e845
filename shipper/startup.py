"""What a long-running process does once it is set up, before its hot loop."""

from __future__ import annotations

import gc

__all__ = ["YOUNG_GENERATION_OBJECTS", "prepare_garbage_collector"]

YOUNG_GENERATION_OBJECTS = 20_000
"""How many more container objects than were freed start a young collection (Python: 700).

A batch in flight holds tens of thousands of dicts and lists; at 700, every batch set off dozens
of collections that found nothing to free (1.2 µs an event, measured by
``gc.callbacks`` over the encoder); at 20,000 they are rare, and cyclic garbage waits for at
most a few megabytes."""


def prepare_garbage_collector() -> None:
    """Leave what start-up made (modules, classes, config: hundreds of thousands of objects) out
    of the cyclic garbage collector's passes, and collect young objects less often
    (:data:`YOUNG_GENERATION_OBJECTS`).

    Events and records in flight survive the young generations, so full collections come every
    few thousand of them; each one walked every object of the process, and that walk was most of
    the indexer's CPU time (measured: 3.2 s of 6.9 s for 200,000 records). Frozen, those objects
    are never examined again; garbage made before this point is collected first, and what is
    made after it is collected as usual.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_OBJECTS, middle, old)
