"""Dotted ECS paths on nested event dicts (``("log", "level")`` ↔ ``{"log": {"level": …}}``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pipelines.types import Event

__all__ = ["MISSING", "add_tag", "get_path", "set_path", "split_path"]

MISSING: Final = object()
"""What :func:`get_path` returns for an absent path (``None`` is a value a line can carry)."""

Path = tuple[str, ...]


def split_path(dotted: str) -> Path:
    """``"log.origin.file.line"`` → ``("log", "origin", "file", "line")``; rejects empty parts."""
    parts = tuple(dotted.split("."))
    if not dotted or any(not part for part in parts):
        raise ValueError(f"{dotted!r} is not a dotted field path")
    return parts


def get_path(event: Mapping[str, Any], path: Path) -> Any:
    """The value at ``path``, or :data:`MISSING`."""
    node: Any = event
    for part in path:
        if type(node) is not dict:
            return MISSING
        node = node.get(part, MISSING)
        if node is MISSING:
            return MISSING
    return node


def set_path(event: Event, path: Path, value: Any) -> bool:
    """Set ``path`` unless it is already set or a non-object is in the way; says whether it did.

    Never overwriting is the rule that keeps the first source of a field (the operator's config,
    then the line's first matching key) and leaves later ones where they were, not lost.
    """
    node = event
    for part in path[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif type(child) is not dict:
            return False
        node = child
    leaf = path[-1]
    if leaf in node:
        return False
    node[leaf] = value
    return True


def add_tag(event: Event, tag: str) -> None:
    """Append ``tag`` to ``event["tags"]`` once."""
    tags = event.get("tags")
    if tags is None:
        event["tags"] = [tag]
    elif tag not in tags:
        tags.append(tag)
