"""An HTTP client for the Kubernetes API from the credentials kopf logged in with.

kopf's login handlers (``kopf.login_with_service_account``, ``kopf.login_with_kubeconfig``)
return a public ``kopf.ConnectionInfo``: the server, how to trust it (a CA file or data, or
not at all) and who we are (a token, basic credentials or a client certificate). Our own
requests use exactly those, read the way kopf reads them, so that they are made as the same
identity as kopf's watches and need no credentials of their own.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from pathlib import Path

import httpx
import kopf

USER_AGENT = "changetrail-operator"

_Path = str | bytes | os.PathLike[str] | os.PathLike[bytes]


def authorization(info: kopf.ConnectionInfo) -> dict[str, str]:
    """The ``Authorization`` header, if any: basic credentials, else the token (Bearer unless
    a scheme is given), else the scheme alone."""
    if info.username and info.password:
        basic = base64.b64encode(f"{info.username}:{info.password}".encode()).decode()
        return {"Authorization": f"Basic {basic}"}
    if info.token:
        return {"Authorization": f"{info.scheme or 'Bearer'} {info.token}"}
    if info.scheme:
        return {"Authorization": info.scheme}
    return {}


def _pem(data: str | bytes) -> str:
    # kubeconfig's *-data fields are base64 of PEM; a login handler may hand over PEM itself.
    text = data.decode("ascii") if isinstance(data, bytes) else data
    return text if text.startswith("-----BEGIN ") else base64.b64decode(text).decode("ascii")


def ssl_context(info: kopf.ConnectionInfo) -> ssl.SSLContext:
    """Trust the CA the credentials name (the system's if none), present the client
    certificate if there is one, and verify nothing when the credentials say insecure."""
    context = ssl.create_default_context(
        cafile=info.ca_path,
        cadata=_pem(info.ca_data) if info.ca_data is not None else None,
    )
    with tempfile.TemporaryDirectory() as directory:
        # ``ssl`` loads certificates and keys from files only: data goes to a private
        # directory for as long as loading takes.
        certificate = _file(info.certificate_path, info.certificate_data, directory, "tls.crt")
        key = _file(info.private_key_path, info.private_key_data, directory, "tls.key")
        if certificate is not None and key is not None:
            context.load_cert_chain(certfile=certificate, keyfile=key)
    if info.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _file(path: _Path | None, data: str | bytes | None, directory: str, name: str) -> _Path | None:
    if path:
        return path
    if data:
        written = Path(directory) / name
        written.write_text(_pem(data))
        return written
    return None


def http_client(
    info: kopf.ConnectionInfo,
    *,
    timeout: httpx.Timeout,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """A client of ``info.server`` as ``info`` says; ``transport`` replaces the network."""
    return httpx.AsyncClient(
        base_url=info.server,
        headers={"User-Agent": USER_AGENT, **authorization(info)},
        verify=ssl_context(info),
        proxy=info.proxy_url if transport is None else None,
        trust_env=info.trust_env,
        timeout=timeout,
        transport=transport,
    )
