"""Write data/kernel/structs.json: the pinned kernel's struct layouts, enums and data symbols.

The emulated kernel (kcourse.machine, kcourse.kapi) lays out the structs that module code
reads (`current->pid`, `file->private_data`, `THIS_MODULE->name`) and calls through
(`file_operations`), and binds the data symbols modules read by address (`jiffies`,
`%gs:current_task`). Typing those offsets by hand drifts from the kernel; they come from the
pinned kernel itself instead:

  layouts, enums   the BTF in Debian's vmlinux, printed by pahole (kcourse.build.pahole)
  data symbols     vmlinux's own export table (kcourse.elf.ksymtab): every exported symbol
                   outside .text, per-CPU variables as their per-CPU offsets

The vmlinux is unpacked from linux-image-<release>'s vmlinuz (kcourse.lab.prepare.kernel_image).
scripts/extract-structs.py writes the file (scripts/move-kernel.sh runs it after moving the pin);
tests/test_structs.py holds the file equal to pahole, to the export table, and to what gcc
compiles against the pinned headers.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from kcourse.build import pahole
from kcourse.elf.ksymtab import read_exports
from kcourse.errors import KcourseError

FORMAT = 1
MEMBER_FIELDS = ["name", "offset", "size", "type", "bit_offset", "bits"]
SYMBOL_FIELDS = ["address", "section", "export"]

# The types the emulated kernel and the course need, grouped by who reads them.
STRUCTS = (
    # current: include/linux/sched.h; per-CPU data and the stack canary at %gs:0x28
    "task_struct", "thread_info", "fixed_percpu_data", "pt_regs", "cred", "pid", "upid",
    "mm_struct", "fs_struct", "files_struct", "nsproxy", "pid_namespace", "user_struct",
    # lists, references, atomics (include/linux/types.h, kref.h)
    "list_head", "hlist_head", "hlist_node", "llist_head", "llist_node", "callback_head",
    "rb_node", "rb_root", "refcount_struct", "refcount_t", "atomic_t", "atomic64_t",
    "atomic_long_t", "kref", "cpumask", "idr", "ida", "xarray", "timespec64",
    # files and the calls the shell's open/read/write/close make (include/linux/fs.h)
    "file", "inode", "file_operations", "path", "dentry", "qstr", "kiocb", "super_block",
    "file_system_type", "poll_table_struct", "fasync_struct", "vm_area_struct",
    "vm_operations_struct", "page",
    # /proc and seq_file
    "proc_ops", "proc_dir_entry", "seq_file", "seq_operations",
    # devices, classes, kobjects, sysfs
    "miscdevice", "cdev", "device", "device_driver", "bus_type", "class", "kobject",
    "kobj_type", "kset", "kobj_attribute", "attribute", "attribute_group", "bin_attribute",
    "device_attribute", "class_attribute", "sysfs_ops", "kernfs_node", "platform_device",
    "platform_driver", "input_dev", "debugfs_blob_wrapper",
    # block devices: the disk, its queue, and the requests a blk-mq driver's queue_rq walks
    # (include/linux/blkdev.h, blk-mq.h, blk_types.h, bvec.h)
    "gendisk", "block_device", "block_device_operations", "request_queue", "queue_limits",
    "blk_mq_tag_set", "blk_mq_ops", "blk_mq_hw_ctx", "blk_mq_queue_data", "request", "bio",
    "bio_vec", "bvec_iter", "disk_stats", "bio_set",
    # module parameters (include/linux/moduleparam.h)
    "kernel_param", "kernel_param_ops", "kparam_array", "kparam_string",
    # struct module and what the loader fills in (include/linux/module.h)
    "module", "module_kobject", "module_attribute", "module_layout", "mod_arch_specific",
    "mod_kallsyms", "kernel_symbol", "modversion_info",
    # sections the loader and trap handlers read: __bug_table, __dyndbg, __jump_table,
    # .static_call_sites, __ex_table, .orc_unwind, .parainstructions, .altinstructions
    "bug_entry", "_ddebug", "jump_entry", "static_call_site", "exception_table_entry",
    "orc_entry", "paravirt_patch_site", "alt_instr",
    # deferred work, timers, waiting
    "work_struct", "delayed_work", "workqueue_struct", "kthread", "kthread_worker",
    "kthread_work", "timer_list", "hrtimer", "tasklet_struct", "completion",
    "wait_queue_head", "wait_queue_entry", "swait_queue_head",
    # locks (spinlock_t is a typedef of struct spinlock, which wraps a raw_spinlock)
    "mutex", "spinlock", "spinlock_t", "raw_spinlock", "raw_spinlock_t", "qspinlock",
    "rwlock_t", "rw_semaphore", "semaphore",
    # memory
    "kmem_cache", "kmem_cache_node", "zpool_driver",
    # network devices and protocol handlers (include/linux/netdevice.h, rtnetlink.h)
    "net_device", "net_device_ops", "rtnl_link_ops", "packet_type", "sk_buff",
    "pcpu_lstats", "rtnl_link_stats64", "net_device_stats",
    # network namespaces and notifiers (include/net/net_namespace.h, netns/generic.h)
    "net", "net_generic", "pernet_operations", "netdev_notifier_info",
    "netdev_notifier_info_ext", "notifier_block",
    "seq_net_private",
    # hardware the lab's machine answers for: GPIO, IRQ, kfifo
    "gpio", "gpio_desc", "irq_desc", "irq_data", "irqaction", "__kfifo", "kfifo",
    # pv_ops (`call *pv_ops+N`): struct paravirt_patch_template and its parts
    "paravirt_patch_template", "pv_cpu_ops", "pv_irq_ops", "pv_mmu_ops", "pv_lock_ops",
    # LKMPG's kbleds: vc_cons[fg_console].d->port.tty->driver->ops->ioctl
    "vc", "vc_data", "tty_struct", "tty_port", "tty_driver", "tty_operations",
    # kernel_stat, tracepoints
    "kernel_stat", "tracepoint",
    # sysctl tables (include/linux/sysctl.h: register_sysctl, proc_dointvec); what isofs's
    # init sizes (zlib_inflate_workspacesize) and the data its mount path reads
    # (kcourse/kapi/fs_stops.py)
    "ctl_table", "ctl_table_header", "ctl_node", "ctl_dir", "inflate_workspace",
    "inode_operations", "user_namespace", "uid_gid_map", "uid_gid_extent", "ns_common",
    "static_key",
    # asked for by name, not in this kernel: see NOT_IN_BTF
    "pcpu_hot", "rcu_head",
)
ENUMS = ("kmalloc_cache_type", "module_state", "hrtimer_mode", "hrtimer_restart", "pid_type",
         "irqreturn", "gpiod_flags", "kobject_action", "system_states", "cpuhp_state")
# Why a name above has no layout in the BTF; a name missing without a reason here is an error.
NOT_IN_BTF = {
    "kfifo": "include/linux/kfifo.h declares it with __STRUCT_KFIFO_PTR(unsigned char, 0, "
             "void): a union of struct __kfifo with typed pointers and a zero-length buffer, "
             "24 bytes like __kfifo; no vmlinux code uses the type, so BTF has no entry",
    "pcpu_hot": "it came with Linux 6.2; in 6.1 current_task is a per-CPU variable of its "
                "own (arch/x86/include/asm/current.h: DECLARE_PER_CPU(struct task_struct *, "
                "current_task)): symbol('current_task')",
    "rcu_head": "include/linux/types.h: #define rcu_head callback_head; use callback_head",
}
BANNER = re.compile(rb"Linux version (\S+) .*? Debian (\S+) \(")


def banner(vmlinux: bytes) -> tuple[str, str]:
    """(release, Debian version) from the kernel's linux_banner (init/version.c)."""
    match = BANNER.search(vmlinux)
    if not match:
        raise KcourseError("no 'Linux version' banner in the kernel image")
    return match[1].decode(), match[2].decode()


def extract(vmlinux: Path, package: str, vmlinuz: Path | None = None) -> dict:
    """Everything structs.json holds, read from one vmlinux."""
    raw = vmlinux.read_bytes()
    release, debian_version = banner(raw)
    layouts, enums = pahole.read_types(vmlinux, list(STRUCTS + ENUMS))
    missing = [n for n in STRUCTS if n not in layouts] + [n for n in ENUMS if n not in enums]
    unexplained = [n for n in missing if n not in NOT_IN_BTF]
    if unexplained:
        raise KcourseError(f"the kernel's BTF has no {', '.join(unexplained)}")
    exports = read_exports(vmlinux, raw)
    provenance = {
        "package": package,
        "package_version": debian_version,
        "release": release,
        "vmlinuz_sha256": hashlib.sha256(vmlinuz.read_bytes()).hexdigest() if vmlinuz else None,
        "vmlinux": f"the ELF kernel in boot/vmlinuz-{release}, unpacked by "
                   "kcourse.lab.vmlinux.extract_vmlinux",
        "vmlinux_sha256": hashlib.sha256(raw).hexdigest(),
        "pahole": pahole.version(),
        "pahole_command": "pahole " + " ".join(pahole.command("vmlinux", ["NAME,..."]))
                          + " (NAME: each key of structs, enums and not_in_btf)",
        "command": "scripts/extract-structs.py",
        "symbols_from": "vmlinux's __ksymtab and __ksymtab_gpl (kcourse.elf.ksymtab): every "
                        "exported symbol outside .text; .data..percpu ones are per-CPU offsets",
    }
    structs = {}
    for name in STRUCTS:
        if name not in layouts:
            continue
        layout = layouts[name]
        if layout.alias_of:
            structs[name] = {"typedef": layout.alias_of}
            continue
        structs[name] = {"kind": layout.kind, "size": layout.size, "members": [
            [m.name, m.offset, m.size, m.type] + ([m.bit_offset, m.bits] if m.bits else [])
            for m in layout.members]}
    symbols = {e.name: [f"{e.address:#x}", e.section, e.export_type]
               for e in sorted(exports.values(), key=lambda e: e.name)
               if e.section and e.section != ".text"}
    return {"format": FORMAT, "provenance": provenance, "member_fields": MEMBER_FIELDS,
            "symbol_fields": SYMBOL_FIELDS, "structs": structs,
            "not_in_btf": {n: NOT_IN_BTF[n] for n in missing},
            "enums": {n: enums[n] for n in ENUMS if n in enums}, "symbols": symbols}


def dumps(data: dict) -> str:
    """JSON with one member, enumerator or symbol per line, so a diff shows what moved."""
    def one(value) -> str:
        return json.dumps(value, ensure_ascii=False)

    out = ["{"]
    keys = list(data)
    for index, key in enumerate(keys):
        comma = "," if index < len(keys) - 1 else ""
        value = data[key]
        if key == "structs":
            out.append(' "structs": {')
            names = list(value)
            for i, name in enumerate(names):
                entry = value[name]
                end = "," if i < len(names) - 1 else ""
                if "members" not in entry:
                    out.append(f"  {one(name)}: {one(entry)}{end}")
                    continue
                out.append(f'  {one(name)}: {{"kind": {one(entry["kind"])}, '
                           f'"size": {entry["size"]}, "members": [')
                out.extend(f"   {one(m)}{',' if j < len(entry['members']) - 1 else ''}"
                           for j, m in enumerate(entry["members"]))
                out.append(f"  ]}}{end}")
            out.append(f" }}{comma}")
        elif key in ("symbols", "enums", "provenance", "not_in_btf"):
            out.append(f" {one(key)}: {{")
            items = list(value.items())
            out.extend(f"  {one(k)}: {one(v)}{',' if j < len(items) - 1 else ''}"
                       for j, (k, v) in enumerate(items))
            out.append(f" }}{comma}")
        else:
            out.append(f" {one(key)}: {one(value)}{comma}")
    out.append("}")
    return "\n".join(out) + "\n"


def output_path() -> Path:
    from kcourse.paths import kernel_data_dir

    return kernel_data_dir() / "structs.json"
