"""The pinned kernel's struct layouts, enum values and data symbols, from data/kernel/structs.json.

    >>> offsetof("task_struct", "pid"), offsetof("struct task_struct", "comm")
    (2416, 2976)
    >>> sizeof("miscdevice"), offsetof("miscdevice", "fops")
    (80, 16)
    >>> members("file_operations")[:3]
    [('owner', 0, 8), ('llseek', 8, 8), ('read', 16, 8)]
    >>> hex(symbol("current_task")), symbol_section("current_task")
    ('0x1fb80', '.data..percpu')

The file is written by kcourse.build.kernel_layouts from the BTF in Debian's vmlinux (pahole)
and the kernel's export table; see data/kernel/README.md. It is read once, on first use.
Members of anonymous structs and unions are the struct's own members, as in C
(`offsetof("inode", "i_nlink")`); a dotted name walks into a member's struct type
(`offsetof("task_struct", "thread_info.flags")`) or names a field of a member of anonymous
type (`"d_u.d_alias"` in struct dentry). A name the file does not hold raises LayoutError,
a ValueError with one line naming it.
"""

from __future__ import annotations

import json
from functools import cache
from typing import NamedTuple

from kcourse.errors import KcourseError

PERCPU_SECTION = ".data..percpu"
REGENERATE = "add it to kcourse/build/kernel_layouts.py and run scripts/extract-structs.py"


class LayoutError(KcourseError, ValueError):
    """A struct, member, enum or symbol that data/kernel/structs.json does not hold."""


class Member(NamedTuple):
    name: str
    offset: int
    size: int
    type: str
    bit_offset: int | None = None  # bit fields only
    bits: int | None = None


class _Tables(NamedTuple):
    release: str
    structs: dict[str, dict]  # name -> {"kind", "size", "members": {name: Member}} | typedef
    not_in_btf: dict[str, str]
    enums: dict[str, dict[str, int]]
    enumerators: dict[str, int]
    symbols: dict[str, tuple[int, str, str]]
    provenance: dict


@cache
def _load(path: str) -> _Tables:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as err:
        raise LayoutError(f"cannot read the kernel's struct layouts from {path}: {err}") from None
    structs = {}
    for name, entry in data["structs"].items():
        if "members" in entry:
            entry = dict(entry, members={m[0]: Member(*m) for m in entry["members"]})
        structs[name] = entry
    enumerators = {k: v for values in data["enums"].values() for k, v in values.items()}
    symbols = {name: (int(address, 16), section, export)
               for name, (address, section, export) in data["symbols"].items()}
    return _Tables(data["provenance"]["release"], structs, data["not_in_btf"], data["enums"],
                   enumerators, symbols, data["provenance"])


@cache
def _tables() -> _Tables:
    """The file, parsed on first use and kept: the emulator asks for offsets in hot paths."""
    from kcourse.paths import kernel_data_dir

    return _load(str(kernel_data_dir() / "structs.json"))


def _struct(name: str) -> tuple[str, dict]:
    """(name, entry) of a struct, union or typedef, following typedefs to what they name."""
    tables = _tables()
    key = name.removeprefix("struct ").removeprefix("union ").strip()
    seen = []
    while key in tables.structs and "typedef" in tables.structs[key]:
        seen.append(key)
        key = tables.structs[key]["typedef"].removeprefix("struct ").removeprefix("union ")
        if key in seen:
            break
    if key in tables.structs:
        return key, tables.structs[key]
    if key in tables.not_in_btf:
        raise LayoutError(f"struct {key} is not in {tables.release}'s BTF: "
                          f"{tables.not_in_btf[key]}")
    raise LayoutError(f"struct {key} is not among the layouts of {tables.release} in "
                      f"data/kernel/structs.json ({REGENERATE})")


def sizeof(struct: str) -> int:
    """sizeof(struct NAME) on the pinned kernel, in bytes."""
    return _struct(struct)[1]["size"]


@cache
def member(struct: str, name: str) -> Member:
    """One member, with its type and, for a bit field, its bits; a dotted name walks in."""
    key, entry = _struct(struct)
    found = entry["members"].get(name)
    if found is not None:
        return found
    head, dot, rest = name.partition(".")
    outer = entry["members"].get(head)
    if dot and outer is not None and outer.type.startswith(("struct ", "union ")) \
            and not outer.type.endswith(("*", "]", "{...}")):
        try:
            inner = member(outer.type, rest)
        except LayoutError as err:
            raise LayoutError(f"struct {key} member {head}: {err}") from None
        return inner._replace(name=name, offset=outer.offset + inner.offset)
    raise LayoutError(f"struct {key} has no member {name!r} in {_tables().release}'s BTF")


def offsetof(struct: str, name: str) -> int:
    """offsetof(struct NAME, member) on the pinned kernel, in bytes."""
    found = member(struct, name)
    return found.offset


def members(struct: str) -> list[tuple[str, int, int]]:
    """(name, offset, size) of every member, in declaration order (bit fields included)."""
    return [(m.name, m.offset, m.size) for m in _struct(struct)[1]["members"].values()]


def enum(name: str) -> dict[str, int]:
    """The enumerators of `enum NAME` and their values."""
    key = name.removeprefix("enum ").strip()
    tables = _tables()
    if key not in tables.enums:
        raise LayoutError(f"enum {key} is not in data/kernel/structs.json ({REGENERATE})")
    return dict(tables.enums[key])


def enumerator(name: str) -> int:
    """The value of one enumerator, e.g. enumerator('KMALLOC_DMA')."""
    tables = _tables()
    if name not in tables.enumerators:
        raise LayoutError(f"no enumerator {name} among the enums of data/kernel/structs.json "
                          f"({REGENERATE})")
    return tables.enumerators[name]


def _symbol(name: str) -> tuple[int, str, str]:
    tables = _tables()
    if name not in tables.symbols:
        raise LayoutError(f"{name} is not an exported data symbol of {tables.release} "
                          "(data/kernel/structs.json holds every export outside .text)")
    return tables.symbols[name]


def symbol(name: str) -> int:
    """The address of an exported data symbol; for a per-CPU variable, its per-CPU offset."""
    return _symbol(name)[0]


def is_data_symbol(name: str) -> bool:
    """Whether vmlinux exports `name` outside .text (a variable, not a function)."""
    return name in _tables().symbols


def symbol_section(name: str) -> str:
    """The vmlinux section an exported data symbol is in ('.data..percpu' for per-CPU ones)."""
    return _symbol(name)[1]


def percpu_symbols() -> dict[str, int]:
    """name -> per-CPU offset of every exported per-CPU variable (current_task, ...)."""
    return {name: address for name, (address, section, _) in _tables().symbols.items()
            if section == PERCPU_SECTION}


def provenance() -> dict:
    """Where the file came from: package, version, vmlinux sha256, pahole version, command."""
    return dict(_tables().provenance)
