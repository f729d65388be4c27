"""Reading a request body as JSON without letting a hostile body exhaust the process.

The stdlib parser is linear in the body size; what it does not bound is nesting. A body of
``[[[[...`` a few hundred thousand levels deep would hit the interpreter's recursion limit in
the parser (``RecursionError``), and anything under that limit is still far deeper than any
real webhook. So the document is parsed, recursion errors are turned into a clean
``PayloadError``, and the result is walked once, stopping at ``MAX_DEPTH``, to enforce it.
"""

from __future__ import annotations

import json
from typing import Any

from changetrail_api.detectors.model import PayloadError

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted. Real provider payloads stay under 15."""


def load_payload(body: bytes, *, max_depth: int = MAX_DEPTH) -> object:
    """Parse ``body`` as JSON (UTF-8/16/32), refusing documents nested deeper than ``max_depth``."""
    if not body.strip():
        raise PayloadError("the body is empty; a JSON document was expected")
    try:
        payload: object = json.loads(body, parse_constant=_refuse_constant)
    except PayloadError:
        raise
    except RecursionError:
        raise PayloadError(f"the JSON document is nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError:
        raise PayloadError("the body is not UTF-8, UTF-16 or UTF-32 encoded text") from None
    except json.JSONDecodeError as error:
        if body.startswith(b"payload="):
            raise PayloadError(
                "the body is form-encoded (payload=...); set the webhook's content type to "
                "application/json"
            ) from None
        raise PayloadError(
            f"the body is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except ValueError as error:
        # Integers longer than the interpreter's digit limit land here.
        raise PayloadError(f"the body is not usable JSON: {error}") from None
    if too_deep(payload, max_depth):
        raise PayloadError(f"the JSON document is nested deeper than {max_depth} levels")
    return payload


def _refuse_constant(name: str) -> object:
    # Python's parser accepts NaN and Infinity; JSON does not, and neither do the databases
    # the changes end up in.
    raise PayloadError(f"the body uses {name}, which is not JSON")


def too_deep(value: object, limit: int) -> bool:
    """True when ``value`` nests arrays and objects more than ``limit`` levels deep."""
    return isinstance(value, dict | list) and _exceeds(value, limit)


def _exceeds(container: Any, allowed: int) -> bool:
    # Recursion is safe here: it stops at ``allowed`` levels (64 frames by default), and it is
    # about four times faster than an explicit stack for the payloads webhooks carry.
    if allowed <= 0:
        return True
    children = container.values() if type(container) is dict else container
    for child in children:
        kind = type(child)
        if (kind is dict or kind is list) and _exceeds(child, allowed - 1):
            return True
    return False
