"""Tampered copies of a module, for breaking things on purpose (lessons and tests).

Each function takes the bytes of a .ko and returns new bytes with one field changed in place,
the file keeping its size and layout (so nothing but that field differs):

- vermagic: the `vermagic=` string in .modinfo (kernel/module/version.c: same_magic; with
  CRCs the kernel compares only what follows the release, so changing the release alone
  still loads, and dropping `preempt` does not: "version magic '...' should be '...'");
- crc: the CRC of one imported symbol in __versions (struct modversion_info: an 8-byte crc,
  then the 56-byte name; check_version: "disagrees about version of symbol <name>");
- licence: the `license=` string in .modinfo (kernel/module/main.c: a licence that is not
  GPL-compatible taints P and loses access to EXPORT_SYMBOL_GPL symbols).

A shorter value is padded with NULs, which the kernel's .modinfo walk skips (get_next_modinfo).
Course modules are unsigned, so no signature is broken by the edit.
"""

from __future__ import annotations

import struct
from pathlib import Path

from kcourse.errors import KcourseError

MODVERSION_NAME_LEN = 56  # include/linux/module.h: MODULE_NAME_LEN = 64 - sizeof(long)


def _replace_modinfo(data: bytes, key: str, new_value: str) -> bytes:
    prefix = key.encode() + b"="
    start = data.find(b"\0" + prefix)
    if start < 0:
        raise KcourseError(f"the module has no {key}= in .modinfo")
    start += 1
    end = data.index(b"\0", start)
    old_len = end - start
    new = prefix + new_value.encode()
    if len(new) > old_len:
        raise KcourseError(f"new {key} is {len(new) - old_len} bytes longer than the old one")
    return data[:start] + new + b"\0" * (old_len - len(new)) + data[end:]


def modinfo_value(data: bytes, key: str) -> str:
    from kcourse.elf.kofile import KoFile

    value = KoFile("module.ko", data).modinfo_get(key)
    if value is None:
        raise KcourseError(f"the module has no {key}= in .modinfo")
    return value


def vermagic(data: bytes, new: str) -> bytes:
    return _replace_modinfo(data, "vermagic", new)


def licence(data: bytes, new: str) -> bytes:
    return _replace_modinfo(data, "license", new)


def _version_slot(data: bytes, symbol: str) -> int:
    """File offset of `symbol`'s struct modversion_info in __versions."""
    from kcourse.elf.kofile import KoFile

    section = KoFile("module.ko", data).get_section_by_name("__versions")
    if section is None:
        raise KcourseError("the module has no __versions section (built without modversions)")
    for pos in range(section.offset, section.offset + section.size, 8 + MODVERSION_NAME_LEN):
        name = data[pos + 8 : pos + 8 + MODVERSION_NAME_LEN].split(b"\0", 1)[0]
        if name == symbol.encode():
            return pos
    raise KcourseError(f"the module has no __versions entry for {symbol}")


def crc(data: bytes, symbol: str, new_crc: int) -> bytes:
    at = _version_slot(data, symbol)
    return data[:at] + struct.pack("<Q", new_crc & 0xFFFFFFFF) + data[at + 8 :]


def current_crc(data: bytes, symbol: str) -> int:
    return struct.unpack_from("<Q", data, _version_slot(data, symbol))[0]


# The tampered copies the lab's scenarios name (tests/scenarios/lab_tamper.sh). They live at
# a fixed path so that a transcript can name them; make_course_copies() (re)creates them.
TAMPERED_DIR = "/tmp/kcourse-tampered"


def _next_release(release: str) -> str:
    """'6.1.0-56-amd64' -> '6.1.0-57-amd64': the same length while NN stays two digits."""
    base, abi, flavour = release.split("-", 2)
    return f"{base}-{int(abi) + 1:0{len(abi)}d}-{flavour}"


def course_copies() -> dict[str, bytes]:
    """name -> bytes of each tampered copy of a course module."""
    from kcourse.paths import course_module

    hello = course_module("hello").read_bytes()
    consumer = course_module("consumer").read_bytes()
    magic = modinfo_value(hello, "vermagic")
    release = magic.split(" ", 1)[0]
    return {
        # only the release differs: still loads (CRCs present, same_magic skips it)
        "hello-release.ko": vermagic(hello, magic.replace(release, _next_release(release), 1)),
        # a kernel configuration word missing: refused
        "hello-nopreempt.ko": vermagic(hello, magic.replace("preempt ", "", 1)),
        # built against another core kernel (module_layout's CRC differs): refused
        "hello-badcrc.ko": crc(hello, "module_layout", current_crc(hello, "module_layout") ^ 1),
        # built against another provider (provider_add's CRC differs): refused
        "consumer-badcrc.ko": crc(consumer, "provider_add",
                                  current_crc(consumer, "provider_add") ^ 1),
        # a GPL-incompatible licence: EXPORT_SYMBOL_GPL symbols are out of reach
        "consumer-bsd.ko": licence(consumer, "BSD"),
    }


def make_course_copies(folder: str | Path = TAMPERED_DIR) -> Path:
    """Write course_copies() into `folder` (created if needed); return the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in course_copies().items():
        (folder / name).write_bytes(data)
    return folder
