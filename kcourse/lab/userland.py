"""The guest's user space: Debian's own bash, coreutils, util-linux and kmod, plus busybox.

The lab promises what a root shell on Debian 12 prints, so the commands a learner types run
the same programs as on Debian: bash (its error messages: `bash: ...: Permission denied`),
coreutils' `cat`/`ls`, util-linux's `dmesg`, and kmod's insmod/rmmod/lsmod/modprobe/modinfo.
They are copied from this (Debian) host together with the shared libraries `ldd` names, to
the same paths, under the same merged-/usr layout (/bin -> usr/bin, ...). busybox-static
supplies /init's own needs (mount, poweroff) and a fallback for any other command; it is
installed as /usr/lib/kcourse/busybox with its applets linked in /usr/lib/kcourse/bin, last
in PATH. busybox's own insmod/lsmod are never used: its ash prefers its applets to PATH.

Nothing here runs a program in the guest or touches the host kernel: it only reads files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from kcourse.errors import KcourseError

# Programs the lab copies from the host when present. bash and kmod are required.
PROGRAMS = (
    "bash", "cat", "ls", "head", "tail", "wc", "sort", "uniq", "cut", "tr", "grep", "sed",
    "awk", "stat", "sleep", "mkdir", "cp", "mv", "rm", "ln", "chmod", "touch", "uname", "dd",
    "od", "base64", "find", "xargs", "readlink", "realpath", "true", "false", "env", "tee",
    "dmesg", "mount", "umount", "kmod",
)  # fmt: skip
REQUIRED = ("bash", "kmod")
# Debian 12's kmod links (`ls -l /usr/sbin/insmod /usr/bin/lsmod`): kmod picks the tool by
# argv[0] (tools/kmod.c: main).
KMOD_LINKS = {
    "usr/bin/lsmod": "kmod",
    "usr/sbin/insmod": "/bin/kmod",
    "usr/sbin/rmmod": "/bin/kmod",
    "usr/sbin/lsmod": "/bin/kmod",
    "usr/sbin/modprobe": "/bin/kmod",
    "usr/sbin/modinfo": "/bin/kmod",
    "usr/sbin/depmod": "/bin/kmod",
}
MERGED_USR = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"}
BUSYBOX = "usr/lib/kcourse/busybox"
BUSYBOX_BIN = "usr/lib/kcourse/bin"
APT_HINT = "apt-get install -y --no-install-recommends qemu-system-x86 busybox-static kmod"


def guest_path(host_path: str) -> str:
    """Where a host file goes in the guest: its real directory (merged /usr), no leading '/'."""
    directory, name = os.path.split(host_path)
    return os.path.join(os.path.realpath(directory), name).lstrip("/")


_LDD_PATH = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)")


def parse_ldd(text: str) -> list[str]:
    """The library paths in `ldd` output (the loader included, linux-vdso left out)."""
    return [m.group(1) for m in map(_LDD_PATH.search, text.splitlines()) if m]


def shared_libraries(binary: str) -> list[str]:
    """What `ldd` says `binary` loads; [] for a static binary."""
    proc = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False)
    return parse_ldd(proc.stdout) if proc.returncode == 0 else []


def find_busybox() -> str:
    path = shutil.which("busybox") or ("/bin/busybox" if Path("/bin/busybox").exists() else None)
    if path is None:
        raise KcourseError(f"busybox is not installed (the lab's /init needs it): {APT_HINT}")
    return path


def busybox_applets(busybox: str) -> list[str]:
    proc = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=False)
    # No `busybox` link to itself: the kernel then fails with "Failed to execute /init
    # (error -40)" (ELOOP; ../shared/notes/real-kernel-lab.md).
    return [a for a in proc.stdout.split() if a and a != "busybox" and "/" not in a]


def install(root: Path) -> dict[str, str]:
    """Copy the user space into `root`; return {program: host path} of what was copied."""
    for name, target in MERGED_USR.items():
        (root / target).mkdir(parents=True, exist_ok=True)
        (root / name).symlink_to(target)
    copied: dict[str, str] = {}
    libraries: set[str] = set()
    for program in PROGRAMS:
        host = shutil.which(program, path="/usr/sbin:/usr/bin:/sbin:/bin")
        if host is None:
            if program in REQUIRED:
                raise KcourseError(f"{program} is not installed on this machine: {APT_HINT}")
            continue
        target = root / guest_path(host)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(os.path.realpath(host), target)
        target.chmod(0o755)
        copied[program] = host
        libraries.update(shared_libraries(host))
    for lib in sorted(libraries):
        target = root / guest_path(lib)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(os.path.realpath(lib), target)
        target.chmod(0o755)
    if guest_path(copied["kmod"]) != "usr/bin/kmod":
        raise KcourseError(f"kmod is at {copied['kmod']}, not /usr/bin/kmod as on Debian")
    for link, target in KMOD_LINKS.items():
        (root / link).parent.mkdir(parents=True, exist_ok=True)
        (root / link).symlink_to(target)
    busybox = find_busybox()
    (root / BUSYBOX).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(os.path.realpath(busybox), root / BUSYBOX)
    (root / BUSYBOX).chmod(0o755)
    (root / BUSYBOX_BIN).mkdir(parents=True, exist_ok=True)
    for applet in busybox_applets(busybox):
        (root / BUSYBOX_BIN / applet).symlink_to("../busybox")
    copied["busybox"] = busybox
    return copied
