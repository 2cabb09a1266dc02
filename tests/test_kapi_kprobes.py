"""register_kprobe/unregister_kprobe (kcourse.kapi.kprobes), kallsyms_lookup_name and
sys_call_table (kcourse.kapi.kallsyms), against Debian's real kernel in the lab's QEMU machine.

- kprobeprobe (tests/data/input/kprobeprobe, recorded by `scripts/record-kapifs.py --dir
  tests/data/input kprobeprobe`): a probe on kallsyms_lookup_name registers with flags
  FTRACE|ON_FUNC_ENTRY (0x18) and gives the function's address; symbol and address both, or
  neither, is -EINVAL; offset 1 is -EILSEQ; unregistering adds DISABLED (0x1a) and keeps
  addr; through the address, sys_call_table's entries are the __x64_sys_* stubs (the holes
  sys_ni_syscall, 450 the last) and a symbol's address is the one modules are bound to.
- wpprobe (recorded the same way): a store into sys_call_table with CR0.WP set is the
  kernel's page fault, at the table's real address.
- LKMPG's syscall-steal (tests/test_lkmpg.py): the module clears WP, stores its hook in the
  table and puts the original back at exit; the hook never runs (x64_sys_call).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from test_kapi_input import PROBES, expected, run_probe

from conftest import need
from kcourse.build.cell import build_cell
from kcourse.kapi import kallsyms, kprobes
from kcourse.shell.core import Shell

LKMPG = Path(__file__).parent.parent / "data" / "lkmpg"
NR_OPENAT = 257  # arch/x86/entry/syscalls/syscall_64.tbl


def test_kprobeprobe_matches_the_real_kernel(tmp_path):
    real = expected(PROBES / "kprobeprobe" / "real.expected")
    assert "kprobeprobe register: 0 flags 18 offset 0 nmissed 0" in real
    assert run_probe("kprobeprobe", tmp_path) == real


def test_a_store_into_sys_call_table_with_wp_set_faults_as_on_the_real_kernel(tmp_path):
    real = expected(PROBES / "wpprobe" / "real.expected")
    assert "BUG: unable to handle page fault for address: ffffffff82000b68" in real
    assert run_probe("wpprobe", tmp_path) == real


def test_struct_kprobe_offsets_are_the_headers(tmp_path):
    """pahole reads the layout from the DWARF of a module built against the pinned headers."""
    need(shutil.which("pahole") is not None, "pahole is not installed")
    built = build_cell("kprobeprobe", (PROBES / "kprobeprobe" / "kprobeprobe.c").read_text(),
                       base=tmp_path)
    need(built.ok, built.problem or built.output)
    text = subprocess.run(["pahole", "-C", "kprobe", str(built.ko)], capture_output=True,
                          text=True, check=True).stdout
    offsets = {m[1]: int(m[2]) for m in re.finditer(r"(\w+);\s+/\*\s+(\d+)", text)}
    assert {name: offsets[name] for name in ("nmissed", "addr", "symbol_name", "offset",
                                             "pre_handler", "post_handler", "flags")} == {
        "nmissed": kprobes.NMISSED, "addr": kprobes.ADDR, "symbol_name": kprobes.SYMBOL_NAME,
        "offset": kprobes.OFFSET, "pre_handler": kprobes.PRE, "post_handler": kprobes.POST,
        "flags": kprobes.FLAGS}


def test_the_table_is_the_headers_syscalls():
    names = kallsyms.syscalls()
    assert len(names) == 451  # __NR_syscalls: 0..450 (set_mempolicy_home_node)
    assert names[NR_OPENAT] == "__x64_sys_openat" and names[335] == "__x64_sys_ni_syscall"


def test_syscall_steal_writes_the_table_and_puts_it_back():
    shell = Shell(workdir=str(LKMPG))
    assert shell.run("insmod syscall-steal/syscall-steal.ko uid=0").rc == 0
    machine = shell.kernel.emulator
    slot = kallsyms.SYS_CALL_TABLE + 8 * NR_OPENAT
    hooked = machine.space.read_u64(slot)
    assert machine.symbolize(hooked).startswith("our_sys_openat+0x0/")
    # the shell's openat does not go through the table (x64_sys_call), so no hook output
    assert shell.run("cat /proc/version > /dev/null").rc == 0
    assert "Opened file" not in shell.run("dmesg").stdout
    assert shell.run("rmmod syscall_steal").rc == 0
    assert machine.space.read_u64(slot) == machine.address_of("__x64_sys_openat")


def _limits(tmp_path, which: int):
    built = build_cell("kprobelimits", (PROBES / "kprobelimits" / "kprobelimits.c")
                       .read_text(), base=tmp_path)
    need(built.ok, built.problem or built.output)
    shell = Shell(workdir=str(built.ko.parent))
    return shell, shell.run(f"insmod kprobelimits.ko which={which}")


def test_what_is_not_modelled_stops_with_one_line(tmp_path):
    shell, handler = _limits(tmp_path, 0)
    assert handler.rc == 1 and "Traceback" not in handler.stderr
    assert re.fullmatch(r"kcourse: kprobelimits_init\+0x[0-9a-f]+/0x1000 \[kprobelimits\] "
                        r"registers a kprobe with a handler on kallsyms_lookup_name; the "
                        r"simulator does not run kprobe handlers; run it on the real kernel "
                        r"with `kcourse sim --real`\n", handler.stderr)
    assert shell.run("grep kprobelimits /proc/modules").rc == 1
    shell, unknown = _limits(tmp_path / "b", 1)
    assert unknown.rc == 1 and len(unknown.stderr.strip().splitlines()) == 1
    assert "looks up the kernel symbol 'do_init_module'" in unknown.stderr


def test_a_kprobe_on_data_is_einval(tmp_path):
    """check_kprobe_address_safe: jiffies is not core kernel text (kernel/kprobes.c:1575)."""
    shell, loaded = _limits(tmp_path, 2)
    assert loaded.rc == 0, loaded.stderr
    assert "kprobelimits jiffies: -22" in shell.run("dmesg").stdout
