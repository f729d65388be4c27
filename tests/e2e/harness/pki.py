"""Certificates and keys for a throwaway control plane, made with the openssl CLI.

The cluster lives for one test run, so the certificates are valid for two days and
use P-256 keys, which are quick to generate.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

VALIDITY_DAYS = "2"


@dataclass(frozen=True, slots=True)
class CertificateFiles:
    cert: Path
    key: Path


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def _ec_key(path: Path) -> None:
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path)


def make_ca(directory: Path, common_name: str) -> CertificateFiles:
    ca = CertificateFiles(cert=directory / "ca.crt", key=directory / "ca.key")
    _ec_key(ca.key)
    _openssl(
        "req", "-x509", "-new", "-key", ca.key, "-out", ca.cert,
        "-days", VALIDITY_DAYS, "-subj", f"/CN={common_name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return ca


def issue_serving_cert(
    ca: CertificateFiles, directory: Path, name: str, ip_addresses: list[str], dns_names: list[str]
) -> CertificateFiles:
    """A server certificate signed by ``ca`` for the given addresses."""
    issued = CertificateFiles(cert=directory / f"{name}.crt", key=directory / f"{name}.key")
    csr = directory / f"{name}.csr"
    extensions = directory / f"{name}.ext"
    alt_names = [f"IP:{ip}" for ip in ip_addresses] + [f"DNS:{dns}" for dns in dns_names]
    extensions.write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        f"subjectAltName={','.join(alt_names)}\n"
    )
    _ec_key(issued.key)
    _openssl("req", "-new", "-key", issued.key, "-out", csr, "-subj", f"/CN={name}")
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial",
        "-out", issued.cert, "-days", VALIDITY_DAYS, "-extfile", extensions,
    )  # fmt: skip
    return issued


def issue_client_cert(
    ca: CertificateFiles, directory: Path, name: str, common_name: str, organization: str
) -> CertificateFiles:
    """A client certificate signed by ``ca``: the API server maps it to user ``common_name``
    in group ``organization``."""
    issued = CertificateFiles(cert=directory / f"{name}.crt", key=directory / f"{name}.key")
    csr = directory / f"{name}.csr"
    extensions = directory / f"{name}.ext"
    extensions.write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=clientAuth\n"
    )
    _ec_key(issued.key)
    _openssl(
        "req", "-new", "-key", issued.key, "-out", csr,
        "-subj", f"/O={organization}/CN={common_name}",
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial",
        "-out", issued.cert, "-days", VALIDITY_DAYS, "-extfile", extensions,
    )  # fmt: skip
    return issued


def make_signing_key(directory: Path, name: str) -> CertificateFiles:
    """An RSA key pair for signing service account tokens (private key, public key)."""
    pair = CertificateFiles(cert=directory / f"{name}.pub", key=directory / f"{name}.key")
    _openssl("genrsa", "-out", pair.key, "2048")
    _openssl("rsa", "-in", pair.key, "-pubout", "-out", pair.cert)
    return pair
