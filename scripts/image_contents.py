"""Print what an OCI image archive holds: its size, its Debian packages and the Python
packages of its virtual environments.

    python3 scripts/image_contents.py build/images/changetrail-api-0.1.0.oci.tar

Reads the archive itself (index, manifest, layers, with whiteouts applied), so it needs no
container runtime and no privileges: `make image` runs it on both images it exports.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import tarfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

DPKG_STATUS = "var/lib/dpkg/status"
DIST_INFO = re.compile(
    r"^(?P<venv>opt/[^/]+)/lib/python[^/]+/site-packages/(?P<name>[^/]+)\.dist-info/"
)
WIDTH = 100


@dataclass
class ImageContents:
    name: str
    archive_bytes: int
    layers_bytes: int = 0
    dpkg_status: bytes = b""
    # venv path -> {dist-info directory name}
    dist_infos: dict[str, set[str]] = field(default_factory=dict)

    def debian_packages(self) -> list[str]:
        packages: list[str] = []
        for stanza in self.dpkg_status.decode(errors="replace").split("\n\n"):
            fields = dict(
                line.split(": ", 1)
                for line in stanza.splitlines()
                if ": " in line and line[0] != " "
            )
            if "install ok installed" in fields.get("Status", "") and "Package" in fields:
                packages.append(f"{fields['Package']} {fields.get('Version', '?')}")
        return sorted(packages)

    def python_packages(self) -> dict[str, list[str]]:
        listed: dict[str, list[str]] = {}
        for venv, names in sorted(self.dist_infos.items()):
            listed["/" + venv] = sorted(" ".join(name.rsplit("-", 1)) for name in names)
        return listed


def _blob(archive: tarfile.TarFile, digest: str) -> IO[bytes]:
    algorithm, _, hexdigest = digest.partition(":")
    member = archive.extractfile(f"blobs/{algorithm}/{hexdigest}")
    assert member is not None, digest
    return member


def _json_blob(archive: tarfile.TarFile, digest: str) -> Any:
    return json.load(_blob(archive, digest))


def _apply_layer(contents: ImageContents, layer: tarfile.TarFile) -> None:
    for member in layer:
        path = member.name.removeprefix("./")
        directory, _, base = path.rpartition("/")
        if base.startswith(".wh."):
            hidden = f"{directory}/{base.removeprefix('.wh.')}".lstrip("/")
            if hidden == DPKG_STATUS:
                contents.dpkg_status = b""
            for names in contents.dist_infos.values():
                names.discard(Path(hidden).name.removesuffix(".dist-info"))
            continue
        if path == DPKG_STATUS and member.isfile():
            extracted = layer.extractfile(member)
            assert extracted is not None
            contents.dpkg_status = extracted.read()
        elif match := DIST_INFO.match(path + ("/" if member.isdir() else "")):
            contents.dist_infos.setdefault(match["venv"], set()).add(match["name"])


def read(path: Path) -> ImageContents:
    with tarfile.open(path) as archive:
        index = json.load(archive.extractfile("index.json") or io.BytesIO(b"{}"))
        (descriptor,) = index["manifests"]
        name = descriptor.get("annotations", {}).get("org.opencontainers.image.ref.name", "?")
        contents = ImageContents(name=name, archive_bytes=path.stat().st_size)
        manifest = _json_blob(archive, descriptor["digest"])
        for layer_descriptor in manifest["layers"]:
            raw = _blob(archive, layer_descriptor["digest"]).read()
            data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
            contents.layers_bytes += len(data)
            with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                _apply_layer(contents, layer)
    return contents


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def _wrapped(items: list[str]) -> str:
    return textwrap.fill(", ".join(items), WIDTH - 4, break_on_hyphens=False)


def report(contents: ImageContents, path: Path) -> str:
    debian = contents.debian_packages()
    lines = [
        f"{contents.name}: {_megabytes(contents.layers_bytes)} unpacked, "
        f"{_megabytes(contents.archive_bytes)} as the OCI archive {path}",
        f"  Debian packages ({len(debian)}):",
        textwrap.indent(_wrapped(debian), "    "),
    ]
    for venv, packages in contents.python_packages().items():
        lines += [
            f"  Python packages in {venv} ({len(packages)}):",
            textwrap.indent(_wrapped(packages), "    "),
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archives", nargs="+", type=Path)
    for path in parser.parse_args(argv).archives:
        print(report(read(path), path))


if __name__ == "__main__":
    main()
