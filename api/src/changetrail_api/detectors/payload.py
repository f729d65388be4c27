"""Reading a request body as JSON without letting a hostile body exhaust the process.

The stdlib parser is linear in the body size; what it does not bound is nesting. A body of
``[[[[...`` a few hundred thousand levels deep would hit the interpreter's recursion limit in
the parser (``RecursionError``), and anything under that limit is still far deeper than any
real webhook. So the document is parsed, recursion errors are turned into a clean
``PayloadError``, and the result is walked once (``json_safety.check``), stopping at
``MAX_DEPTH``. The same walk refuses what no database could store and no response could carry:
non-finite numbers (``NaN``, ``1e400``), half of a surrogate pair, NUL. It runs on every
document a detector reads, including those wrapped inside another (SNS messages, Pub/Sub data).
"""

from __future__ import annotations

import json

from changetrail_api import json_safety
from changetrail_api.detectors.model import PayloadError

MAX_DEPTH = json_safety.MAX_DEPTH
"""Deepest nesting of arrays and objects accepted. Real provider payloads stay under 15."""


def load_payload(body: bytes, *, max_depth: int = MAX_DEPTH) -> object:
    """Parse ``body`` as JSON (UTF-8/16/32), refusing documents nested deeper than ``max_depth``."""
    if not body.strip():
        raise PayloadError("the body is empty; a JSON document was expected")
    try:
        payload: object = json.loads(
            body, parse_constant=_refuse_constant, parse_float=_finite_number
        )
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
    try:
        json_safety.check(payload, max_depth=max_depth)
    except json_safety.UnsafeJsonError as error:
        if error.message.startswith("nested deeper"):
            raise PayloadError(
                f"the JSON document is nested deeper than {max_depth} levels"
            ) from None
        raise PayloadError(f"the JSON document cannot be stored: {error}") from None
    return payload


def _refuse_constant(name: str) -> object:
    # Python's parser accepts NaN and Infinity; JSON does not, and neither do the databases
    # the changes end up in.
    raise PayloadError(f"the body uses {name}, which is not JSON")


def _finite_number(literal: str) -> float:
    # 1e400 is valid JSON syntax, but only fits a double as infinity.
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise PayloadError(f"the body holds {literal}, a number too large to store")
    return value
