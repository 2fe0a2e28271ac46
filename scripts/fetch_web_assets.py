#!/usr/bin/env python3
"""Install the pages' browser libraries from the npm registry into web/static/vendor.

    python scripts/fetch_web_assets.py        # run by scripts/setup.sh; skips what is there

Leaflet draws both maps; axe-core is only loaded by the accessibility tests. Each package's
tarball is checked against the registry's published SHA-512 before anything is unpacked, and
only the files the pages use are kept (with the licence), so nothing is served from a CDN.
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "web" / "static" / "vendor"


@dataclass(frozen=True, slots=True)
class Package:
    name: str
    version: str
    integrity: str  # the registry's "dist.integrity" of this version
    keep: str  # the part of the tarball to install: a folder (ending in /) or one file
    marker: str  # a file whose presence means the package is installed


PACKAGES = (
    Package("leaflet", "1.9.4",
            "sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA==",
            "package/dist/", "leaflet.js"),
    Package("axe-core", "4.14.1",
            "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==",
            "package/axe.min.js", "axe.min.js"),
)  # fmt: skip


def install(package: Package) -> None:
    target = VENDOR / package.name
    if (target / package.marker).exists():
        return
    url = f"https://registry.npmjs.org/{package.name}/-/{package.name}-{package.version}.tgz"
    print(f"==> fetching {package.name} {package.version} from the npm registry")
    with urllib.request.urlopen(url, timeout=60) as response:
        tarball = response.read()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if digest != package.integrity:
        sys.exit(f"{url}: integrity mismatch ({digest}); nothing installed")
    partial = target.with_name(f"{package.name}.partial")
    partial.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            if package.keep.endswith("/") and member.name.startswith(package.keep):
                member.name = member.name.removeprefix(package.keep)
            elif member.name == package.keep:
                member.name = Path(package.keep).name
            else:
                continue
            archive.extract(member, partial, filter="data")
        names = archive.getnames()
        licence = next((n for n in ("package/LICENSE", "package/LICENSE.txt") if n in names), None)
        licence_file = archive.extractfile(licence) if licence else None
        if licence_file is not None:
            (partial / "LICENSE").write_bytes(licence_file.read())
    if target.exists():  # an earlier, incomplete install
        for old in sorted(target.rglob("*"), reverse=True):
            old.unlink() if old.is_file() else old.rmdir()
        target.rmdir()
    partial.replace(target)


def main() -> None:
    for package in PACKAGES:
        install(package)


if __name__ == "__main__":
    main()
