"""Dotted JSON paths (``spec.template.metadata.annotations.x``) as policies name ignored fields."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

JsonDict = dict[str, Any]


def split_path(path: str) -> list[str]:
    # Label and annotation keys contain dots ("example.com/x"); such a segment is written in
    # brackets: metadata.annotations[example.com/x].
    parts: list[str] = []
    buffer = ""
    depth = 0
    for char in path:
        if char == "[" and depth == 0:
            if buffer:
                parts.append(buffer)
            buffer = ""
            depth = 1
        elif char == "]" and depth == 1:
            parts.append(buffer)
            buffer = ""
            depth = 0
        elif char == "." and depth == 0:
            if buffer:
                parts.append(buffer)
            buffer = ""
        else:
            buffer += char
    if buffer:
        parts.append(buffer)
    return parts


def without_paths(body: JsonDict, paths: Iterable[str]) -> JsonDict:
    """A copy of ``body`` with the given paths removed; lists are matched element-wise."""
    split = [split_path(path) for path in paths]
    if not split:
        return body
    result = copy.deepcopy(body)
    for parts in split:
        _drop(result, parts)
    return result


def _drop(node: Any, parts: list[str]) -> None:
    if not parts:
        return
    if isinstance(node, list):
        for item in node:
            _drop(item, parts)
        return
    if not isinstance(node, dict):
        return
    head, rest = parts[0], parts[1:]
    if head not in node:
        return
    if rest:
        _drop(node[head], rest)
        # An emptied parent is dropped too: the API server does not keep "annotations: {}",
        # so an object with an ignored annotation fingerprints like one without it.
        if node[head] == {}:
            del node[head]
    else:
        del node[head]
