"""Write initramfs archives: the "newc" cpio format the kernel unpacks at boot.

The kernel reads `newc` (magic 070701) archives, optionally compressed, and several of them
concatenated one after another (init/initramfs.c: unpack_to_rootfs). kcourse uses that twice:
one cached, gzip-compressed base archive (busybox, kmod, the module tree) and one small
uncompressed archive per script (the commands and the .ko files the script names), appended
to it. Writing the format here keeps the per-script step free of any host tool.

Format (Documentation/driver-api/early-userspace/buffer-format.rst): a 110-byte ASCII header
of "070701" and 13 eight-digit hex fields, the NUL-terminated name, padding to 4 bytes, the
data, padding to 4 bytes; the archive ends with an entry named "TRAILER!!!".
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"070701"
TRAILER = "TRAILER!!!"


@dataclass(frozen=True)
class Entry:
    """One archive member: a path inside the guest (no leading '/'), its mode and content."""

    name: str
    mode: int  # full st_mode: file type bits | permission bits
    data: bytes = b""  # file content, or the target of a symlink


def _pad4(length: int) -> bytes:
    return b"\0" * (-length % 4)


def _header(ino: int, entry: Entry, nlink: int) -> bytes:
    name = entry.name.encode() + b"\0"
    fields = (
        ino,  # c_ino
        entry.mode,  # c_mode
        0,  # c_uid: root, as `cpio -R 0:0` would write
        0,  # c_gid
        nlink,  # c_nlink
        0,  # c_mtime: fixed, so archives are reproducible
        len(entry.data),  # c_filesize
        0,  # c_devmajor
        0,  # c_devminor
        0,  # c_rdevmajor
        0,  # c_rdevminor
        len(name),  # c_namesize (with the NUL)
        0,  # c_check (only used by the "070702" crc variant)
    )
    head = MAGIC + b"".join(b"%08X" % value for value in fields)
    return head + name + _pad4(len(head) + len(name))


def archive(entries: list[Entry]) -> bytes:
    """The newc archive of `entries`, in order, with the trailer. Parents must come first."""
    out = bytearray()
    for ino, entry in enumerate(entries, start=1):
        if "\0" in entry.name or entry.name.startswith("/"):
            raise ValueError(f"bad archive member name: {entry.name!r}")
        nlink = 2 if stat.S_ISDIR(entry.mode) else 1
        out += _header(ino, entry, nlink)
        out += entry.data + _pad4(len(entry.data))
    out += _header(0, Entry(TRAILER, 0), 1)
    return bytes(out)


def directory(name: str) -> Entry:
    return Entry(name, stat.S_IFDIR | 0o755)


def regular(name: str, data: bytes, executable: bool = False) -> Entry:
    return Entry(name, stat.S_IFREG | (0o755 if executable else 0o644), data)


def symlink(name: str, target: str) -> Entry:
    return Entry(name, stat.S_IFLNK | 0o777, target.encode())


def tree(root: Path, prefix: str = "") -> list[Entry]:
    """Entries for everything under `root` (sorted, parents first), names relative to it."""
    entries = []
    for path in sorted(root.rglob("*")):
        name = prefix + path.relative_to(root).as_posix()
        if path.is_symlink():
            entries.append(symlink(name, str(path.readlink())))
        elif path.is_dir():
            entries.append(directory(name))
        else:
            entries.append(regular(name, path.read_bytes(), bool(path.stat().st_mode & 0o111)))
    return entries


def parse(blob: bytes) -> list[Entry]:
    """Read back a newc archive (one, uncompressed): for tests and for `kcourse` diagnostics."""
    entries, pos = [], 0
    while True:
        if blob[pos : pos + 6] != MAGIC:
            raise ValueError(f"no newc header at offset {pos}")
        fields = [int(blob[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name_start = pos + 110
        name = blob[name_start : name_start + namesize - 1].decode()
        data_start = name_start + namesize + (-(110 + namesize) % 4)
        data = blob[data_start : data_start + size]
        pos = data_start + size + (-size % 4)
        if name == TRAILER:
            return entries
        entries.append(Entry(name, mode, data))
