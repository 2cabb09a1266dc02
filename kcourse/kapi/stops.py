"""Functions and variables declared "stops when called" / "stops when touched".

A Debian module links kernel functions it calls only from a path the simulator cannot start
(a device's packet path, a mounted file system, a disk given a size). Declared here, they let
the module load and run its init and exit; a call to one stops the module with one line
naming it and the call site (kcourse.kapi.vfsfile.limit), and docs/kapi.md marks it. Each
*_stops.py file says why its functions cannot be reached here.
"""

from __future__ import annotations

from kcourse.kapi.registry import data, function
from kcourse.kapi.vfsfile import limit


def name_of(prototype: str) -> str:
    """The function's name in its C prototype."""
    return prototype.split("(")[0].split()[-1].lstrip("*")


def stop(name: str, why: str, said: str, owner: str):
    """The impl of a function that stops when called: `kcourse: <site> calls NAME()<said>`.
    `why` is docs/kapi.md's note; `owner` the kapi file that declares it (its column)."""
    def impl(call, *_args):
        raise limit(f"kcourse: {call.site} calls {name}(){said}")
    impl.stops = why
    impl.__module__ = owner
    return impl


def unmodelled(reason: str) -> str:
    """The usual tail of a stop's line: `, which the simulator does not model (REASON)`."""
    return f", which the simulator does not model ({reason})"


def declare(table, why: str, said: str, owner: str) -> None:
    """Declare each (prototype, kernel file) of `table` as a function that stops when called."""
    for prototype, source in table:
        function(prototype, source)(stop(name_of(prototype), why, said, owner))


def untouched(why: str, owner: str):
    """The init of a variable declared "stops when touched": the machine gives it an
    unmapped page, so a read or write stops with one line naming it (kcourse.machine)."""
    def init(machine, address):
        raise AssertionError("a variable that stops when touched is never laid out")
    init.stops = why
    init.__module__ = owner
    return init


def declare_untouched(table, why: str, owner: str, size: int = 8) -> None:
    """Declare each (declaration, kernel file) of `table` as a variable that stops when
    touched."""
    for declaration, source in table:
        data(declaration, source, size)(untouched(why, owner))
