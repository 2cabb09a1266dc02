"""Struct layouts and enum values of a kernel, as pahole reads them from its BTF.

pahole (Debian package dwarves) prints a type as C with a `/* offset size */` comment after
each member (`/* offset: bit_offset size */` for a bit field). Members of anonymous structs
and unions are printed inside their block with offsets from the start of the outer struct,
the way C's offsetof() sees them; a member whose type is an anonymous struct (`struct {...}
name;`) has its fields recorded as `name.field`. Every line of pahole's output is matched
by one of the patterns below or the parse stops: a new pahole that prints something else
fails loudly instead of being read wrong. The member count and size in pahole's own
`/* size: N, ..., members: M */` summary are checked against what was parsed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from kcourse.errors import KcourseError


class PaholeError(KcourseError):
    """pahole is missing, failed, or printed something this parser does not know."""


@dataclass(frozen=True)
class Member:
    name: str  # `field`, or `outer.field` inside a named member of anonymous type
    offset: int  # bytes from the start of the struct
    size: int  # bytes (for a bit field: the size of its storage unit)
    type: str  # C type as pahole spells it, whitespace normalised ('char[16]', 'int (*)(void)')
    bit_offset: int | None = None  # bit fields only: first bit within the unit at `offset`
    bits: int | None = None  # bit fields only: width


@dataclass
class Layout:
    name: str
    kind: str  # 'struct', 'union', 'typedef struct' (`typedef struct {...} atomic_t;`), 'typedef'
    size: int = 0
    members: list[Member] = field(default_factory=list)
    alias_of: str | None = None  # `typedef struct spinlock spinlock_t;`: 'struct spinlock'


_OFFSET = r"/\*\s*(?P<off>\d+)(?::\s*(?P<bit>\d+))?\s+(?P<size>\d+)\s*\*/"
MEMBER = re.compile(r"^(?P<decl>[^/{}]*?);\s*" + _OFFSET + r"$")
BLOCK_OPEN = re.compile(r"^(?P<kind>struct|union)\s*\{$")
BLOCK_CLOSE = re.compile(r"^\}\s*(?P<decl>[^;]*?)\s*;\s*" + _OFFSET + r"$")
TOP_OPEN = re.compile(r"^(?P<typedef>typedef )?(?P<kind>struct|union|enum)\s*(?P<name>\w*)\s*\{$")
TOP_CLOSE = re.compile(r"^\}\s*(?P<name>\w*)\s*(?:__attribute__\(\(.*\)\))?\s*;$")
ALIAS = re.compile(r"^typedef (?P<target>[\w ]+?) (?P<name>\w+);$")
SUMMARY = re.compile(r"^/\* size: (?P<size>\d+), cachelines: \d+, members: (?P<members>\d+) \*/$")
ENUMERATOR = re.compile(r"^(?P<name>\w+)\s*=\s*(?P<value>-?\d+),$")
# Lines that carry no layout: pahole's hole and cacheline notes, other summary lines, and
# unnamed padding bit fields such as `unsigned int :0;` (pahole: "Force alignment").
IGNORED = re.compile(r"^(/\*.*\*/|[\w\s]+:\d+;|)$")
FUNCTION_POINTER = re.compile(
    r"^(?P<ret>.*?)\(\s*\*\s*(?P<name>\w+)(?P<dims>(?:\[\d*\])*)\s*\)\s*\((?P<args>.*)\)$")
DECLARATOR = re.compile(r"^(?P<type>.*?)\b(?P<name>\w+)\s*(?P<dims>(?:\[\d*\])*)"
                        r"\s*(?::\s*(?P<bits>\d+))?$")
ATTRIBUTE = re.compile(r"\s*__attribute__\(\(.*\)\)\s*$")


def _tidy(text: str) -> str:
    """Collapse pahole's alignment spaces: 'const char  *' -> 'const char *'."""
    return re.sub(r"\s+", " ", text).replace("* *", "**").strip()


def parse_declaration(decl: str) -> tuple[str, str, int | None]:
    """(name, type, bit width or None) of one member declaration, without its ';'."""
    decl = ATTRIBUTE.sub("", decl.strip())
    match = FUNCTION_POINTER.match(decl)
    if match:
        kind = f"{_tidy(match['ret'])} (*{match['dims']})({_tidy(match['args'])})"
        return match["name"], kind, None
    match = DECLARATOR.match(decl)
    if not match or not match["type"].strip():
        raise PaholeError(f"pahole printed a member this parser does not know: {decl!r}")
    bits = int(match["bits"]) if match["bits"] else None
    return match["name"], _tidy(match["type"]) + match["dims"].replace(" ", ""), bits


def _member(name: str, kind: str, match: re.Match, bits: int | None) -> Member:
    bit = int(match["bit"]) if match["bit"] is not None else None
    if (bit is None) != (bits is None):
        raise PaholeError(f"pahole gave {name} a bit offset without a width, or the reverse")
    return Member(name, int(match["off"]), int(match["size"]), kind, bit, bits)


def parse(text: str) -> tuple[dict[str, Layout], dict[str, dict[str, int]]]:
    """pahole's output for some types -> (layouts by name, enums: name -> {enumerator: value})."""
    layouts: dict[str, Layout] = {}
    enums: dict[str, dict[str, int]] = {}
    lines = iter(enumerate(text.splitlines(), 1))
    for number, raw in lines:
        line = raw.strip()
        if not line:
            continue
        alias = ALIAS.match(line)
        if alias:
            layouts[alias["name"]] = Layout(alias["name"], "typedef", alias_of=alias["target"])
            continue
        top = TOP_OPEN.match(line)
        if not top:
            raise PaholeError(f"pahole output line {number}: unexpected {line!r}")
        if top["kind"] == "enum":
            name, values = _parse_enum(lines, top["name"])
            enums[name] = values
        else:
            kind = ("typedef " if top["typedef"] else "") + top["kind"]
            layout = _parse_struct(lines, kind, top["name"])
            if layout.name in layouts:  # two BTF types of one name: which one would be meant?
                raise PaholeError(f"pahole printed two types named {layout.name}")
            layouts[layout.name] = layout
    return layouts, enums


def _parse_enum(lines, name: str) -> tuple[str, dict[str, int]]:
    values: dict[str, int] = {}
    for number, raw in lines:
        line = raw.strip()
        if line.startswith("}"):
            close = TOP_CLOSE.match(line)
            if not close or not (name or close["name"]):
                raise PaholeError(f"pahole output line {number}: bad end of enum: {line!r}")
            return name or close["name"], values
        match = ENUMERATOR.match(line)
        if not match:
            raise PaholeError(f"pahole output line {number}: bad enumerator {line!r}")
        values[match["name"]] = int(match["value"])
    raise PaholeError(f"pahole output ends inside enum {name}")


def _parse_struct(lines, kind: str, name: str) -> Layout:
    """One top-level struct or union, up to its closing brace and summary."""
    layout = Layout(name, kind)
    stack: list[list[Member]] = [[]]  # members of each open anonymous block
    kinds: list[str] = []  # 'struct' or 'union' of each open block
    top_level = 0
    summary = None
    for number, raw in lines:
        line = raw.strip()
        if line == "enum {":  # a member of anonymous enum type (net_device's rtnl_link_state)
            stack[-1].append(_anonymous_enum_member(lines, name))
            top_level += len(stack) == 1
            continue
        opened = BLOCK_OPEN.match(line)
        if opened:
            stack.append([])
            kinds.append(opened["kind"])
            continue
        close = BLOCK_CLOSE.match(line)
        if close and len(stack) > 1:
            inner = stack.pop()
            block = kinds.pop() + " {...}"
            # `} __attribute__((__aligned__(64)));` (blk_mq_hw_ctx) is still anonymous
            decl = ATTRIBUTE.sub("", close["decl"]) if close["decl"] else ""
            if decl:  # `struct {...} name;`: one named member, its fields dotted
                member_name, dims, _ = parse_declaration("int " + decl)
                stack[-1].append(_member(member_name, block + dims[3:], close, None))
                inner = [Member(f"{member_name}.{m.name}", m.offset, m.size, m.type,
                                m.bit_offset, m.bits) for m in inner]
            stack[-1].extend(inner)
            top_level += len(stack) == 1
            continue
        member = MEMBER.match(line)
        if member:
            member_name, member_type, bits = parse_declaration(member["decl"])
            stack[-1].append(_member(member_name, member_type, member, bits))
            top_level += len(stack) == 1
            continue
        found = SUMMARY.match(line)
        if found:
            summary = found
            continue
        end = TOP_CLOSE.match(line)
        if end and len(stack) == 1:
            layout.name = layout.name or end["name"]
            break
        if IGNORED.match(line):
            continue
        raise PaholeError(f"pahole output line {number}: unexpected {line!r} in {name or kind}")
    else:
        raise PaholeError(f"pahole output ends inside {kind} {name}")
    if summary is None:
        raise PaholeError(f"pahole printed no size summary for {layout.name}")
    layout.size = int(summary["size"])
    layout.members = stack[0]
    if int(summary["members"]) != top_level:
        raise PaholeError(f"{layout.name}: pahole counts {summary['members']} members, "
                          f"{top_level} were parsed")
    return layout


def _anonymous_enum_member(lines, outer: str) -> Member:
    """`enum { A = 0, ... } name:16; /* off:bit size */`: the enumerators are skipped."""
    for number, raw in lines:
        line = raw.strip()
        if ENUMERATOR.match(line):
            continue
        close = BLOCK_CLOSE.match(line)
        if not close or not close["decl"]:
            raise PaholeError(f"pahole output line {number}: bad end of an enum member: "
                              f"{line!r} in {outer}")
        member_name, _kind, bits = parse_declaration("int " + close["decl"])
        return _member(member_name, "enum {...}", close, bits)
    raise PaholeError(f"pahole output ends inside an enum member of {outer}")


def version() -> str:
    """'v1.24', what `pahole --version` prints."""
    return _run(["--version"]).strip()


def _run(arguments: list[str]) -> str:
    binary = shutil.which("pahole")
    if binary is None:
        raise PaholeError("pahole is not installed (apt-get install dwarves)")
    proc = subprocess.run([binary, *arguments], capture_output=True, text=True, check=False,
                          timeout=120)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise PaholeError(f"pahole {' '.join(arguments)} failed: {last}")
    return proc.stdout


def command(vmlinux: str | Path, names: list[str]) -> list[str]:
    """The pahole arguments that print the named types of vmlinux's BTF."""
    return ["-F", "btf", "--skip_missing", "-C", ",".join(names), str(vmlinux)]


def read_types(vmlinux: str | Path, names: list[str]
               ) -> tuple[dict[str, Layout], dict[str, dict[str, int]]]:
    """The named structs, unions, typedefs and enums of vmlinux's BTF; absent names are left out."""
    return parse(_run(command(vmlinux, names)))
