"""``/docs``: Swagger UI served from the package's own files (``static/swagger-ui``).

Clusters without Internet access get a working reference, and the page loads nothing from a
third-party CDN. Its Content-Security-Policy allows exactly these files and the page's one
inline initialisation script (by its digest); Swagger UI's online validator is switched off.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _policy(html: str) -> str:
    digests = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    ]
    return (
        f"default-src 'self'; script-src 'self' {' '.join(digests)}; "
        # Swagger UI sets style attributes from script.
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )


def install(app: FastAPI) -> None:
    """Serve ``/docs`` and its assets; create the app with ``docs_url=None, redoc_url=None``."""
    app.mount(
        ASSETS_PATH,
        StaticFiles(packages=[("changetrail_api", "static/swagger-ui")]),
        name="docs-assets",
    )

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        page = get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} API",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
        html = bytes(page.body).decode()
        return HTMLResponse(html, headers={"Content-Security-Policy": _policy(html)})
