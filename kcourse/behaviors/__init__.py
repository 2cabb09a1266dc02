"""Behaviors: what each course module's code does when the simulated kernel runs it.

The simulator cannot execute x86 code, so the loader's bookkeeping comes from the real .ko
and the effect of init/exit/file operations from a small Python object per course module,
looked up by module name. Each behavior's printk lines are those of its C source in
data/modules/<name>/<name>.c (every source lists them under "Prints:"); the few Debian
modules the course loads (kcourse.behaviors.debian) print what Debian's 6.1 source prints.
A module without a behavior (any other distribution module) has init return 0 and print
nothing.

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
    # registers the course modules, and the Debian modules the course loads
    from kcourse.behaviors import course, debian  # noqa: F401


__all__ = ["Behavior", "lookup", "names", "register"]
