"""A real Debian kernel image for the lesson, with a committed snapshot for offline use.

The lesson shows the boot header of Debian's own vmlinuz. A learner without network has no
image, so data/build/bzimage-amd64.json keeps what `describe()` printed for it; when the
image is in kcourse's cache (fetched by a test or by `python -m kcourse.build.realimage`),
the lesson reads the real file instead, and tests/test_bzimage_real.py checks that both agree.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from kcourse.build.bzimage import BzImage, describe, read_bzimage
from kcourse.paths import cache_dir, data_dir

FIXTURE_NAME = "bzimage-amd64.json"


def fixture_path(name: str = FIXTURE_NAME) -> Path:
    return data_dir() / "build" / name


def cached_image(release: str) -> Path | None:
    """/boot/vmlinuz-<release> of linux-image-<release> if kcourse.debian already fetched it."""
    path = cache_dir() / "debian" / f"linux-image-{release}" / "boot" / f"vmlinuz-{release}"
    return path if path.is_file() else None


def snapshot(image: BzImage, release: str) -> dict:
    """The facts about a real image that the lesson shows (all JSON-serialisable)."""
    header = asdict(image.header)
    header["header"] = image.header.header.decode("ascii")
    return {
        "package": f"linux-image-{release}",
        "file": f"boot/vmlinuz-{release}",
        "release": release,
        "size": image.size,
        "header": header,
        "compression": image.compression,
        "payload_head": image.payload[:8].hex(),
        "uncompressed_size": image.uncompressed_size,
        "describe": describe(image, decompress=True),
    }


def load_fixture(name: str = FIXTURE_NAME) -> dict:
    return json.loads(fixture_path(name).read_text())


def lesson_lines(name: str = FIXTURE_NAME) -> list[str]:
    """What the lesson prints: read from the cached real image when present, else the snapshot.

    Both give the same lines (the test suite holds them equal), so the notebook's stored
    output does not depend on the machine it runs on.
    """
    fixture = load_fixture(name)
    path = cached_image(fixture["release"])
    if path is None:
        return list(fixture["describe"])
    return describe(read_bzimage(path), decompress=True)


def main(argv: list[str] | None = None) -> int:
    """Regenerate data/build/bzimage-amd64.json from the pinned linux-image (network)."""
    from kcourse import pin
    from kcourse.debian import fetch_package

    release = pin.release("amd64")
    root = fetch_package(pin.image_package("amd64"))
    image = read_bzimage(root / "boot" / f"vmlinuz-{release}")
    target = fixture_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(snapshot(image, release), indent=1) + "\n")
    print(f"wrote {target.relative_to(data_dir())}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
