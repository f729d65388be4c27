"""uvicorn's HTTP/1.1 protocol, answering requests it cannot parse with problem+json.

uvicorn itself answers a malformed request (a broken request line, a bad header) with a plain
text 400 before the application sees it; clients of this API expect every error as an RFC 9457
problem document, so this subclass writes that instead. Used by ``changetrail api``.
"""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from changetrail_api.errors import PROBLEM_JSON, problem_body


class ProblemH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        body = json.dumps(problem_body(400, f"The HTTP request could not be parsed: {msg}"))
        content = body.encode()
        headers = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(content)).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=content),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()
