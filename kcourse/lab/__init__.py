"""The real-kernel lab: the same shell lines on Debian's own kernel, booted under QEMU.

`prepare_lab()` fetches and caches what the guest needs (kcourse.lab.prepare.prepare); `RealKernel`
runs a script in a fresh guest and returns kcourse.backend.CommandResult, like the simulator
(kcourse.lab.runner); kcourse.lab.session.RealShell keeps one guest up between calls (behind
`%%kshell --real`; kcourse.lab.live has the guest). `available()` says whether this machine
can run it at all.
"""

from __future__ import annotations

import os
import shutil


def qemu_binary() -> str:
    """The QEMU program to run: $KCOURSE_QEMU if set (a path or a name), else the usual one."""
    return os.environ.get("KCOURSE_QEMU") or "qemu-system-x86_64"


def available() -> bool:
    """True when QEMU is installed (the rest is fetched and cached on first use)."""
    return shutil.which(qemu_binary()) is not None


def __getattr__(name: str):
    # Lazy: `import kcourse.lab` stays light for notebooks that only ask available().
    if name in ("RealKernel", "GuestError"):
        from kcourse.lab import runner

        return getattr(runner, name)
    if name in ("prepare_lab", "Lab"):
        # kcourse.lab.prepare is the module; its function is exposed as prepare_lab.
        from kcourse.lab.prepare import Lab, prepare

        return {"prepare_lab": prepare, "Lab": Lab}[name]
    raise AttributeError(name)
