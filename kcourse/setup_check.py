"""What works on this machine: the simulator always; real builds with kernel headers; the
real-kernel lab with QEMU; the differential tests with kmod and binutils. Each check says
what to install when it is missing. Read-only: it looks, it never installs."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Check:
    feature: str
    ok: bool
    detail: str
    install: str = ""

    def line(self) -> str:
        mark = "✔" if self.ok else "✘"
        tail = f" (install: {self.install})" if not self.ok and self.install else ""
        return f"{mark} {self.feature}: {self.detail}{tail}"


def _tool(feature: str, command: str, package: str) -> Check:
    path = shutil.which(command)
    if path:
        return Check(feature, True, f"{command} found")
    return Check(feature, False, f"{command} not found", f"apt-get install {package}")


def _headers(src: Path = Path("/usr/src")) -> Check:
    found = sorted(p.name for p in src.glob("linux-headers-*-amd64") if (p / "Makefile").exists())
    if found:
        return Check("real module builds", True, ", ".join(found))
    return Check("real module builds", False, "no linux-headers-*-amd64 in /usr/src",
                 "apt-get install linux-headers-amd64 build-essential")


def run_checks() -> list[Check]:
    from kcourse.paths import modules_dir

    course = sorted(p.parent.name for p in modules_dir().glob("*/*.ko"))
    return [
        Check("simulated kernel", bool(course), f"{len(course)} course modules in data/modules"),
        _tool("modinfo/depmod comparisons", "modinfo", "kmod"),
        _tool("objdump comparisons", "objdump", "binutils"),
        _headers(),
        _tool("real-kernel lab (QEMU)", "qemu-system-x86_64",
              "qemu-system-x86 busybox-static"),
    ]


def report() -> str:
    return "\n".join(check.line() for check in run_checks())
