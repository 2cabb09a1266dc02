"""data/kernel/structs.json and its reader, kcourse.kernel.structs, held to three references:

- pahole on the pinned kernel's vmlinux (the file is what pahole says, today);
- the kernel's own export table and Module.symvers from the headers package (the symbols);
- gcc: a module built against the pinned headers stores sizeof() and offsetof() of every
  member the file records, and its .data must hold exactly the file's numbers.

The figures quoted from ../shared/notes/emulation.md were measured with pahole and in
compiled code there, before this file existed. The pahole samples in the parser tests are
pahole 1.24's output for this vmlinux, cut down.
"""

import doctest
import lzma
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kcourse import pin
from kcourse.build import pahole
from kcourse.build.kbuild import build_module, installed_releases
from kcourse.build.kernel_layouts import ENUMS, STRUCTS, extract
from kcourse.elf import elf64
from kcourse.errors import KcourseError
from kcourse.kernel import structs
from kcourse.kernel.structs import LayoutError
from kcourse.paths import kernel_data_dir
from tests.conftest import need, need_tool


# ---------------------------------------------------------------- the committed file
def test_facts_measured_in_emulation_notes():
    # emulation.md, "Struct layouts come from the pinned kernel's own BTF"
    assert structs.offsetof("task_struct", "pid") == 2416 == 0x970
    assert structs.offsetof("task_struct", "comm") == 2976 == 0xBA0
    assert structs.member("task_struct", "comm").size == 16  # TASK_COMM_LEN
    assert structs.sizeof("task_struct") == 9792
    assert structs.sizeof("miscdevice") == 80
    assert structs.offsetof("miscdevice", "fops") == 16


def test_facts_from_the_kernel_source():
    # include/linux/module.h: state, list, then name[MODULE_NAME_LEN] (64 - sizeof(long))
    assert [name for name, _, _ in structs.members("module")[:3]] == ["state", "list", "name"]
    assert structs.offsetof("module", "name") == 24 and structs.member("module", "name").size == 56
    # arch/x86/include/asm/processor.h: "GCC hardcodes the stack canary as %gs:40"
    assert structs.offsetof("fixed_percpu_data", "stack_canary") == 0x28
    assert structs.symbol("fixed_percpu_data") == 0
    # include/linux/spinlock_types.h: spinlock_t wraps a raw_spinlock (no lockdep in Debian)
    assert structs.sizeof("spinlock_t") == structs.sizeof("raw_spinlock") == 4
    # include/linux/sched.h: thread_info first (CONFIG_THREAD_INFO_IN_TASK), its flags first
    assert structs.offsetof("task_struct", "thread_info.flags") == 0


def test_file_operations_is_a_table_of_pointers_in_declaration_order():
    rows = structs.members("file_operations")
    # include/linux/fs.h: struct file_operations begins with these, in this order
    assert [name for name, _, _ in rows[:6]] == ["owner", "llseek", "read", "write",
                                                 "read_iter", "write_iter"]
    assert [(offset, size) for _, offset, size in rows] == [(8 * i, 8) for i in range(len(rows))]
    assert structs.sizeof("file_operations") == 8 * len(rows)
    assert structs.member("file_operations", "read").type == \
        "ssize_t (*)(struct file *, char *, size_t, loff_t *)"


def test_anonymous_unions_bit_fields_and_typedefs():
    # include/linux/fs.h: i_nlink and __i_nlink share an anonymous union
    assert structs.offsetof("inode", "i_nlink") == structs.offsetof("inode", "__i_nlink")
    assert structs.offsetof("kernel_param", "arg") == structs.offsetof("kernel_param", "str")
    bit = structs.member("task_struct", "sched_contributes_to_load")
    assert (bit.bit_offset, bit.bits) == (1, 1)
    assert structs.sizeof("atomic_long_t") == structs.sizeof("atomic64_t") == 8


def test_provenance_names_the_pinned_kernel():
    found = structs.provenance()
    assert found["package"] == pin.image_package()
    assert found["package_version"] == pin.debian_version()
    assert found["release"] == pin.release()
    assert len(found["vmlinux_sha256"]) == 64 and found["pahole"].startswith("v1.")


def test_data_symbols():
    # arch/x86/kernel/vmlinux.lds.S: `jiffies = jiffies_64;`
    assert structs.symbol("jiffies") == structs.symbol("jiffies_64")
    percpu = structs.percpu_symbols()
    assert {"current_task", "cpu_number", "this_cpu_off", "__preempt_count"} <= set(percpu)
    assert structs.symbol_section("current_task") == ".data..percpu"
    for name in ("jiffies", "kmalloc_caches", "system_wq", "__per_cpu_offset",
                 "page_offset_base", "phys_base", "vmemmap_base", "nr_cpu_ids",
                 "__cpu_possible_mask", "pv_ops"):
        assert structs.symbol(name) >= 0xFFFF_FFFF_8000_0000, name  # the kernel image
    assert all(offset < 0x100000 for offset in percpu.values())


def test_enums():
    assert structs.enum("kmalloc_cache_type")["NR_KMALLOC_TYPES"] == 4
    assert structs.enumerator("MODULE_STATE_UNFORMED") == 3


@pytest.mark.parametrize("call, text", [
    (lambda: structs.sizeof("no_such_struct"), "struct no_such_struct is not among"),
    (lambda: structs.offsetof("task_struct", "no_such"), "struct task_struct has no member "
                                                         "'no_such'"),
    (lambda: structs.offsetof("task_struct", "thread_info.nope"), "struct thread_info has no"),
    (lambda: structs.sizeof("kfifo"), "struct kfifo is not in 6.1"),
    (lambda: structs.offsetof("pcpu_hot", "current_task"), "symbol('current_task')"),
    (lambda: structs.symbol("_printk"), "_printk is not an exported data symbol"),
    (lambda: structs.enum("nope"), "enum nope is not in"),
])
def test_unknown_names_give_one_clear_value_error(call, text):
    with pytest.raises(ValueError) as info:
        call()
    assert isinstance(info.value, LayoutError) and text in str(info.value)
    assert "\n" not in str(info.value)


def test_doctests():
    result = doctest.testmod(structs)
    assert result.attempted and not result.failed


@pytest.mark.parametrize("path, text", [
    ("/nonexistent/vmlinux", "cannot read /nonexistent/vmlinux: No such file or directory"),
    (str(kernel_data_dir() / "pin.env"), "no 'Linux version' banner in the kernel image"),
])
def test_extract_script_refuses_a_file_that_is_no_kernel(path, text):
    before = (kernel_data_dir() / "structs.json").read_bytes()
    script = Path(__file__).resolve().parent.parent / "scripts" / "extract-structs.py"
    proc = subprocess.run([sys.executable, str(script), path], capture_output=True, text=True,
                          check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", f"extract-structs: {text}\n")
    assert (kernel_data_dir() / "structs.json").read_bytes() == before


# ---------------------------------------------------------------- the pahole parser
SAMPLE = """\
struct kernel_param {
\tconst char  *              name;                 /*     0     8 */
\tconst struct kernel_param_ops  * ops;            /*    16     8 */
\tu8                         flags;                /*    27     1 */

\t/* XXX 4 bytes hole, try to pack */

\tunion {
\t\tvoid *             arg;                  /*    32     8 */
\t\tconst struct kparam_array  * arr;        /*    32     8 */
\t};                                               /*    32     8 */

\t/* size: 40, cachelines: 1, members: 4 */
\t/* sum members: 36, holes: 1, sum holes: 4 */
};
struct timer_list {
\tvoid                       (*function)(struct timer_list *); /*    24     8 */
\tunsigned int               sched_reset_on_fork:1; /*  2340: 0  4 */

\t/* Force alignment to the next boundary: */
\tunsigned int               :0;

\tchar                       comm[16];             /*  2976    16 */
\tstruct {
\t\tstruct list_head   list;                 /*  1064    16 */
\t} lru_gen;                                       /*  1064    32 */

\t/* size: 40, cachelines: 1, members: 4 */
} __attribute__((__aligned__(64)));
typedef struct spinlock spinlock_t;
typedef struct {
\tint                        counter;              /*     0     4 */

\t/* size: 4, cachelines: 1, members: 1 */
} atomic_t;
enum module_state {
\tMODULE_STATE_LIVE     = 0,
\tMODULE_STATE_UNFORMED = 3,
};
"""


def test_pahole_parser_reads_each_form():
    layouts, enums = pahole.parse(SAMPLE)
    param = layouts["kernel_param"]
    assert param.size == 40
    assert [(m.name, m.offset, m.size, m.type) for m in param.members] == [
        ("name", 0, 8, "const char *"), ("ops", 16, 8, "const struct kernel_param_ops *"),
        ("flags", 27, 1, "u8"), ("arg", 32, 8, "void *"),
        ("arr", 32, 8, "const struct kparam_array *")]
    timer = {m.name: m for m in layouts["timer_list"].members}
    assert timer["function"].type == "void (*)(struct timer_list *)"
    assert (timer["sched_reset_on_fork"].bit_offset, timer["sched_reset_on_fork"].bits) == (0, 1)
    assert timer["comm"].type == "char[16]"
    assert (timer["lru_gen"].type, timer["lru_gen.list"].offset) == ("struct {...}", 1064)
    assert layouts["spinlock_t"].alias_of == "struct spinlock"
    assert (layouts["atomic_t"].kind, layouts["atomic_t"].size) == ("typedef struct", 4)
    assert enums == {"module_state": {"MODULE_STATE_LIVE": 0, "MODULE_STATE_UNFORMED": 3}}


NET_DEVICE_SAMPLE = """\
struct net_device {
\tchar                       name[16];             /*     0    16 */

\t/* Bitfield combined with previous fields */

\tenum {
\t\tRTNL_LINK_INITIALIZED  = 0,
\t\tRTNL_LINK_INITIALIZING = 1,
\t} rtnl_link_state:16;                               /*  1256:16  4 */
\tbool                       needs_free_netdev;    /*  1260     1 */

\t/* size: 2432, cachelines: 38, members: 3 */
};
"""


def test_pahole_parser_reads_a_member_of_anonymous_enum_type():
    """pahole prints net_device's rtnl_link_state (include/linux/netdevice.h) with its
    enumerators inside the struct; the member is a bit field of 16 bits at bit 16."""
    members = {m.name: m for m in pahole.parse(NET_DEVICE_SAMPLE)[0]["net_device"].members}
    state = members["rtnl_link_state"]
    assert (state.offset, state.size, state.type, state.bit_offset, state.bits) == \
        (1256, 4, "enum {...}", 16, 16)
    assert members["needs_free_netdev"].offset == 1260
    with pytest.raises(pahole.PaholeError, match="bad end of an enum member"):
        pahole.parse(NET_DEVICE_SAMPLE.replace("} rtnl_link_state:16;", "} ;"))


@pytest.mark.parametrize("broken, text", [
    (SAMPLE.replace("members: 4 */\n\t/* sum", "members: 5 */\n\t/* sum"), "counts 5 members"),
    (SAMPLE.replace("u8                         flags;", "u8 flags @;"), "does not know"),
    (SAMPLE.replace("\t/* XXX 4 bytes hole", "\tsome new remark\n\t/* XXX"), "unexpected"),
    (SAMPLE.split("\n\n")[0], "ends inside"),
])
def test_pahole_parser_refuses_what_it_does_not_know(broken, text):
    with pytest.raises(pahole.PaholeError, match=text):
        pahole.parse(broken)


# ---------------------------------------------------------------- against the vmlinux
@pytest.fixture(scope="module")
def vmlinux():
    from kcourse.lab.prepare import kernel_image

    try:
        return kernel_image()
    except KcourseError as err:
        need(False, f"the pinned kernel's vmlinux is unavailable: {err}")


def test_file_is_what_pahole_and_the_export_table_say(vmlinux):
    need_tool("pahole")
    committed = _committed_json()
    fresh = extract(vmlinux, pin.image_package())
    for key in ("structs", "enums", "symbols", "not_in_btf"):
        assert fresh[key] == committed[key], f"structs.json's {key} are out of date: " \
                                             "run scripts/extract-structs.py"
    assert fresh["provenance"]["vmlinux_sha256"] == committed["provenance"]["vmlinux_sha256"]
    assert set(fresh["structs"]) | set(fresh["not_in_btf"]) == set(STRUCTS)
    assert set(fresh["enums"]) == set(ENUMS)


def test_pahole_text_for_the_notes_figures(vmlinux):
    need_tool("pahole")
    text = pahole._run(["-F", "btf", "-C", "miscdevice", str(vmlinux)])
    assert "fops;" in text and "/*    16     8 */" in text.split("fops;")[1].splitlines()[0]
    assert "/* size: 80," in text


def test_export_table_agrees_with_module_symvers(vmlinux):
    """__ksymtab's names, export types, namespaces and __kcrctab's CRCs, read from the image,
    against Module.symvers of the headers package: every vmlinux row, all 10,503."""
    from kcourse.elf.ksymtab import read_exports

    exports = read_exports(vmlinux, vmlinux.read_bytes())
    rows = {}
    for line in lzma.decompress((kernel_data_dir() / "Module.symvers.xz").read_bytes()) \
            .decode().splitlines():
        crc, name, module, export_type, *namespace = line.split("\t")
        if module == "vmlinux":
            rows[name] = (int(crc, 16), export_type, namespace[0] if namespace else "")
    assert len(rows) == 10503
    assert {n: (e.crc, e.export_type, e.namespace) for n, e in exports.items()} == rows


# ---------------------------------------------------------------- against gcc
HEADERS = """
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/stddef.h>
#include <linux/sched.h>
#include <linux/sched/user.h>
#include <linux/cred.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/nsproxy.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/fdtable.h>
#include <linux/dcache.h>
#include <linux/mm.h>
#include <linux/mm_types.h>
#include <linux/poll.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/miscdevice.h>
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/kobject.h>
#include <linux/sysfs.h>
#include <linux/kernfs.h>
#include <linux/platform_device.h>
#include <linux/input.h>
#include <linux/debugfs.h>
#include <linux/moduleparam.h>
#include <linux/export.h>
#include <linux/bug.h>
#include <linux/dynamic_debug.h>
#include <linux/jump_label.h>
#include <linux/static_call_types.h>
#include <asm/extable.h>
#include <asm/orc_types.h>
#include <asm/paravirt_types.h>
#include <asm/alternative.h>
#include <linux/workqueue.h>
#include <linux/kthread.h>
#include <linux/timer.h>
#include <linux/hrtimer.h>
#include <linux/interrupt.h>
#include <linux/completion.h>
#include <linux/wait.h>
#include <linux/swait.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/rwsem.h>
#include <linux/semaphore.h>
#include <linux/slab.h>
#include <linux/gpio.h>
#include <linux/irq.h>
#include <linux/irqdesc.h>
#include <linux/kfifo.h>
#include <linux/idr.h>
#include <linux/xarray.h>
#include <linux/llist.h>
#include <linux/tty.h>
#include <linux/tty_driver.h>
#include <linux/vt_kern.h>
#include <linux/kernel_stat.h>
#include <linux/tracepoint-defs.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <net/rtnetlink.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <linux/seq_file_net.h>
#include <linux/notifier.h>
#include <linux/blkdev.h>
#include <linux/zpool.h>
#include <linux/part_stat.h>
#include <linux/bio.h>
#include <linux/blk-mq.h>
#include <linux/sysctl.h>
#include <linux/user_namespace.h>
"""
# Defined in a .c file or a private header of the kernel, not under include/: pahole is the
# only reference for these (test_file_is_what_pahole_and_the_export_table_say).
PRIVATE = {"proc_dir_entry": "fs/proc/internal.h", "kthread": "kernel/kthread.c",
           "workqueue_struct": "kernel/workqueue.c", "kmem_cache_node": "mm/slab.h",
           "gpio_desc": "drivers/gpio/gpiolib.h",
           "inflate_workspace": "lib/zlib_inflate/inflate.h",
           # include/linux/slub_def.h compiles only inside mm/ (it needs mm/slab.h first)
           "kmem_cache": "mm/slab.h, include/linux/slub_def.h"}


def _committed_json() -> dict:
    import json

    return json.loads((kernel_data_dir() / "structs.json").read_text())


def probe_items() -> list[tuple[str, str, str | None]]:
    """(struct, C type, member or None for sizeof) for every checkable number in the file."""
    items = []
    for name, entry in _committed_json()["structs"].items():
        if "members" not in entry or name in PRIVATE:
            continue
        ctype = name if entry["kind"].startswith("typedef") else f"{entry['kind']} {name}"
        items.append((name, ctype, None))
        dotted_arrays = {m[0] for m in entry["members"] if m[3].endswith("]")}
        for member in entry["members"]:
            if len(member) > 4:  # a bit field: offsetof() cannot name it
                continue
            if "." in member[0] and member[0].split(".")[0] in dotted_arrays:
                continue
            items.append((name, ctype, member[0]))
    return items


def probe_source(items) -> str:
    lines = [f"\t{'sizeof(' + ctype + ')' if m is None else f'offsetof({ctype}, {m})'},"
             for _, ctype, m in items]
    return (HEADERS + "\nunsigned long kcourse_layout[] = {\n" + "\n".join(lines)
            + "\n};\nEXPORT_SYMBOL(kcourse_layout);\nMODULE_LICENSE(\"GPL\");\n")


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    need_tool("make")
    need_tool("gcc")
    need(pin.release() in installed_releases(),
         f"{pin.headers_package()} is not installed (apt-get install {pin.headers_package()})")
    source = tmp_path_factory.mktemp("layout_probe")
    items = probe_items()
    (source / "layout_probe.c").write_text(probe_source(items))
    (source / "Kbuild").write_text("obj-m := layout_probe.o\n")
    out = tmp_path_factory.mktemp("layout_probe_build")
    build_module(source, pin.release(), out_dir=out)
    raw = (out / "layout_probe.ko").read_bytes()
    header = elf64.parse_header("layout_probe.ko", raw)
    sections = elf64.parse_sections("layout_probe.ko", raw, header)
    symbol = next(s for s in elf64.parse_symbols("layout_probe.ko", raw, sections)
                  if s.name == "kcourse_layout")
    data = elf64.section_bytes(raw, sections[symbol.shndx])
    assert sections[symbol.shndx].name == ".data" and symbol.size == 8 * len(items)
    values = struct.unpack_from(f"<{len(items)}Q", data, symbol.value)
    shutil.rmtree(out, ignore_errors=True)
    return list(zip(items, values, strict=True))


def test_compiled_sizes_and_offsets_equal_the_file(probe):
    assert len(probe) > 1500
    wrong = []
    for (name, _ctype, member), compiled in probe:
        recorded = structs.sizeof(name) if member is None else structs.offsetof(name, member)
        if recorded != compiled:
            wrong.append(f"{name}.{member or 'sizeof'}: file {recorded}, gcc {compiled}")
    assert not wrong, textwrap.shorten("; ".join(wrong), 2000)


def test_compiled_probe_covers_what_the_emulator_reads(probe):
    checked = {(name, member) for (name, _, member), _ in probe}
    for name in ("task_struct", "file", "inode", "file_operations", "miscdevice", "module",
                 "kernel_param", "fixed_percpu_data", "proc_ops", "seq_file"):
        assert (name, None) in checked
    assert ("file_operations", "uring_cmd_iopoll") in checked
    assert ("task_struct", "comm") in checked and ("module", "refcnt") in checked


# ---------------------------------------------------------------- against the running kernel
def test_symbols_equal_the_running_kernels_kallsyms():
    """Debian's kernel booted in the lab (one boot, about 15 s under TCG): /proc/kallsyms,
    read as root (kptr_restrict 0), gives every per-CPU export and the data symbols modules
    read the addresses the file holds. The lab boots vmlinux through PVH, without the
    decompressor's KASLR, so the addresses are the link-time ones."""
    need_tool("qemu-system-x86_64")
    from kcourse.lab import RealKernel, prepare_lab

    try:
        lab = prepare_lab()
    except KcourseError as err:
        need(False, f"the real-kernel lab cannot be prepared: {err}")
    names = sorted(structs.percpu_symbols()) + [
        "jiffies", "jiffies_64", "kmalloc_caches", "system_wq", "__per_cpu_offset",
        "page_offset_base", "phys_base", "vmemmap_base", "nr_cpu_ids", "__cpu_possible_mask",
        "pv_ops"]
    line = f"grep -E ' [A-Za-z] ({'|'.join(names)})$' /proc/kallsyms"
    (result,) = RealKernel(lab=lab, timeout=180).run_script([line])
    assert result.rc == 0, result.stderr
    seen = {}
    for row in result.stdout.splitlines():
        address, _kind, name = row.split()
        seen[name] = int(address, 16)
    assert seen == {name: structs.symbol(name) for name in names}
