"""Posted forms: small, URL-encoded, and only ever read here."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request

from changetrail_api.errors import ProblemError

# Sign-in and sign-out forms hold a key and a token: a few hundred bytes.
MAX_FORM_BYTES = 8 * 1024


async def read_form(request: Request) -> dict[str, str]:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise ProblemError(415, "Send this form as application/x-www-form-urlencoded.")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise ProblemError(413, f"A form may hold at most {MAX_FORM_BYTES} bytes.")
    try:
        fields = parse_qs(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=20
        )
    except (UnicodeDecodeError, ValueError):
        raise ProblemError(400, "The form could not be read.") from None
    return {name: values[-1] for name, values in fields.items()}


def is_https(request: Request) -> bool:
    """Whether the browser reached us over TLS, also when a proxy terminated it."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",", 1)[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"
