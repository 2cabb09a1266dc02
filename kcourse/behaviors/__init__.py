"""Behaviors: Python stand-ins for a module's code, which a test may hand the Kernel.

Every module runs its own machine code (kcourse.machine): the course's, a learner's, LKMPG's,
and Debian's own when every kernel function it calls is modelled (kcourse.kapi), which
includes every Debian module the lessons load (tests/test_debian_modules.py). Any other
Debian module has an init that returns 0, and the shell says so in one `kcourse: note:`
line (Kernel.take_notes); the netfilter modules of the softdep scenario (xt_TRACE, xt_NFLOG
and what their softdeps load) are such modules. A test may still hand the Kernel a
behavior for a module (`Kernel(behaviors={"hello": ...})`), to provoke what no real module
does on request.

Protocol: `init(ctx) -> int` (0 or -errno), `exit(ctx)`, and for modules with a device
`open(ctx) -> int`, `release(ctx)`, `read(ctx) -> str`, `write(ctx, text) -> int`.
ctx is a kcourse.kernel.context.ModuleContext.
"""

from __future__ import annotations

from kcourse.behaviors.base import Behavior

__all__ = ["Behavior"]
