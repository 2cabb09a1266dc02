"""Behaviors: Python stand-ins for module code that the emulated CPU does not run yet.

Every module built out of the kernel tree (the course's, a learner's, LKMPG's) runs its own
machine code (kcourse.machine). Debian's own modules call far more of the kernel than
kcourse.kapi models so far, so the few the lessons and scenarios load still have a behavior
here (kcourse.behaviors.debian: what Debian's 6.1 source prints), and any other Debian module
has init return 0 and print nothing. A test may hand the Kernel a behavior for a module.

Protocol: `init(ctx) -> int` (0 or -errno), `exit(ctx)`, and for modules with a device
`open(ctx) -> int`, `release(ctx)`, `read(ctx) -> str`, `write(ctx, text) -> int`.
ctx is a kcourse.kernel.context.ModuleContext.
"""

from __future__ import annotations

from kcourse.behaviors.base import Behavior

_REGISTRY: dict[str, type[Behavior]] = {}


def register(name: str):
    """Class decorator: the behavior of the module called `name`."""

    def wrap(cls: type[Behavior]) -> type[Behavior]:
        _REGISTRY[name] = cls
        cls.module_name = name
        return cls

    return wrap


def lookup(name: str) -> Behavior | None:
    """A fresh behavior for a module name (one per load), or None for the default."""
    _load_all()
    cls = _REGISTRY.get(name)
    return cls() if cls is not None else None


def names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def _load_all() -> None:
    # registers the Debian modules the course loads
    from kcourse.behaviors import debian  # noqa: F401


__all__ = ["Behavior", "lookup", "names", "register"]
