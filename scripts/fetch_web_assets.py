#!/usr/bin/env python3
"""Install the dispatcher page's map library (Leaflet) from the npm registry into web/static.

    python scripts/fetch_web_assets.py        # run by scripts/setup.sh when it is missing

The package's tarball is checked against the registry's published SHA-512 before anything is
unpacked, and only its ``dist`` folder is kept, so the page is served with no CDN.
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE, VERSION = "leaflet", "1.9.4"
INTEGRITY = (  # the registry's "dist.integrity" of this version
    "sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA=="
)
TARGET = ROOT / "web" / "static" / "vendor" / PACKAGE


def main() -> None:
    if (TARGET / "leaflet.js").exists():
        return
    url = f"https://registry.npmjs.org/{PACKAGE}/-/{PACKAGE}-{VERSION}.tgz"
    print(f"==> fetching {PACKAGE} {VERSION} from the npm registry")
    with urllib.request.urlopen(url, timeout=60) as response:
        tarball = response.read()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if digest != INTEGRITY:
        sys.exit(f"{url}: integrity mismatch ({digest}); nothing installed")
    partial = TARGET.with_name(f"{PACKAGE}.partial")
    partial.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member in archive.getmembers():
            if member.isfile() and member.name.startswith("package/dist/"):
                member.name = member.name.removeprefix("package/dist/")
                archive.extract(member, partial, filter="data")
        license_file = archive.extractfile("package/LICENSE")
        if license_file is not None:
            (partial / "LICENSE").write_bytes(license_file.read())
    partial.replace(TARGET)


if __name__ == "__main__":
    main()
