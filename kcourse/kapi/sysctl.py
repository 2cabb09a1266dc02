"""/proc/sys tables: register_sysctl and unregister_sysctl_table (fs/proc/proc_sysctl.c), the
files they make, and the kernel's handlers proc_dostring and proc_dointvec (kernel/sysctl.c).

register_sysctl(path, table) (__register_sysctl_table): the table's entries run up to the
first with a NULL procname (list_for_each_table_entry); sysctl_check_table checks each (a
child: "Not a file"; proc_dostring or proc_dointvec without data or maxlen; no proc_handler;
a mode with more than rw bits: "bogus .mode"), printing "sysctl table check failed: ..."; the
directories of `path` are made as `mkdir -p` does (get_subdir, mode 0555; a file on the way
is "sysctl could not get directory: /a/b -20"); a name already in the directory is "sysctl
duplicate entry: /dev/cdrom/info" and -EEXIST. A failure frees the header, dumps the stack
and returns NULL. A duplicate in a directory that holds other entries stops: in 6.1 the
failed insert_header's erase_header also rb_erases the entries it never inserted, whose
zeroed nodes empty the directory's tree (tests/data/fsys/sysctlprobe/sysctlprobe.c); that
is not modelled. Each entry is a file /proc/sys/<path>/<procname>
with mode S_IFREG | table->mode and size 0 (proc_sys_make_inode).

unregister_sysctl_table (drop_sysctl_table) takes the files away, and a directory with the
last registration in it (a directory the registration made goes when nothing else is in it).
An open file of a gone table fails with -ENOENT (sysctl_head_grab).

Reading and writing (proc_sys_call_handler): the permission is sysctl_perm's (test_perm:
root gets the owner bits, so a 0444 entry is EACCES to open for writing, even for root); the
handler gets a zeroed kernel buffer of count + 1 bytes (-ENOMEM for count >= KMALLOC_MAX_SIZE),
a written text copied in and NUL-terminated, &count and &pos; on success a read copies count
bytes back and the call returns count.

The boot's own tables (kernel.*, vm.*, dev.hpet, dev.tty, ...) are not modelled: /proc/sys
lists kernel (kcourse.kernel.vfs: tainted and modules_disabled) and what modules register.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field

from kcourse.kapi import kwarn, uaccess
from kcourse.kapi.lib import CTYPE
from kcourse.kapi.registry import FUNCTIONS, function
from kcourse.kapi.vfsfile import (
    Handle,
    call_int,
    free_block,
    in_kernel,
    kernel_block,
    kernel_fops,
    limit,
)
from kcourse.kernel import structs as S
from kcourse.kernel import uaccess as U
from kcourse.kernel.errno import KernelErrno
from kcourse.kernel.nodes import Node

ROOT = "/proc/sys"
CTL = {m: S.offsetof("ctl_table", m) for m in
       ("procname", "data", "maxlen", "mode", "child", "proc_handler", "poll")}
CTL_SIZE = S.sizeof("ctl_table")
HEADER_SIZE, NODE_SIZE = S.sizeof("ctl_table_header"), S.sizeof("ctl_node")
HEADER = {m: S.offsetof("ctl_table_header", m) for m in
          ("ctl_table", "used", "count", "nreg", "ctl_table_arg", "node")}
NODE_HEADER = S.offsetof("ctl_node", "header")
S_IRUGO, S_IWUGO = 0o444, 0o222
MAY_WRITE, MAY_READ = 2, 4
KMALLOC_MAX_SIZE = 1 << 22  # include/linux/slab.h (SLUB): 1 << (MAX_ORDER + PAGE_SHIFT - 1)
PAGE_SIZE = 4096
INT_MAX = (1 << 31) - 1
MAX_TEXT = 1 << 20  # proc_dointvec's text: more than this, and the simulator stops
MAX_ENTRIES = 4096  # a table that has no NULL procname within this many: the simulator stops
EPERM, ENOENT, ENOMEM, EFAULT, EINVAL, EACCES = 1, 2, 12, 14, 22, 13
# sysctl_check_table's handlers that need data and maxlen (fs/proc/proc_sysctl.c:1138)
DATA_HANDLERS = ("proc_dostring", "proc_dointvec", "proc_douintvec", "proc_douintvec_minmax",
                 "proc_dointvec_minmax", "proc_dou8vec_minmax", "proc_dointvec_jiffies",
                 "proc_dointvec_userhz_jiffies", "proc_dointvec_ms_jiffies",
                 "proc_doulongvec_minmax", "proc_doulongvec_ms_jiffies_minmax")


@dataclass
class Registration:
    owner: object  # the Module that registered it
    path: str  # the directory, "dev/cdrom"
    files: list[str] = field(default_factory=list)  # the files' /proc/sys paths
    size: int = 0  # of the header block


@dataclass
class SysctlState:
    headers: dict[int, Registration] = field(default_factory=dict)
    dirs: dict[str, int] = field(default_factory=dict)  # /proc/sys path -> registrations in it


def state(machine) -> SysctlState:
    st = machine.objects.get("sysctl")
    if st is None:
        st = machine.objects["sysctl"] = SysctlState()
        machine.objects.setdefault("forget", []).append(lambda mod: _forget(machine, st, mod))
    return st


def _forget(machine, st: SysctlState, mod) -> None:
    """A load the simulator stopped: its tables go with the files NodeTable.forget took."""
    for header, reg in list(st.headers.items()):
        if reg.owner is mod:
            _drop(machine, st, header)


def _s32(machine, address: int) -> int:
    return int.from_bytes(machine.space.read(address, 4), "little", signed=True)


def _u16(machine, address: int) -> int:
    return int.from_bytes(machine.space.read(address, 2), "little")


def _entries(call, table: int) -> list[tuple[int, str]]:
    """(entry address, procname) up to the NULL procname (list_for_each_table_entry)."""
    space, out = call.machine.space, []
    while True:
        entry = table + CTL_SIZE * len(out)
        name = space.read_u64(entry + CTL["procname"])
        if not name:
            return out
        if len(out) == MAX_ENTRIES:
            raise limit(f"kcourse: {call.site} registers a sysctl table with no empty entry "
                        f"in its first {MAX_ENTRIES} (list_for_each_table_entry would run on)")
        text = space.read_cstring(name, 4096).decode("utf-8", "surrogateescape")
        if not text or "/" in text or len(text) == 4096:
            # the kernel takes any name (insert_entry); one no path can reach is not modelled
            raise limit(f"kcourse: {call.site} registers a sysctl entry named {text[:64]!r}, "
                        "which no /proc/sys path can name (empty, a '/' or 4096 bytes); "
                        "not modelled")
        out.append((entry, text))


def _handler_is(machine, handler: int, names) -> bool:
    """Whether `handler` is one of the kernel's handlers: a module's table can only point at
    a modelled one (an unmodelled symbol stops the module before its init runs)."""
    return any(name in FUNCTIONS and handler == machine.address_of(name) for name in names)


def _check_table(call, path: str, entries) -> bool:
    """sysctl_check_table (fs/proc/proc_sysctl.c:1132): True when every entry is right."""
    machine, ok = call.machine, True
    log = call.kernel.log

    def err(name: str, text: str) -> None:  # sysctl_err: pr_err, -EINVAL
        nonlocal ok
        log.printk(f"\0013sysctl table check failed: {path}/{name} {text}\n")
        ok = False

    for entry, name in entries:
        space = machine.space
        handler = space.read_u64(entry + CTL["proc_handler"])
        if space.read_u64(entry + CTL["child"]):
            err(name, "Not a file")
        if handler and _handler_is(machine, handler, DATA_HANDLERS):
            if not space.read_u64(entry + CTL["data"]):
                err(name, "No data")
            if not _s32(machine, entry + CTL["maxlen"]):
                err(name, "No maxlen")
            # sysctl_check_table_array: only the uintvec and u8vec handlers, not modelled
        if not handler:
            err(name, "No proc_handler")
        mode = _u16(machine, entry + CTL["mode"])
        if mode & (S_IRUGO | S_IWUGO) != mode:
            err(name, f"bogus .mode 0{mode:o}")
    return ok


def _fail(call, header: int, size: int) -> int:
    """__register_sysctl_table's fail: kfree(header); dump_stack(); return NULL."""
    free_block(call.machine, header, size)
    kwarn.dump_stack(call, ["__register_sysctl_table+0x3cd/0x600"])  # Debian's, recorded
    return 0


@function("struct ctl_table_header *register_sysctl(const char *path, struct ctl_table *table)",
          "fs/proc/proc_sysctl.c")
def register_sysctl(call, path, table):
    if path is None:  # strchr(NULL, '/') in the directory walk: the kernel oopses
        from kcourse.machine.address_space import BadAccess

        raise BadAccess(0)
    machine, nodes = call.machine, call.kernel.nodes
    text = path.decode("utf-8", "surrogateescape")
    entries = _entries(call, table)
    size = HEADER_SIZE + NODE_SIZE * len(entries)
    header = kernel_block(machine, size)  # kzalloc(sizeof(header) + nodes)
    space = machine.space
    space.write_u64(header + HEADER["ctl_table"], table)  # init_header
    space.write_u64(header + HEADER["ctl_table_arg"], table)
    space.write(header + HEADER["count"], (1).to_bytes(4, "little"))
    space.write(header + HEADER["nreg"], (1).to_bytes(4, "little"))
    space.write_u64(header + HEADER["node"], header + HEADER_SIZE)
    for i in range(len(entries)):
        space.write_u64(header + HEADER_SIZE + NODE_SIZE * i + NODE_HEADER, header)
    if not _check_table(call, text, entries):
        return _fail(call, header, size)
    parts = [p for p in text.split("/") if p]  # get_subdir for each, empty names skipped
    directory = "/".join([ROOT, *parts])
    for i in range(len(parts)):
        below = "/".join([ROOT, *parts[:i + 1]])
        found = nodes.get(below)
        kind = ("dir" if found.is_dir else "file") if found is not None else _fixed(call, below)
        if kind == "file":
            # get_subdir: find_subdir's -ENOTDIR, then "sysctl could not get directory"
            shown = "/".join(parts[:i])
            call.kernel.log.printk(f"\0013sysctl could not get directory: /{shown}"
                                   f"{'/' if shown else ''}{parts[i]} -20\n")
            return _fail(call, header, size)
    seen: set[str] = set()
    for _entry, name in entries:  # insert_entry: a name twice, or already there
        if name in seen or nodes.get(f"{directory}/{name}") is not None or \
                _fixed(call, f"{directory}/{name}"):
            # sysctl_print_dir: the root's procname is "", then each directory and a "/"
            call.kernel.log.printk(f"\0013sysctl duplicate entry: /{'/'.join(parts)}"
                                   f"{'/' if parts else ''}{name}\n")
            if _fixed(call, directory) or nodes.children(directory):
                raise limit(f"kcourse: {call.site} registers {name!r} twice in /proc/sys/"
                            f"{'/'.join(parts)}, which holds other entries: 6.1's failed "
                            "insert_header then rb_erases the entries it never inserted "
                            "(erase_header), which empties that directory's tree; not "
                            "modelled")
            return _fail(call, header, size)
        seen.add(name)
    st = state(machine)
    for i in range(len(parts)):
        below = "/".join([ROOT, *parts[:i + 1]])
        if nodes.get(below) is None and not _fixed(call, below):  # new_dir: the kernel's
            nodes.add(Node(below, stat.S_IFDIR | 0o555))
        st.dirs[below] = st.dirs.get(below, 0) + 1
    reg = Registration(call.caller, "/".join(parts), size=size)
    ops = SysctlOps(machine)
    for entry, name in entries:
        mode = _u16(machine, entry + CTL["mode"])
        file = f"{directory}/{name}"
        nodes.add(Node(file, stat.S_IFREG | mode, owner=call.caller, ops=ops,
                       data={"table": entry, "header": header, "removed": False}))
        reg.files.append(file)
    st.headers[header] = reg
    return header


def _fixed(call, path: str) -> str | None:
    """"dir" or "file" for a name of the boot's /proc/sys (kcourse.kernel.vfs), else None. A
    name below a boot table the simulator does not model stops with vfs's line."""
    from kcourse.kernel import vfs

    try:
        return vfs._fixed(call.kernel, path.strip("/").split("/"))[0]
    except KernelErrno:
        return None


def _drop(machine, st: SysctlState, header: int) -> None:
    """drop_sysctl_table: the files go, then each directory left with no registration."""
    reg = st.headers.pop(header)
    nodes = machine.kernel.nodes
    for file in reg.files:
        node = nodes.get(file)
        if node is not None and node.data.get("header") == header:
            node.data["removed"] = True
            nodes.remove(file)
    parts = [p for p in reg.path.split("/") if p]
    for i in range(len(parts), 0, -1):
        below = "/".join([ROOT, *parts[:i]])
        st.dirs[below] = st.dirs.get(below, 1) - 1
        if st.dirs[below] <= 0:
            del st.dirs[below]
            node = nodes.get(below)
            if node is not None and node.is_dir and not nodes.children(below):
                nodes.remove(below)
    free_block(machine, header, reg.size)


@function("void unregister_sysctl_table(struct ctl_table_header *header)",
          "fs/proc/proc_sysctl.c")
def unregister_sysctl_table(call, header):
    if not header:
        return
    st = state(call.machine)
    if header not in st.headers:
        raise limit(f"kcourse: {call.site} passes {header:#x} to unregister_sysctl_table, "
                    "which is no header register_sysctl gave (or one already unregistered)")
    _drop(call.machine, st, header)


# ---------------------------------------------------------------- the files
def _perm(machine, node: Node, op: int) -> int:
    """sysctl_perm/test_perm for root: the owner bits of table->mode, read from the table."""
    mode = _u16(machine, node.data["table"] + CTL["mode"]) >> 6
    return 0 if op & ~mode & (MAY_READ | MAY_WRITE) == 0 else -EACCES


class SysctlOps:
    """proc_sys_file_operations: proc_sys_open, proc_sys_read, proc_sys_write."""

    def __init__(self, machine):
        self.machine = machine

    def may_open(self, node: Node, flags: int) -> int:
        """proc_sys_permission at open: MAY_READ and/or MAY_WRITE from the access mode (the
        table is read there: one in a module gone without unregistering it oopses)."""
        access = flags & 3
        op = (MAY_READ if access != 1 else 0) | (MAY_WRITE if access else 0)
        with in_kernel(self.machine, "proc_sys_permission"):
            return -_perm(self.machine, node, op)

    def reach(self, node: Node) -> None:
        """proc_sys_lookup, proc_sys_getattr and proc_sys_readdir read the entry's table
        (procname, mode): in the memory of a module gone without unregistering it, the real
        kernel oopses there (its `ls` is killed); not modelled, so the simulator stops."""
        from kcourse.machine.address_space import BadAccess

        try:
            self.machine.space.read(node.data["table"], CTL_SIZE)
        except BadAccess:
            raise limit(f"kcourse: {node.path}: its ctl_table is in the memory of a module "
                        "gone without unregister_sysctl_table; the real kernel oopses reading "
                        "it (not modelled)") from None

    def open(self, node: Node, flags: int) -> SysctlHandle:
        if node.data["removed"]:
            raise KernelErrno(ENOENT)
        err = self.may_open(node, flags)
        if err:
            raise KernelErrno(err)
        handle = SysctlHandle(self.machine, node, flags)
        handle.new_file(kernel_fops(self.machine, "proc_sys_file_operations",
                                    read_iter="proc_sys_read", write_iter="proc_sys_write",
                                    open="proc_sys_open", llseek="default_llseek"))
        handle.opened()
        return handle


class SysctlHandle(Handle):
    def read_once(self, buffer: int, count: int, ppos: int) -> int:
        return self._call_handler(0, buffer, count, ppos)

    def write_once(self, buffer: int, count: int, ppos: int) -> int:
        return self._call_handler(1, buffer, count, ppos)

    def release_file(self) -> None:
        return None

    def _call_handler(self, write: int, buffer: int, count: int, ppos: int) -> int:
        with in_kernel(self.machine, "proc_sys_call_handler"):
            return self._handler(write, buffer, count, ppos)

    def _handler(self, write: int, buffer: int, count: int, ppos: int) -> int:
        """proc_sys_call_handler (fs/proc/proc_sysctl.c:555)."""
        machine, node = self.machine, self.node
        if node.data["removed"]:  # sysctl_head_grab: the table is being unregistered
            return -ENOENT
        table = node.data["table"]
        if _perm(machine, node, MAY_WRITE if write else MAY_READ):
            return -EPERM
        handler = self.kernel_read_u64(table + CTL["proc_handler"], "proc_sys_call_handler")
        if not handler:
            return -EINVAL
        if count >= KMALLOC_MAX_SIZE:
            return -ENOMEM
        memory = machine.objects.setdefault("user", U.UserMemory())  # the caller's
        kbuf = kernel_block(machine, count + 1)  # kvzalloc(count + 1)
        try:
            if write:
                data, left = U.copy_from_user(memory, buffer, count)  # copy_from_iter_full
                if left:
                    return -EFAULT
                machine.space.write(kbuf, data + b"\0")
            lenp = machine.objects.get("sysctl_count")
            if lenp is None:
                lenp = machine.objects["sysctl_count"] = machine.kernel_alloc(8)
            machine.space.write_u64(lenp, count)
            error = call_int(machine, handler, table, write, kbuf, lenp, ppos, bits=32)
            if error:
                return error
            done = machine.space.read_u64(lenp)
            if not write:
                if done > count:  # copy_to_iter copies at most what the iterator holds
                    return -EFAULT
                if U.copy_to_user(memory, buffer, machine.space.read(kbuf, done)):
                    return -EFAULT
            return done
        finally:
            free_block(machine, kbuf, count + 1)


# ---------------------------------------------------------------- kernel/sysctl.c handlers
SYSCTL_WRITES_STRICT = 1  # kernel.sysctl_writes_strict's default (kernel/sysctl.c)
TMPBUFLEN = 22


def _isspace(c: int) -> bool:
    return bool(CTYPE[c] & 0x20)


def _read_s64(space, address: int) -> int:
    return int.from_bytes(space.read(address, 8), "little", signed=True)


def _write_s64(space, address: int, value: int) -> None:
    space.write(address, (value & (1 << 64) - 1).to_bytes(8, "little"))


def _strlen(space, address: int, cap: int) -> int:
    """strlen, read no further than `cap` bytes (all the callers need to know)."""
    return len(space.read_cstring(address, cap))


@function("int proc_dostring(struct ctl_table *table, int write, void *buffer, size_t *lenp, "
          "loff_t *ppos)", "kernel/sysctl.c")
def proc_dostring(call, table, write, buffer, lenp, ppos):
    """proc_dostring and _proc_do_string (kernel/sysctl.c:151, :264), sysctl_writes_strict
    at its default (SYSCTL_WRITES_STRICT): a write continues at *ppos, never past the end."""
    space = call.machine.space
    data = space.read_u64(table + CTL["data"])
    maxlen = _s32(call.machine, table + CTL["maxlen"])
    length = space.read_u64(lenp)
    if not data or not maxlen or not length:
        space.write_u64(lenp, 0)
        return 0
    pos = _read_s64(space, ppos) & (1 << 64) - 1  # compared as size_t
    limit_ = (maxlen - 1) & (1 << 64) - 1  # maxlen - 1 compared as size_t
    if write:
        size = min(_strlen(space, data, min(limit_ + 1, 1 << 20)), limit_)
        if pos > size:
            return 0
        size = pos
        _write_s64(space, ppos, pos + length)
        text = space.read(buffer, min(length, max(limit_ - size, 0), 1 << 20))
        for c in text:
            if c in (0, 0x0A):
                break
            space.write(data + size, bytes((c,)))
            size += 1
        space.write(data + size, b"\0")
        return 0
    size = min(_strlen(space, data, min(pos + length + 1, (maxlen & (1 << 64) - 1) + 1)),
               maxlen & (1 << 64) - 1)
    if pos > size:
        space.write_u64(lenp, 0)
        return 0
    size = min(size - pos, length)
    if size:
        space.write(buffer, space.read(data + pos, size))
    if size < length:
        space.write(buffer + size, b"\n")
        size += 1
    space.write_u64(lenp, size)
    _write_s64(space, ppos, pos + size)
    return 0


def parse_integer(text: bytes) -> tuple[int, int] | None:
    """_parse_integer_fixup_radix (base 0) and _parse_integer (lib/kstrtox.c): (value, bytes
    used), or None on overflow (strtoul_lenient's -ERANGE)."""
    i, base = 0, 10
    if text[:1] == b"0":
        nxt = text[1:2].lower()
        hexdigit = len(text) > 2 and CTYPE[text[2]] & 0x44  # isxdigit: _D | _X
        base = 16 if nxt == b"x" and hexdigit else 8
    if base == 16:
        i = 2
    value, overflow = 0, False
    while i < len(text):
        c = text[i]
        lc = c | 0x20
        digit = c - 48 if 48 <= c <= 57 else lc - 87 if 97 <= lc <= 102 else 99
        if digit >= base:
            break
        value = value * base + digit
        overflow |= value >> 64 != 0
        i += 1
    return None if overflow else (value, i)


def proc_get_long(buf: bytes) -> tuple[int, bool, int] | int:
    """proc_get_long (kernel/sysctl.c:346) with proc_wspace_sep as the allowed trailers:
    (value, negative, bytes used) or -EINVAL."""
    if not buf:
        return -EINVAL
    tmp = buf[:TMPBUFLEN - 1]
    p = 0
    neg = tmp[:1] == b"-" and len(buf) > 1
    if neg:
        p = 1
    if p >= len(tmp) or not CTYPE[tmp[p]] & 0x04:
        return -EINVAL
    parsed = parse_integer(tmp[p:])
    if parsed is None:
        return -EINVAL
    value, used = parsed
    length = p + used
    if length == TMPBUFLEN - 1:
        return -EINVAL
    if length < len(buf) and tmp[length:length + 1] not in (b" ", b"\t", b"\n"):
        return -EINVAL
    return value, neg, length


@function("int proc_dointvec(struct ctl_table *table, int write, void *buffer, size_t *lenp, "
          "loff_t *ppos)", "kernel/sysctl.c")
def proc_dointvec(call, table, write, buffer, lenp, ppos):
    """__do_proc_dointvec with do_proc_dointvec_conv (kernel/sysctl.c:447, :491): ints
    separated by white space in, tab-separated out with a newline; a value out of int's
    range or not a number is -EINVAL; a write at a non-zero position is ignored (strict)."""
    machine = call.machine
    space = machine.space
    data = space.read_u64(table + CTL["data"])
    maxlen = _s32(machine, table + CTL["maxlen"])
    length = space.read_u64(lenp)
    pos = _read_s64(space, ppos)
    if not data or not maxlen or not length or (pos and not write):
        space.write_u64(lenp, 0)
        return 0
    vleft = int(maxlen / 4)  # C division truncates
    left = length
    err, first, i = 0, True, data
    if write:
        if pos:  # proc_first_pos_non_zero_ignore: SYSCTL_WRITES_STRICT
            _write_s64(space, ppos, pos + length)
            return 0
        left = min(left, PAGE_SIZE - 1)
        text = space.read(buffer, left)
        p = 0
        while left and vleft != 0:
            vleft -= 1
            while left and _isspace(text[p]):  # proc_skip_spaces
                p, left = p + 1, left - 1
            if not left:
                break
            got = proc_get_long(text[p:p + left])
            if isinstance(got, int):
                err = got
                break
            value, neg, used = got
            p, left = p + used, left - used
            if value > INT_MAX + (1 if neg else 0):  # do_proc_dointvec_conv
                err = -EINVAL
                break
            space.write(i, ((-value if neg else value) & 0xFFFFFFFF).to_bytes(4, "little"))
            i, first = i + 4, False
        if not err and left:
            while left and _isspace(text[p]):
                p, left = p + 1, left - 1
        if first:
            return err or -EINVAL
    else:
        out = bytearray()
        while left and vleft != 0:
            vleft -= 1
            value = _s32(machine, i)
            piece = (b"" if first else b"\t") + str(value).encode()
            take = piece[:left]  # proc_put_char and proc_put_long: as much as fits
            out += take
            left -= len(take)
            if len(out) > MAX_TEXT:
                raise limit(f"kcourse: {call.site}: proc_dointvec has made {len(out):,} bytes "
                            "of text and goes on (a table whose maxlen runs past its data?)")
            i, first = i + 4, False
        if not first and left:
            out += b"\n"
            left -= 1
        space.write(buffer, bytes(out))
    length -= left
    space.write_u64(lenp, length)
    _write_s64(space, ppos, pos + length)
    return err


@function("void *memdup_user(const void __user *src, size_t len)", "mm/util.c")
def memdup_user(call, src, len):
    """kmalloc_track_caller(len, GFP_USER | __GFP_NOWARN), then copy_from_user: ERR_PTR
    (-ENOMEM) or ERR_PTR(-EFAULT) (the copy freed)."""
    from kcourse.kapi import slab

    p = slab._kmalloc(call, len, GFP_USER | GFP_NOWARN)
    if not p:
        return -ENOMEM & (1 << 64) - 1
    data, left = U.copy_from_user(uaccess.user_memory(call), src, len)
    if left:
        slab.kfree(call, p)
        return -EFAULT & (1 << 64) - 1
    call.machine.space.write(p, data)
    return p


GFP_USER = 0x100CC0  # __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL (gfp_types.h)
GFP_NOWARN = 0x2000
