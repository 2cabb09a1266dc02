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
    """Real builds need the pinned release's headers, not whichever ABI apt offers now."""
    from kcourse import pin

    package = pin.headers_package()
    if (src / package / "Makefile").exists():
        return Check("real module builds", True, f"{src / package}")
    return Check("real module builds", False, f"{package} is not installed",
                 f"apt-get install {package} build-essential")


def _lab_image() -> Check:
    """The lab's kernel: pin.image_package() unpacked into the cache by `kcourse lab-prepare`."""
    from kcourse import pin
    from kcourse.lab.prepare import lab_dir

    release = pin.release()
    if (lab_dir(release) / "vmlinux").exists():
        return Check("real-kernel lab image", True, f"{pin.image_package()} prepared")
    return Check("real-kernel lab image", False, f"{pin.image_package()} not prepared yet",
                 "qemu-system-x86 busybox-static, then kcourse lab-prepare")


def _debian_tree() -> Check:
    """Debian's module tree for `kcourse sim --debian` (the pinned image package, cached)."""
    from kcourse import pin
    from kcourse.debian import cached_image_modules_dir

    if cached_image_modules_dir() is not None:
        return Check("Debian module tree (sim --debian)", True, f"{pin.image_package()} cached")
    return Check("Debian module tree (sim --debian)", False,
                 f"{pin.image_package()} not in the cache", "kcourse lab-prepare --modules-only")


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
        _lab_image(),
        _debian_tree(),
    ]


def report(drift: bool = True) -> str:
    """The pinned release, then one line per part. drift=True also asks apt whether Debian
    has moved on (a maintainer's notice: it changes nothing)."""
    from kcourse import pin

    lines = [f"course kernel: {pin.release()} (Debian {pin.debian_version()}, pinned in "
             "data/kernel/pin.env)"]
    lines += [check.line() for check in run_checks()]
    newer = pin.drift() if drift else None
    if newer:
        lines.append(f"note for maintainers: Debian now offers {newer}; the course stays on "
                     f"{pin.release()} until {pin.MOVE_COMMAND} moves it")
    return "\n".join(lines)
