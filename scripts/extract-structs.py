#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Regenerate data/kernel/structs.json: the pinned kernel's struct layouts and enum values
(from the BTF in Debian's vmlinux, read with pahole) and its exported data symbols (from
vmlinux's __ksymtab), with their provenance. See data/kernel/README.md.

Usage: scripts/extract-structs.py [VMLINUX]
  VMLINUX defaults to the lab's vmlinux for the pinned release (data/kernel/pin.env),
  unpacked from linux-image-<release>'s vmlinuz into ~/.cache/kcourse/lab/<release>/
  (apt-get download, no root) if it is not there yet.
Needs pahole (apt-get install dwarves). Run from a checkout: it uses the checkout's kcourse.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's kcourse

from kcourse import pin  # noqa: E402
from kcourse.build.kernel_layouts import dumps, extract, output_path  # noqa: E402
from kcourse.errors import KcourseError  # noqa: E402


def main(argv: list[str]) -> int:
    from kcourse.debian import package_dir
    from kcourse.lab.prepare import kernel_image

    if len(argv) > 1:
        print("usage: scripts/extract-structs.py [VMLINUX]", file=sys.stderr)
        return 2
    release = pin.release()
    vmlinuz = None
    try:
        if argv:
            vmlinux = Path(argv[0])
        else:
            vmlinux = kernel_image(release, lambda message: print(message, file=sys.stderr))
            vmlinuz = package_dir(pin.image_package()) / "boot" / f"vmlinuz-{release}"
        data = extract(vmlinux, pin.image_package(), vmlinuz)
    except KcourseError as err:
        print(f"extract-structs: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"extract-structs: cannot read {err.filename}: {err.strerror}", file=sys.stderr)
        return 1
    got = (data["provenance"]["release"], data["provenance"]["package_version"])
    if got != (release, pin.debian_version()):
        print(f"extract-structs: {vmlinux} is {got[0]} {got[1]}, the pin is {release} "
              f"{pin.debian_version()}", file=sys.stderr)
        return 1
    target = output_path()
    target.write_text(dumps(data))
    print(f"{target}: {len(data['structs'])} types, {len(data['enums'])} enums, "
          f"{len(data['symbols'])} data symbols, from {release} ({got[1]}), "
          f"pahole {data['provenance']['pahole']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
