"""uvicorn's HTTP/1.1 protocol, answering requests it cannot parse with problem+json.

uvicorn itself answers a malformed request (a broken request line, a bad header) with a plain
text 400 before the application sees it; clients of this API expect every error as an RFC 9457
problem document, so this subclass writes that instead. Used by ``changetrail api``.

The parser is httptools (llhttp, the parser of Node.js) rather than the pure-Python h11: at the
ingest rates of ``make bench`` h11's parsing and header validation were a tenth of the API
process's time, which llhttp does in C.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from changetrail_api.errors import PROBLEM_JSON, problem_body


class ProblemHttpProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        content = json.dumps(problem_body(400, f"The HTTP request could not be parsed: {msg}"))
        body = content.encode()
        head = [
            STATUS_LINE[400],
            b"content-type: " + PROBLEM_JSON.encode() + b"\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"x-content-type-options: nosniff\r\n",
            b"connection: close\r\n",
            b"\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
