"""PHP-style form encoding: `form[name]=x&slip[]=y` bodies to nested dicts, and back (http_build_query).

Checkfront speaks it both ways: its API takes form posts in this shape, and
its form-encoded webhooks arrive in it. Shared by the simulator and our
webhook reader, so both sides read it the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

_SEGMENT = re.compile(r"\[([^\]]*)\]")
# No form PayOps or Checkfront sends nests deeper than a few levels; deeper would overflow the stack.
MAX_KEY_DEPTH = 32


def parse_php_query(text: str, *, strict: bool = False) -> dict[str, Any]:
    """Parse as PHP fills $_POST: later keys win, `a[]` appends, `a[0]`..`a[n]` become a list.

    strict=True raises ValueError on a malformed body instead of guessing.
    A key nested deeper than MAX_KEY_DEPTH raises ValueError either way.
    """
    result: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True, strict_parsing=strict, max_num_fields=5000):
        head, bracket, rest = key.partition("[")
        path = [head, *_SEGMENT.findall(bracket + rest)] if bracket else [head]
        if len(path) > MAX_KEY_DEPTH:
            raise ValueError(f"a key is nested deeper than {MAX_KEY_DEPTH} levels")
        node = result
        for depth, part in enumerate(path):
            if part == "":
                part = str(len(node))
            if depth == len(path) - 1:
                node[part] = value
                break
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
    return _lists_from_indexes(result)


def _lists_from_indexes(node: dict[str, Any]) -> Any:
    for key, value in node.items():
        if isinstance(value, dict):
            node[key] = _lists_from_indexes(value)
    if node and list(node) == [str(n) for n in range(len(node))]:
        return list(node.values())
    return node


def _flatten(prefix: str, value: Any, pairs: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping):
        for key, child in value.items():
            _flatten(f"{prefix}[{key}]" if prefix else str(key), child, pairs)
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            _flatten(f"{prefix}[{index}]", child, pairs)
    elif value is None:
        # PHP's http_build_query drops nulls (and empty arrays, which add no pairs).
        return
    elif isinstance(value, bool):
        pairs.append((prefix, "1" if value else "0"))
    else:
        pairs.append((prefix, str(value)))


def build_php_query(data: Mapping[str, Any]) -> str:
    """PHP's http_build_query: nested keys in brackets, lists indexed from 0, brackets percent-encoded."""
    pairs: list[tuple[str, str]] = []
    _flatten("", data, pairs)
    return urlencode(pairs)
