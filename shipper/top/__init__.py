"""`shipper top`: a live terminal view of running shippers and indexers, read from their /metrics.

:mod:`.sample` reads one exposition into a snapshot and two snapshots into a row (pure),
:mod:`.discover` finds the processes and their metrics ports, :mod:`.view` draws the table,
:mod:`.live` scrapes, redraws every interval and stops on ``q`` or Ctrl-C.
"""
