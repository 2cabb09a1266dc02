"""The real-kernel lab: the same shell lines on Debian's own kernel, booted under QEMU.

`prepare()` fetches and caches what the guest needs (kcourse.lab.prepare); `RealKernel`
runs a script in a fresh guest and returns kcourse.backend.CommandResult, like the simulator
(kcourse.lab.runner). `available()` says whether this machine can run it at all.
"""

from __future__ import annotations

import shutil


def available() -> bool:
    """True when QEMU is installed (the rest is fetched and cached on first use)."""
    return shutil.which("qemu-system-x86_64") is not None


def __getattr__(name: str):
    # Lazy: `import kcourse.lab` stays light for notebooks that only ask available().
    if name in ("RealKernel", "GuestError"):
        from kcourse.lab import runner

        return getattr(runner, name)
    if name in ("prepare", "Lab"):
        from kcourse.lab import prepare as module

        return getattr(module, name)
    raise AttributeError(name)
