"""The course kernel: one pinned Debian release, defined in data/kernel/pin.env.

Debian's `linux-headers-amd64` meta-package moves to a new ABI every few weeks (6.1.0-56 ->
6.1.0-57 in November 2026), while the committed .ko files, data/kernel, the real-kernel
transcripts and the lessons are all for one release. So kcourse never asks apt which ABI is
current (except `drift()`, which only informs a maintainer): every consumer asks this module,
and every package is named in full (`linux-headers-6.1.0-56-amd64`), which Debian's archive
keeps after a move. `scripts/move-kernel.sh 6.1.0-NN` moves the pin.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache

from kcourse.paths import kernel_data_dir

MOVE_COMMAND = "scripts/move-kernel.sh 6.1.0-NN"


@cache
def _values() -> dict[str, str]:
    values = {}
    for line in (kernel_data_dir() / "pin.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def abi() -> str:
    """'6.1.0-56': the release without its flavour."""
    return _values()["KCOURSE_ABI"]


def debian_version() -> str:
    """'6.1.192-2': the Debian version of the pinned packages (and of linux-source-6.1)."""
    return _values()["KCOURSE_DEBIAN_VERSION"]


def release(flavour: str = "amd64") -> str:
    """'6.1.0-56-amd64' (what `uname -r` prints on the course kernel)."""
    return f"{abi()}-{flavour}"


def headers_package(flavour: str = "amd64") -> str:
    return f"linux-headers-{release(flavour)}"


def image_package(flavour: str = "amd64") -> str:
    """Debian's signed kernel image (vmlinuz and the signed module tree, as installed)."""
    return f"linux-image-{release(flavour)}"


def build_packages(flavour: str = "amd64") -> tuple[str, ...]:
    """What real kbuild needs: the flavour's headers, the -common headers, the kbuild tools."""
    major_minor = ".".join(abi().split(".")[:2])
    return (headers_package(flavour), f"linux-headers-{abi()}-common",
            f"linux-kbuild-{major_minor}")


def gone_message(package: str) -> str:
    """The one line for a pinned package that apt no longer has."""
    return (f"apt has no {package}, the course kernel's package (pinned to {release()}): "
            f"run apt-get update; if it is gone from Debian's archive, a maintainer moves the "
            f"pin with {MOVE_COMMAND}")


def drift(flavour: str = "amd64") -> str | None:
    """The newer release apt's `linux-headers-<flavour>` points at, or None.

    For maintainers only: nothing else asks apt which ABI is current. None also when apt is
    missing or does not know the meta-package.
    """
    if shutil.which("apt-cache") is None:
        return None
    try:
        out = subprocess.run(["apt-cache", "depends", f"linux-headers-{flavour}"],
                             capture_output=True, text=True, timeout=60, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"Depends: linux-headers-(\d+\.\d+\.\d+-(\d+)-" + re.escape(flavour) + ")$",
                      out, re.MULTILINE)
    if not match or int(match.group(2)) <= int(abi().rsplit("-", 1)[1]):
        return None
    return match.group(1)
