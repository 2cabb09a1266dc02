"""Path lookup for the kernel's pseudo file systems: /proc, /sys/module and /dev.

lookup() returns ("dir", lister) or ("file", mode, reader, writer) for a path, or raises
KernelErrno(ENOENT). Modes are those of the real files (kernfs keeps the attribute's mode):
a reader or writer of None means the file has no show/store method, which kernfs reports
as EACCES when opened that way, even for root.
"""

from __future__ import annotations

import stat

from kcourse.kernel import errno as E
from kcourse.kernel import procfs, structs
from kcourse.kernel.errno import KernelErrno
from kcourse.kernel.states import ModuleState

REG = stat.S_IFREG
NULL_RDEV = 1 << 20 | 3  # drivers/char/mem.c devlist: "null" is MKDEV(MEM_MAJOR 1, 3)
# /proc/mounts: the lab guest's (Debian 6.1.0-56-amd64 under QEMU, 512 MiB), and debugfs,
# which systemd's sys-kernel-debug.mount mounts at boot on Debian 12 (the guest has no systemd)
MOUNTS = """\
rootfs / rootfs rw,size=219256k,nr_inodes=54814,inode64 0 0
proc /proc proc rw,relatime 0 0
sysfs /sys sysfs rw,relatime 0 0
devtmpfs /dev devtmpfs rw,relatime,size=219256k,nr_inodes=54814,mode=755,inode64 0 0
debugfs /sys/kernel/debug debugfs rw,nosuid,nodev,noexec,relatime 0 0
"""


def _entry(name, mode, kind="file", target=None, size=None, uid=0, gid=0, rdev=0):
    global _DirEntry
    if _DirEntry is None:  # kcourse.kernel.kernel imports this module: bound at first use
        from kcourse.kernel.kernel import DirEntry as _DirEntry
    return _DirEntry(name, mode, kind, target, size, uid, gid, rdev)


_DirEntry = None


def _dir(lister):
    return ("dir", lister)


def _ro(text_fn, mode=0o444):
    return ("file", REG | mode, text_fn, None)


def lookup(k, path: str):
    """The fixed tree first, then what modules added (kcourse.kernel.nodes): a directory
    lists both."""
    parts = path.strip("/").split("/") if path != "/" else []
    try:
        found = _fixed(k, parts)
    except KernelErrno as err:
        node = k.nodes.get(path)
        if node is None or err.errno != E.ENOENT:
            raise
        if node.is_dir:
            return _dir(lambda: _node_entries(k, path))
        _reach(node)
        return ("file", node.mode, lambda: k.read_file(path),
                lambda text: k.write_file(path, text))
    if found[0] == "dir" and parts:
        fixed = found[1]
        return _dir(lambda: fixed() + _node_entries(k, path))
    return found


def _reach(node) -> None:
    """The kernel's lookup, stat and readdir of an entry read what serves it (a sysctl file's
    ctl_table): its ops' `reach(node)` stops when that is in memory a module took away."""
    reach = getattr(node.ops, "reach", None)
    if reach is not None:
        reach(node)


def _node_entries(k, path: str):
    out = []
    for node in k.nodes.children(path):
        _reach(node)
        kind = "dir" if node.is_dir else "chr" if stat.S_ISCHR(node.mode) else \
            "blk" if stat.S_ISBLK(node.mode) else "file"
        out.append(_entry(node.name, node.mode, kind, size=node.size, uid=node.uid,
                          gid=node.gid, rdev=node.rdev))
    return out


def _fixed(k, parts):
    if not parts:
        return _dir(lambda: [_entry(n, stat.S_IFDIR | 0o755, "dir")
                             for n in ("dev", "proc", "sys")])
    top = parts[0]
    if top == "proc":
        return _proc(k, parts[1:])
    if top == "sys":
        return _sys(k, parts[1:])
    if top == "dev":
        return _dev(k, parts[1:])
    raise KernelErrno(E.ENOENT)


def _proc(k, parts):
    if not parts:
        return _dir(lambda: [_entry("devices", REG | 0o444), _entry("filesystems", REG | 0o444),
                             _entry("kallsyms", REG | 0o444),
                             _entry("misc", REG | 0o444), _entry("modules", REG | 0o444),
                             _entry("mounts", REG | 0o444), _entry("partitions", REG | 0o444),
                             _entry("sys", stat.S_IFDIR | 0o555, "dir"),
                             _entry("version", REG | 0o444)])
    if parts == ["filesystems"]:  # fs/filesystems.c: proc_create_single("filesystems", 0, ..)
        return _ro(lambda: _proc_filesystems(k))
    if parts == ["misc"]:  # drivers/char/misc.c misc_seq_show: "%3i %s\n", newest first
        return _ro(lambda: _proc_misc(k))
    if parts == ["version"]:
        return _ro(proc_version)
    if parts == ["partitions"]:  # block/genhd.c: proc_create_seq("partitions", 0, NULL, ...)
        return _ro(lambda: _proc_partitions(k))
    if parts == ["devices"]:  # fs/proc/devices.c: proc_create_seq("devices", 0, NULL, ...)
        return _ro(k.chrdevs.proc_devices)
    if parts == ["mounts"]:  # the lab guest's mounts, and debugfs as Debian's systemd mounts it
        return _ro(lambda: MOUNTS)
    if parts == ["modules"]:
        return _ro(lambda: procfs.proc_modules(k))
    if parts == ["kallsyms"]:
        return _ro(lambda: procfs.proc_kallsyms(k), 0o444)
    if parts == ["sys"]:
        return _dir(lambda: [_entry(n, stat.S_IFDIR | 0o555, "dir") for n in BOOT_SYSCTL])
    if parts == ["sys", "dev"]:  # and what modules register there (kcourse.kapi.sysctl)
        return _dir(lambda: [_entry(n, stat.S_IFDIR | 0o555, "dir") for n in BOOT_SYSCTL_DEV])
    if parts[0] == "sys" and (parts[1] in BOOT_SYSCTL and parts[1] not in ("kernel", "dev") or
                              parts[1] == "dev" and parts[2] in BOOT_SYSCTL_DEV):
        from kcourse.kernel.kernel import SimulatorLimit

        raise SimulatorLimit(f"kcourse: /proc/{'/'.join(parts)}: the boot's own sysctl tables "
                             "are not modelled (only kernel/tainted, kernel/modules_disabled "
                             "and what modules register); run it on the real kernel with "
                             "`kcourse sim --real`")
    if parts == ["sys", "kernel"]:
        return _dir(lambda: [_entry("modules_disabled", REG | 0o644),
                             _entry("tainted", REG | 0o644)])
    if parts == ["sys", "kernel", "tainted"]:
        def write(text):  # kernel/sysctl.c proc_taint: bits can be set, never cleared
            try:
                value = int(text.strip(), 0)
            except ValueError:
                raise KernelErrno(E.EINVAL) from None
            k.tainted |= value
        return ("file", REG | 0o644, lambda: f"{k.tainted}\n", write)
    if parts == ["sys", "kernel", "modules_disabled"]:
        def write_md(text):  # once set it cannot be cleared (kernel/sysctl.c, max = 1)
            value = text.strip()
            if value not in ("0", "1") or (k.modules_disabled and value == "0"):
                raise KernelErrno(E.EINVAL)
            k.modules_disabled = value == "1"
        return ("file", REG | 0o644, lambda: f"{int(k.modules_disabled)}\n", write_md)
    raise KernelErrno(E.ENOENT)


# /proc/filesystems on the lab's guest at boot (tests/data/fsys/isofs/real.expected): all nodev
BOOT_FILESYSTEMS = ("sysfs", "tmpfs", "proc", "cgroup", "cgroup2", "cpuset", "devtmpfs",
                    "debugfs", "tracefs", "securityfs", "sockfs", "bpf", "pipefs", "ramfs",
                    "hugetlbfs", "devpts", "mqueue", "pstore")
FS_REQUIRES_DEV = 1  # include/linux/fs.h


def _proc_filesystems(k) -> str:
    """fs/filesystems.c filesystems_proc_show: "%s\t%s\n", "nodev" unless FS_REQUIRES_DEV,
    then the name; the boot's file systems, then the modules' (kcourse.kapi.filesystems keeps
    their struct file_system_type addresses on the machine), each read from the struct."""
    from kcourse.kernel import structs as S
    from kcourse.machine.address_space import BadAccess

    lines = [f"nodev\t{name}\n" for name in BOOT_FILESYSTEMS]
    machine = getattr(k, "_emulator", None)
    for fs in machine.objects.get("filesystems", ()) if machine is not None else ():
        space = machine.space
        try:
            flags = int.from_bytes(space.read(fs + S.offsetof("file_system_type", "fs_flags"),
                                              4), "little")
            name = space.read_cstring(space.read_u64(fs + S.offsetof("file_system_type",
                                                                      "name")))
        except BadAccess:
            from kcourse.kernel.kernel import SimulatorLimit

            raise SimulatorLimit(f"kcourse: /proc/filesystems: the file_system_type at {fs:#x} "
                                 "is in the memory of a module gone without unregistering it; "
                                 "the real kernel's read oopses there (not modelled)") from None
        dev = "" if flags & FS_REQUIRES_DEV else "nodev"
        lines.append(f"{dev}\t{name.decode('utf-8', 'surrogateescape')}\n")
    return "".join(lines)


# /proc/sys and /proc/sys/dev on the lab's guest at boot (tests/data/fsys/real.expected)
BOOT_SYSCTL = ("abi", "crypto", "debug", "dev", "fs", "kernel", "net", "user", "vm")
BOOT_SYSCTL_DEV = ("hpet", "mac_hid", "tty")


def _proc_misc(k) -> str:
    """The modules' misc devices (kcourse.kapi.chardev keeps them on the machine), newest
    first, then the guest's own (chrdevs.BOOT_MISC)."""
    from kcourse.kernel.chrdevs import BOOT_MISC

    machine = getattr(k, "_emulator", None)
    table = machine.objects.get("misc", {}) if machine is not None else {}
    mine = [(d.minor, d.name) for d in reversed(list(table.values()))]
    return "".join(f"{minor:3d} {name}\n" for minor, name in mine + list(BOOT_MISC))


def _proc_partitions(k) -> str:
    """block/genhd.c partitions_op over the block class's disks (the modules' disks:
    kcourse.kapi.block keeps them on the machine; the lab's guest has none of its own), in
    the order they were added: the header only when there is a disk (show_partition_start),
    then "%4d  %7d %10llu %pg" of each that is not hidden and has a size (show_partition:
    major, minor, 1 KiB blocks, name). Partitions are not modelled, so part0 only."""
    machine = getattr(k, "_emulator", None)
    disks = [d for d in (machine.objects.get("blk_disks", {}) if machine else {}).values()
             if d.added]
    if not disks:
        return ""
    space = machine.space
    at = {f: structs.offsetof("block_device", f) for f in ("bd_nr_sectors", "bd_dev")}
    flags_at = structs.offsetof("gendisk", "flags")
    out = ["major minor  #blocks  name\n\n"]
    for d in sorted(disks, key=lambda d: d.added_order):
        sectors = space.read_u64(d.bdev + at["bd_nr_sectors"])
        if not sectors or int.from_bytes(space.read(d.address + flags_at, 4), "little") & 2:
            continue  # no size, or GENHD_FL_HIDDEN
        dev = int.from_bytes(space.read(d.bdev + at["bd_dev"], 4), "little")
        out.append(f"{dev >> 20:4d}  {dev & 0xFFFFF:7d} {sectors >> 1:10d} {d.name}\n")
    return "".join(out)


# LINUX_COMPILER of the pinned headers (include/generated/compile.h)
LINUX_COMPILER = ("gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) "
                  "2.40")


def proc_version() -> str:
    """fs/proc/version.c: linux_proc_banner (init/version.c) of sysname, release and the
    version, "#1 SMP PREEMPT_DYNAMIC Debian <version> (<date>)", from the banner in Debian's
    vmlinuz (data/build/bzimage-amd64.json, as uname -v reads it)."""
    import json

    from kcourse import pin
    from kcourse.paths import data_dir

    banner = json.loads((data_dir() / "build" / "bzimage-amd64.json").read_text())
    banner = str(banner.get("header", {}).get("kernel_version", ""))
    version = banner[banner.index("#"):] if "#" in banner else \
        f"#1 SMP PREEMPT_DYNAMIC Debian {pin.debian_version()}"
    return (f"Linux version {pin.release()} (debian-kernel@lists.debian.org) "
            f"({LINUX_COMPILER}) {version}\n")


def _gpio_class(k, rest):
    """/sys/class/gpio (CONFIG_GPIO_SYSFS=y, drivers/gpio/gpiolib-sysfs.c gpio_class): the
    write-only export and unexport (class attributes, 0200). The lab's machine has no GPIO
    chip, so gpio_to_desc finds nothing for any number: export_store and unexport_store print
    "<fn>: invalid GPIO N" and fail with EINVAL (a bad number: kstrtol's error)."""
    if not rest:
        return _dir(lambda: [_entry(n, REG | 0o200, "file") for n in ("export", "unexport")])
    if len(rest) != 1 or rest[0] not in ("export", "unexport"):
        raise KernelErrno(E.ENOENT)
    function = f"{rest[0]}_store"

    def write(text):
        from kcourse.kernel.params import kstrtoll

        try:
            number = kstrtoll(text)
        except ValueError as err:
            raise KernelErrno(err.args[0]) from None
        k.log.printk(f"\0014{function}: invalid GPIO {number}\n")
        raise KernelErrno(E.EINVAL)
    return ("file", REG | 0o200, None, write)


# /sys/class/input on the lab's guest at boot (tests/data/input/lab/boot-input.expected): the
# AT keyboard and mousedev's mice; their own files are not modelled. Input devices modules
# register are added by kcourse.kapi.input.
BOOT_INPUT = (("input0", "../../devices/platform/i8042/serio0/input/input0"),
              ("mice", "../../devices/virtual/input/mice"))


def _sysfs_modules(k):
    return [m for m in k.modules if getattr(m, "sysfs", False)]


_ALWAYS = frozenset({"initstate", "coresize", "initsize", "taint", "refcnt"})


def _sys(k, parts):
    if len(parts) == 3 and parts[0] == "module" and (parts[2] in _ALWAYS or
                                                     parts[2] == "holders"):
        # /sys/module/NAME/{coresize,refcnt,holders}: what lsmod reads for every row
        mod = k.find_module_all(parts[1])
        if mod is None or not mod.sysfs:
            raise KernelErrno(E.ENOENT)
        if parts[2] == "holders":
            return _dir(lambda: [_entry(s, procfs.S_LINK, "link", f"../../{s}")
                                 for s in mod.source_list])
        return _ro(lambda: procfs.sysfs_attr(mod, parts[2]))
    if not parts:
        return _dir(lambda: [_entry(n, stat.S_IFDIR | 0o755, "dir")
                             for n in ("block", "class", "kernel", "module")])
    if parts == ["block"]:  # block_depr: a link per disk device_add_disk adds (genhd.c)
        return _dir(lambda: [])
    if parts == ["kernel"]:  # kernel_kobj: what modules add to it, and debugfs's mount point
        return _dir(lambda: [_entry("debug", stat.S_IFDIR | 0o700, "dir")])
    if parts == ["class"]:  # class_kset: what modules register; gpiolib's, input's, net's
        return _dir(lambda: [_entry(n, stat.S_IFDIR | 0o755, "dir")
                             for n in ("gpio", "input", "net")])
    if parts[:2] == ["class", "net"] and len(parts) == 2:  # net_class: lo, then what registers
        return _dir(lambda: [_entry("lo", stat.S_IFDIR | 0o755, "dir")])
    if parts[:3] == ["class", "net", "lo"]:  # loopback_net_init registers lo at boot
        from kcourse.kapi import netdev_sysfs

        return netdev_sysfs.loopback(parts[3:])
    if parts == ["class", "input"]:  # the input core's class: the guest's boot devices
        return _dir(lambda: [_entry(n, procfs.S_LINK, "link", t) for n, t in BOOT_INPUT])
    if parts[:2] == ["class", "input"] and parts[2] in dict(BOOT_INPUT):
        from kcourse.kernel.kernel import SimulatorLimit

        raise SimulatorLimit(f"kcourse: /sys/class/input/{parts[2]} is the guest's own input "
                             "device, whose files the simulator does not model; run it on "
                             "the real kernel with `kcourse sim --real`")
    if parts and parts[0] == "class" and parts[1:2] == ["gpio"]:
        return _gpio_class(k, parts[2:])
    if parts == ["kernel", "debug"]:  # debugfs's mount point (DEBUGFS_DEFAULT_MODE)
        return _dir(lambda: [])
    if parts[0] != "module":
        raise KernelErrno(E.ENOENT)
    if len(parts) == 1:
        return _dir(lambda: [_entry(m.name, stat.S_IFDIR | 0o755, "dir")
                             for m in _sysfs_modules(k)])
    mod = k.find_module_all(parts[1])
    if mod is None or not mod.sysfs:
        raise KernelErrno(E.ENOENT)
    rest = parts[2:]
    if len(rest) == 1 and rest[0] in _ALWAYS:
        return _ro(lambda: procfs.sysfs_attr(mod, rest[0]))
    entries = {"holders": None} if rest and rest[0] == "holders" else \
        procfs.sysfs_entries(mod)
    if not rest:
        return _dir(lambda: [_entry(n, mode, "dir" if stat.S_ISDIR(mode) else "file")
                             for n, (mode, _t) in procfs.sysfs_entries(mod).items()])
    name = rest[0]
    if name not in entries:
        raise KernelErrno(E.ENOENT)
    if name == "holders":
        if len(rest) == 1:
            return _dir(lambda: [_entry(s, procfs.S_LINK, "link", f"../../{s}")
                                 for s in mod.source_list])
        if len(rest) == 2 and rest[1] in mod.source_list:
            return _sys(k, ["module", rest[1]])
        raise KernelErrno(E.ENOENT)
    if name == "parameters":
        files = procfs.params_dir(mod)
        if len(rest) == 1:
            return _dir(lambda: [_entry(n, mode) for n, mode in procfs.params_dir(mod).items()])
        if len(rest) == 2 and rest[1] in files:
            return _param_file(k, mod, rest[1])
        raise KernelErrno(E.ENOENT)
    if name == "sections":
        files = procfs.section_files(mod)
        if len(rest) == 1:
            return _dir(lambda: [_entry(n, REG | 0o400) for n in procfs.section_files(mod)])
        if len(rest) == 2 and rest[1] in files:
            return ("file", REG | 0o400, lambda: f"0x{procfs.px(files[rest[1]])}\n", None)
        raise KernelErrno(E.ENOENT)
    if name == "notes":
        notes = procfs.note_files(mod)
        if len(rest) == 1:
            return _dir(lambda: [_entry(n, REG | 0o444) for n in procfs.note_files(mod)])
        if len(rest) == 2 and rest[1] in notes:
            return _ro(lambda: notes[rest[1]].decode("latin-1"))
        raise KernelErrno(E.ENOENT)
    if len(rest) != 1:
        raise KernelErrno(E.ENOTDIR)
    if name == "uevent":
        def uevent(text):  # lib/kobject_uevent.c kobject_synth_uevent: an action name first
            action = text.strip().split(" ")[0]
            if action not in ("add", "remove", "change", "move", "online", "offline",
                              "bind", "unbind"):
                raise KernelErrno(E.EINVAL)
        return ("file", REG | 0o200, None, uevent)
    return _ro(lambda: procfs.sysfs_attr(mod, name))


def _param_file(k, mod, pname):
    param = mod.params[pname]

    def write(text):  # kernel/params.c param_attr_store: the buffer as written, newline too
        if mod.state == ModuleState.GOING:
            raise KernelErrno(E.ENOENT)
        try:
            param.set(text)
        except ValueError as exc:
            raise KernelErrno(exc.args[0]) from None
        k.write_params(mod)  # param_set_*() stores into the module's variable
    def show():  # param_attr_show -> ops->get(buffer, kp): the variable as it is now
        k.read_params(mod)
        return param.show()

    writable = param.perm & 0o222
    return ("file", REG | param.perm, show, write if writable else None)


def _dev(k, parts):
    if not parts:
        return _dir(lambda: [_entry("null", stat.S_IFCHR | 0o666, "chr", rdev=NULL_RDEV)] + [
            _entry(n, stat.S_IFCHR | mode, "chr", rdev=rdev)
            for n, (_m, mode, rdev) in k.devices.items()])
    if parts == ["null"] and "null" not in k.devices:
        # drivers/char/mem.c null_fops (devlist "null", 0666): reads give EOF, writes vanish
        return ("file", stat.S_IFCHR | 0o666, lambda: "", lambda text: None)
    if len(parts) == 1 and parts[0] in k.devices:
        _mod, mode, _rdev = k.devices[parts[0]]
        return ("file", stat.S_IFCHR | mode, lambda: "", lambda text: None)
    raise KernelErrno(E.ENOENT)
