"""Reading a request body as JSON without letting a hostile body exhaust the process.

The stdlib parser is linear in the body size; what it does not bound is nesting. A body of
``[[[[...`` a few hundred thousand levels deep would hit the interpreter's recursion limit in
the parser (``RecursionError``), and anything under that limit is still far deeper than any
real webhook. So the document is parsed, recursion errors are turned into a clean
``PayloadError``, and the result is walked once, without recursion, to enforce ``MAX_DEPTH``.
"""

from __future__ import annotations

import json

from changetrail.detectors.model import PayloadError

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted. Real provider payloads stay under 15."""


def load_payload(body: bytes, *, max_depth: int = MAX_DEPTH) -> object:
    """Parse ``body`` as JSON (UTF-8/16/32), refusing documents nested deeper than ``max_depth``."""
    if not body.strip():
        raise PayloadError("the body is empty; a JSON document was expected")
    try:
        payload: object = json.loads(body)
    except RecursionError:
        raise PayloadError(f"the JSON document is nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError:
        raise PayloadError("the body is not UTF-8, UTF-16 or UTF-32 encoded text") from None
    except json.JSONDecodeError as error:
        raise PayloadError(
            f"the body is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except ValueError as error:
        # Integers longer than the interpreter's digit limit land here.
        raise PayloadError(f"the body is not usable JSON: {error}") from None
    if nesting_depth(payload, limit=max_depth) > max_depth:
        raise PayloadError(f"the JSON document is nested deeper than {max_depth} levels")
    return payload


def nesting_depth(value: object, *, limit: int) -> int:
    """Depth of ``value`` (a scalar is 0), counted up to ``limit + 1`` and no further."""
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children: list[object] | None = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            children = None
        if children is None:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        pending.extend((child, depth) for child in children if isinstance(child, dict | list))
    return deepest
