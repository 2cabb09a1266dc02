"""File system types: register_filesystem and unregister_filesystem (fs/filesystems.c), and
/proc/filesystems; with what isofs's init also calls (zlib_inflate_workspacesize) and three
library functions its mount path links (memchr, strsep, mktime64), modelled as the kernel's.

The kernel keeps its file systems in one list, `file_systems`, linked through each struct
file_system_type's `next`, new ones at the tail (find_filesystem). register_filesystem:
fs_validate_description is a no-op (Debian: CONFIG_VALIDATE_FS_PARSER is not set), a name
with a '.' is a BUG_ON, a `next` already set is -EBUSY, a name in the list is -EBUSY.
unregister_filesystem unlinks it (the predecessor's `next` rewritten, in its module's memory
as in C; fs->next = NULL) or is -EINVAL. /proc/filesystems (filesystems_proc_show) prints
"%s\t%s\n" for each: "nodev" unless FS_REQUIRES_DEV, then the name, read from the struct
each time (kcourse.kernel.vfs), the boot's own file systems first (as the lab's guest lists
them).
"""

from __future__ import annotations

from kcourse.kapi.registry import function
from kcourse.kapi.vfsfile import limit
from kcourse.kernel import structs as S
from kcourse.kernel.vfs import BOOT_FILESYSTEMS

FS = {m: S.offsetof("file_system_type", m) for m in ("name", "fs_flags", "next")}
FS_REQUIRES_DEV = 1
EBUSY, EINVAL = 16, 22
BOOT = BOOT_FILESYSTEMS


def registered(machine) -> list[int]:
    """The modules' struct file_system_type addresses, in list order (after BOOT)."""
    mine = machine.objects.get("filesystems")
    if mine is None:
        mine = machine.objects["filesystems"] = []
        machine.objects["filesystem_owners"] = {}
        machine.objects.setdefault("forget", []).append(lambda mod: _forget(machine, mod))
    return mine


def _forget(machine, mod) -> None:
    """A load the simulator stopped: the file systems it registered leave the list."""
    owners = machine.objects["filesystem_owners"]
    mine = registered(machine)
    mine[:] = [fs for fs in mine if owners.get(fs) is not mod]
    for fs, after in zip(mine, [*mine[1:], 0], strict=True):  # the list relinked without them
        machine.space.write_u64(fs + FS["next"], after)


def _name(machine, fs: int) -> bytes:
    return machine.space.read_cstring(machine.space.read_u64(fs + FS["name"]), 4096)


@function("int register_filesystem(struct file_system_type *fs)", "fs/filesystems.c")
def register_filesystem(call, fs):
    machine = call.machine
    name = _name(machine, fs)
    if b"." in name:  # BUG_ON(strchr(fs->name, '.'))
        raise limit("kcourse: the kernel BUG()s here (fs/filesystems.c:81 register_filesystem: "
                    f"a '.' in the name {name.decode('utf-8', 'replace')!r}); the BUG itself "
                    "is not modelled")
    if machine.space.read_u64(fs + FS["next"]):
        return -EBUSY
    mine = registered(machine)
    if name.decode("utf-8", "surrogateescape") in BOOT or \
            any(_name(machine, other) == name for other in mine):
        return -EBUSY  # find_filesystem found it
    if mine:  # *p = fs at the tail: the last one's next
        machine.space.write_u64(mine[-1] + FS["next"], fs)
    mine.append(fs)
    machine.objects["filesystem_owners"][fs] = call.caller
    return 0


@function("int unregister_filesystem(struct file_system_type *fs)", "fs/filesystems.c")
def unregister_filesystem(call, fs):
    machine = call.machine
    mine = registered(machine)
    if fs not in mine:
        return -EINVAL
    at = mine.index(fs)
    after = machine.space.read_u64(fs + FS["next"])
    if at:
        machine.space.write_u64(mine[at - 1] + FS["next"], after)
    machine.space.write_u64(fs + FS["next"], 0)
    mine.pop(at)
    machine.objects["filesystem_owners"].pop(fs, None)
    return 0  # synchronize_rcu: no reader runs meanwhile here


@function("int zlib_inflate_workspacesize(void)", "lib/zlib_inflate/inflate.c")
def zlib_inflate_workspacesize(call):
    return S.sizeof("inflate_workspace")  # sizeof(struct inflate_workspace): 42312


# ---------------------------------------------------------------- lib/string.c, kernel/time
@function("void *memchr(const void *s, int c, size_t n)", "lib/string.c")
def memchr(call, s, c, n):
    space, want = call.machine.space, c & 0xFF
    done = 0
    while done < n:
        chunk = space.read(s + done, min(n - done, 4096 - (s + done) % 4096))
        at = chunk.find(bytes((want,)))
        if at >= 0:
            return s + done + at
        done += len(chunk)
    return 0


@function("char *strsep(char **s, const char *ct)", "lib/string.c")
def strsep(call, s, ct):
    space = call.machine.space
    begin = space.read_u64(s)
    if not begin:
        return 0
    text = space.read_cstring(begin, 1 << 20)
    if len(text) == 1 << 20:
        raise limit(f"kcourse: {call.site} passes strsep a string of more than 1 MiB")
    at = next((i for i, ch in enumerate(text) if ch in (ct or b"")), None)  # strpbrk
    if at is None:
        space.write_u64(s, 0)
    else:
        space.write(begin + at, b"\0")
        space.write_u64(s, begin + at + 1)
    return begin


@function("time64_t mktime64(const unsigned int year0, const unsigned int mon0, "
          "const unsigned int day, const unsigned int hour, const unsigned int min, "
          "const unsigned int sec)", "kernel/time/time.c")
def mktime64(call, year0, mon0, day, hour, min, sec):
    """Gauss's algorithm in the kernel's types: the day count in unsigned int, the rest in
    time64_t."""
    u32 = 0xFFFFFFFF
    mon, year = (mon0 - 2) & u32, year0
    if mon == 0 or mon >> 31:  # 0 >= (int)(mon -= 2)
        mon, year = (mon + 12) & u32, (year - 1) & u32
    days = (year // 4 - year // 100 + year // 400 + (367 * mon & u32) // 12 + day) & u32
    value = ((((days + (year * 365 & u32) - 719499) * 24 + hour) * 60 + min) * 60 + sec)
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >> 63 else value
