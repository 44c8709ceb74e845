"""Find the shippers and indexers running on this machine, and the ports they listen on."""

from __future__ import annotations

import os

import psutil

__all__ = ["discover", "logferry_role"]

_ROLES = {"run": "shipper", "index": "indexer"}


def logferry_role(cmdline: list[str]) -> str | None:
    """``shipper`` for a `shipper run` command line, ``indexer`` for `shipper index`, else None
    (`python -m shipper run …` and the console script `shipper run …` alike)."""
    python = bool(cmdline) and os.path.basename(cmdline[0]).startswith("python")
    if python and cmdline[1:3] == ["-m", "shipper"]:
        rest = cmdline[3:]
    elif python and len(cmdline) > 1 and os.path.basename(cmdline[1]) == "shipper":
        rest = cmdline[2:]
    elif cmdline and os.path.basename(cmdline[0]) == "shipper":
        rest = cmdline[1:]
    else:
        return None
    return _ROLES.get(rest[0]) if rest else None


def discover() -> list[str]:
    """HOST:PORT of every TCP port a `shipper run` or `shipper index` process listens on (its
    metrics server), sorted; processes of other users that cannot be inspected are left out."""
    found: set[str] = set()
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if logferry_role(cmdline) is None:
            continue
        try:
            connections = process.net_connections(kind="tcp")
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        for connection in connections:
            if connection.status == psutil.CONN_LISTEN and connection.laddr:
                host = connection.laddr.ip
                if host in ("0.0.0.0", "::"):
                    host = "127.0.0.1"
                found.add(
                    f"[{host}]:{connection.laddr.port}"
                    if ":" in host
                    else f"{host}:{connection.laddr.port}"
                )
    return sorted(found)
