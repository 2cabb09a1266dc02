"""/proc entries: proc_create and friends (fs/proc/generic.c) and their files (fs/proc/inode.c).

Creating (generic.c): __proc_create checks the name (WARNs for an empty or >= 256 byte name,
`.`, `..`, a number at the top of /proc, a parent that does not exist along a `a/b` path);
proc_create_reg makes the mode S_IFREG, 0444 when no permission bit is given;
proc_register WARNs and fails when the name is taken ("proc_dir_entry '/proc/x' already
registered"). The entry is a struct proc_dir_entry of the kernel's; /proc/<name> appears with
its mode, proc_set_size's size and proc_set_user's owner.

Removing: remove_proc_entry, remove_proc_subtree and proc_remove take the entry (and what is
below it) away and run it down (proc_entry_rundown): ->proc_release for every file still
open. The files themselves, and the kernel's proc_single_ops and proc_seq_ops that
proc_create_single_data and proc_create_seq_private use, are kcourse.kapi.procfs_files.
"""

from __future__ import annotations

import stat

from kcourse.kapi import kwarn
from kcourse.kapi.procfs_files import OPS, ProcOps, kernel_proc_ops
from kcourse.kapi.registry import function
from kcourse.kapi.vfsfile import limit
from kcourse.kernel import structs as S
from kcourse.kernel.kernel import SimulatorLimit
from kcourse.kernel.nodes import Node

PDE_SIZE = S.sizeof("proc_dir_entry")
PROC_ENTRY_PERMANENT = 1
S_IFMT = 0o170000
ENOENT = 2
PROC_ROOT = "/proc"
# The top of /proc on the lab's guest (Debian 6.1.0-56-amd64: `ls /proc`, minus the pids and
# the self links procfs makes without a proc_dir_entry): names proc_register finds taken.
BOOT_PROC_ROOT = frozenset("""acpi buddyinfo bus cgroups cmdline consoles cpuinfo crypto devices
    diskstats dma driver dynamic_debug execdomains fb filesystems fs interrupts iomem ioports
    irq kallsyms kcore key-users keys kmsg kpagecgroup kpagecount kpageflags loadavg locks
    meminfo misc modules mounts mtrr net pagetypeinfo partitions pressure schedstat slabinfo
    softirqs stat swaps sys sysrq-trigger sysvipc timer_list tty uptime version vmallocinfo
    vmstat zoneinfo""".split())


def _pdes(machine) -> dict[int, str]:
    return machine.objects.setdefault("pde_paths", {})  # proc_dir_entry address -> path


def node_of_pde(call, pde: int) -> Node | None:
    path = _pdes(call.machine).get(pde)
    node = call.kernel.nodes.get(path) if path else None
    return node if node is not None and node.data.get("pde") == pde else None


def _parent_path(call, parent: int) -> str:
    if not parent:
        return PROC_ROOT
    node = node_of_pde(call, parent)
    if node is None or not node.is_dir:
        raise limit(f"kcourse: {call.site} passes {parent:#x} as a /proc directory, which is "
                    "no proc_dir_entry the simulator made")
    return node.path


def _name_to_int(name: str) -> bool:
    """fs/proc/util.c name_to_int: a pid-like name (digits, no leading zero)."""
    return name.isdigit() and name.isascii() and not (len(name) > 1 and name[0] == "0") and \
        int(name) < 0xFFFFFFFF // 10


def _create(call, name: bytes | None, mode: int, parent: int, nlink: int) -> Node | None:
    """__proc_create + proc_register: the new entry's Node, or None after the kernel's WARN."""
    if name is None:  # __xlate_proc_name's strchr(NULL, '/'): the kernel oopses
        from kcourse.machine.address_space import BadAccess

        raise BadAccess(0)
    text = name.decode("utf-8", "surrogateescape")
    base = _parent_path(call, parent)
    *dirs, leaf = text.split("/")
    for part in dirs:  # __xlate_proc_name: each `a/` must be a directory already
        below = f"{base}/{part}"
        node = call.kernel.nodes.get(below)
        if node is None and base == PROC_ROOT and part in BOOT_PROC_ROOT:
            raise limit(f"kcourse: {call.site} creates /proc/{text}; /proc/{part} is a "
                        "directory of the kernel's that the simulator does not model")
        if node is None or not node.is_dir:
            kwarn.warn(call, "fs/proc/generic.c:175", "__xlate_proc_name", f"name '{text}'")
            return None
        base = below
    length = len(leaf.encode("utf-8", "surrogateescape"))
    checks = ((length == 0 or length >= 256, "fs/proc/generic.c:429", f"name len {length}"),
              (leaf == ".", "fs/proc/generic.c:433", "name '.'"),
              (leaf == "..", "fs/proc/generic.c:437", "name '..'"),
              (base == PROC_ROOT and _name_to_int(leaf), "fs/proc/generic.c:441",
               f"create '/proc/{leaf}' by hand"))
    for failed, where, message in checks:
        if failed:
            kwarn.warn(call, where, "__proc_create", message)
            return None
    path = f"{base}/{leaf}"
    if call.kernel.nodes.get(path) is not None or (base == PROC_ROOT and leaf in BOOT_PROC_ROOT):
        parent_name = "/proc" if base == PROC_ROOT else base.rsplit("/", 1)[1]
        kwarn.warn(call, "fs/proc/generic.c:400", "proc_register",
                   f"proc_dir_entry '{parent_name}/{leaf}' already registered")
        return None
    pde = call.machine.kernel_alloc(PDE_SIZE)  # kmem_cache_zalloc(proc_dir_entry_cache)
    node = Node(path, mode, owner=call.caller, ops=ProcOps(call.machine),
                data={"kind": "proc", "pde": pde, "openers": [], "removed": False})
    node.data["nlink"] = nlink
    call.kernel.nodes.add(node)
    _pdes(call.machine)[pde] = path
    return node


def _create_reg(call, name, mode: int, parent: int, data: int, proc_ops: int) -> int:
    """proc_create_reg + proc_register with the given proc_ops: the pde, or NULL."""
    if mode & S_IFMT == 0:
        mode |= stat.S_IFREG
    if mode & 0o7777 == 0:
        mode |= 0o444
    if not stat.S_ISREG(mode):
        kwarn.warn_on(call, "fs/proc/generic.c:573", "proc_create_reg")  # WARN_ON_ONCE
        return 0
    node = _create(call, name, mode, parent, 1)
    if node is None:
        return 0
    node.data.update(proc_ops=proc_ops, pdata=data)
    flags = int.from_bytes(call.machine.space.read(proc_ops + OPS["proc_flags"], 4),
                           "little") if proc_ops else 0
    node.data["permanent"] = bool(flags & PROC_ENTRY_PERMANENT)
    return node.data["pde"]


@function("struct proc_dir_entry *proc_create_data(const char *name, umode_t mode, "
          "struct proc_dir_entry *parent, const struct proc_ops *proc_ops, void *data)",
          "fs/proc/generic.c")
def proc_create_data(call, name, mode, parent, proc_ops, data):
    return _create_reg(call, name, mode, parent, data, proc_ops)


@function("struct proc_dir_entry *proc_create(const char *name, umode_t mode, "
          "struct proc_dir_entry *parent, const struct proc_ops *proc_ops)",
          "fs/proc/generic.c")
def proc_create(call, name, mode, parent, proc_ops):
    return _create_reg(call, name, mode, parent, 0, proc_ops)


@function("struct proc_dir_entry *proc_create_single_data(const char *name, umode_t mode, "
          "struct proc_dir_entry *parent, int (*show)(struct seq_file *, void *), void *data)",
          "fs/proc/generic.c")
def proc_create_single_data(call, name, mode, parent, show, data):
    ops = kernel_proc_ops(call.machine, "proc_single_ops", proc_open="proc_single_open",
                           proc_read_iter="seq_read_iter", proc_lseek="seq_lseek",
                           proc_release="single_release")
    pde = _create_reg(call, name, mode, parent, data, ops)
    if pde:
        node_of_pde(call, pde).data["single_show"] = show
    return pde


@function("struct proc_dir_entry *proc_create_seq_private(const char *name, umode_t mode, "
          "struct proc_dir_entry *parent, const struct seq_operations *ops, "
          "unsigned int state_size, void *data)", "fs/proc/generic.c")
def proc_create_seq_private(call, name, mode, parent, ops, state_size, data):
    proc_ops = kernel_proc_ops(call.machine, "proc_seq_ops", proc_open="proc_seq_open",
                                proc_read_iter="seq_read_iter", proc_lseek="seq_lseek",
                                proc_release="proc_seq_release")
    pde = _create_reg(call, name, mode, parent, data, proc_ops)
    if pde:
        node_of_pde(call, pde).data.update(seq_ops=ops, state_size=state_size)
    return pde


def _mkdir(call, name, mode: int, parent: int, data: int) -> int:
    node = _create(call, name, stat.S_IFDIR | (mode or 0o555), parent, 2)
    if node is None:
        return 0
    node.data["pdata"] = data
    return node.data["pde"]


@function("struct proc_dir_entry *proc_mkdir(const char *name, struct proc_dir_entry *parent)",
          "fs/proc/generic.c")
def proc_mkdir(call, name, parent):
    return _mkdir(call, name, 0, parent, 0)


@function("struct proc_dir_entry *proc_mkdir_mode(const char *name, umode_t mode, "
          "struct proc_dir_entry *parent)", "fs/proc/generic.c")
def proc_mkdir_mode(call, name, mode, parent):
    return _mkdir(call, name, mode, parent, 0)


@function("struct proc_dir_entry *proc_mkdir_data(const char *name, umode_t mode, "
          "struct proc_dir_entry *parent, void *data)", "fs/proc/generic.c")
def proc_mkdir_data(call, name, mode, parent, data):
    return _mkdir(call, name, mode, parent, data)


@function("void proc_set_size(struct proc_dir_entry *de, loff_t size)", "fs/proc/generic.c")
def proc_set_size(call, de, size):
    node = _entry(call, de, "proc_set_size")
    node.size = size


@function("void proc_set_user(struct proc_dir_entry *de, kuid_t uid, kgid_t gid)",
          "fs/proc/generic.c")
def proc_set_user(call, de, uid, gid):
    node = _entry(call, de, "proc_set_user")
    node.uid, node.gid = call.raw(1) & 0xFFFFFFFF, call.raw(2) & 0xFFFFFFFF


def _entry(call, de: int, what: str) -> Node:
    node = node_of_pde(call, de)
    if not de:  # proc_set_size(NULL, ...) writes de->size: a NULL pointer dereference
        from kcourse.machine.address_space import BadAccess

        raise BadAccess(S.offsetof("proc_dir_entry", "size" if what == "proc_set_size"
                                   else "uid"))
    if node is None:  # a stale pointer: the real kernel writes through it
        raise limit(f"kcourse: {call.site} calls {what}() on {de:#x}, which is no "
                    "proc_dir_entry the simulator made (a NULL or stale pointer)")
    return node


# ---------------------------------------------------------------- removing
def rundown(machine, node: Node) -> None:
    """proc_entry_rundown: no new users; ->proc_release for every file still open. Callers
    still inside the entry's operations are waited for (wait_for_completion): a background
    job asleep in the module's code would keep rmmod waiting for it (kcourse.machine.processes
    knows which module a sleeping job is in, not which entry: any of its module's)."""
    from kcourse.machine import processes

    for task in processes.asleep_in(machine, node.owner) if node.owner is not None else ():
        pid, comm = task.own_current()
        raise SimulatorLimit(f"kcourse: {node.owner.name} removes {node.path} while {comm} "
                             f"(pid {pid}) sleeps in {task.wait.what}() at {task.wait.site}: "
                             "on the real kernel remove_proc_entry waits for the callers still "
                             "inside a /proc file's operations (fs/proc/inode.c "
                             "proc_entry_rundown), so rmmod would hang until that sleep ends; "
                             "the simulator stops here")
    node.data["removed"] = True
    for handle in list(node.data.get("openers", ())):
        handle.close_opener()


def _remove_tree(call, node: Node) -> None:
    for gone in call.kernel.nodes.remove(node.path):
        if gone.data.get("kind") == "proc":
            rundown(call.machine, gone)


@function("void remove_proc_entry(const char *name, struct proc_dir_entry *parent)",
          "fs/proc/generic.c")
def remove_proc_entry(call, name, parent):
    text = (name or b"").decode("utf-8", "surrogateescape")
    try:
        base = _parent_path(call, parent)
    except Exception:  # noqa: BLE001 - a parent that is no entry: xlate finds nothing
        base = None
    node = call.kernel.nodes.get(f"{base}/{text}") if base else None
    if node is not None and node.data.get("permanent"):
        kwarn.warn(call, "fs/proc/generic.c:726", "remove_proc_entry",
                   f"removing permanent /proc entry '{node.name}'")
        node = None
    if node is None:
        kwarn.warn(call, "fs/proc/generic.c:734", "remove_proc_entry", f"name '{text}'")
        return
    children = call.kernel.nodes.children(node.path)
    rundown(call.machine, node)
    if children:  # the subtree is no longer reachable: it leaks
        parent_name = "/proc" if base == PROC_ROOT else base.rsplit("/", 1)[1]
        kwarn.warn(call, "fs/proc/generic.c:740", "remove_proc_entry",
                   f"remove_proc_entry: removing non-empty directory '{parent_name}/"
                   f"{node.name}', leaking at least '{sorted(c.name for c in children)[0]}'")
    call.kernel.nodes.remove(node.path)


@function("int remove_proc_subtree(const char *name, struct proc_dir_entry *parent)",
          "fs/proc/generic.c")
def remove_proc_subtree(call, name, parent):
    text = (name or b"").decode("utf-8", "surrogateescape")
    node = call.kernel.nodes.get(f"{_parent_path(call, parent)}/{text}")
    if node is None:
        return -ENOENT
    _remove_tree(call, node)
    return 0


@function("void proc_remove(struct proc_dir_entry *de)", "fs/proc/generic.c")
def proc_remove(call, de):
    if not de:
        return
    node = node_of_pde(call, de)
    if node is not None:
        _remove_tree(call, node)
