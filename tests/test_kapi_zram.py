"""Debian's zsmalloc and zram run their own code (kcourse.kapi.cpuhp, zpool, zsmalloc_stops,
block_bio, zram_lib, zram_stops), held to the real kernel.

Recorded on Debian's 6.1.0-56-amd64 under QEMU (each file's `#|` header says how), run here
as the same script on the simulator and compared after kcourse.lab.compare.normalise:
- tests/data/zram/real.expected (script.sh): zsmalloc alone (nothing but its lsmod line),
  then zram: its disk zram0 (block major 254, no partitions), zram's attribute files,
  /dev/zram0, the zram-control class (hot_add, hot_remove), rmmod, num_devices=2.
- comp.expected (comp.sh): the sysfs files before the disk has a size, comp_algorithm
  against the crypto API; crypto.expected: /proc/crypto (the built-in compressors).
- busy.expected (busy.sh): a device held open, hot_add's IDs, bad input.
- diskattrs.expected (diskattrs.sh): the block layer's own files of zram0 and loop0;
  partitions(_blkprobe).expected: /proc/partitions with zram's, loop's and a 1 MiB disk.
- hotplug.expected: the CPU hotplug states the lab's kernel names at boot
  (kcourse.kapi.cpuhp.BOOT_STATES) and the two zsmalloc and zram add (63
  mm/zsmalloc:prepare, 67 block/zram:prepare: enum cpuhp_state from the BTF).
The lab's guest mounts no debugfs; zram's /sys/kernel/debug/zram is checked against the
source. A write of disksize stops with one line (zs_create_pool's register_shrinker).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import need, recorded
from kcourse.backend import format_transcript
from kcourse.kapi import cpuhp, zpool
from kcourse.lab.compare import normalise
from kcourse.machine import cpu as C
from kcourse.shell import Shell

DATA = Path(__file__).parent / "data" / "zram"
LS_DATE = re.compile(r"[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d ")  # ls -l's recent-file date


def expected(name: str) -> str:
    return recorded(DATA / name)


def commands(text: str) -> list[str]:
    """A transcript cut into its commands: each `$ line` with its output and [rc=N]."""
    return ["$ " + part for part in text.split("$ ")[1:]]


def script_lines() -> list[str]:
    return [line for line in (DATA / "script.sh").read_text().splitlines()
            if line and not line.startswith("#")]


@pytest.fixture
def shell(tree_shell):
    return tree_shell(["zsmalloc", "zram"])


def run(sh: Shell, lines: list[str]) -> str:
    return LS_DATE.sub("DATE ", normalise(format_transcript(sh.run_script(
        "\n".join(lines) + "\n"))))


def test_zsmalloc_matches_the_real_kernel(shell):
    """modprobe, lsmod, /proc/modules, rmmod: the script's zsmalloc part."""
    lines = script_lines()
    first = lines.index("modprobe zram")
    real = commands(expected("real.expected"))[:first]
    assert "zsmalloc               28672  0\n" in real[2]
    assert commands(run(shell, lines[:first])) == real


def test_zsmalloc_runs_its_own_code(shell):
    """zs_init: cpuhp_setup_state(CPUHP_MM_ZS_PREPARE, "mm/zsmalloc:prepare", ...) runs
    zs_cpu_prepare for the one CPU, which kmallocs the per-CPU mapping area's buffer
    (mm/zsmalloc.c __zs_cpu_up); zpool_register_driver(&zs_zpool_driver). zs_exit undoes
    both: zs_cpu_dead kfrees the buffer."""
    assert shell.run("modprobe zsmalloc").rc == 0
    mod = shell.kernel.find_module("zsmalloc")
    assert mod.code is not None and not shell.kernel.notes
    machine = shell.kernel.emulator
    real = expected("hotplug.expected")
    assert " 63: mm/zsmalloc:prepare\n" in real
    step = cpuhp.steps(machine)[63]
    assert (step.name, step.multi) == (b"mm/zsmalloc:prepare", False)
    assert zpool.drivers(machine) == [mod.code.address("zs_zpool_driver")]
    held = [a for a in shell.kernel.memory.outstanding() if a.owner == "zsmalloc"]
    assert [a.site.split("+")[0] for a in held] == ["zs_cpu_prepare"]
    # the buffer's address is in zs_map_area.vm_buf, the module's own per-CPU variable
    area = mod.code.address("zs_map_area")
    assert machine.space.read_u64(C.PERCPU + area) == held[0].address
    assert shell.run("rmmod zsmalloc").rc == 0
    assert not cpuhp.steps(machine) and not zpool.drivers(machine)
    assert not [a for a in shell.kernel.memory.outstanding() if a.owner == "zsmalloc"]


def test_a_modules_per_cpu_data_is_in_the_reserved_chunk(shell):
    """percpu_modalloc: the module's .data..percpu (zsmalloc's 24 bytes) gets a per-CPU
    offset after the kernel's static per-CPU data (0x35000 bytes in the pinned vmlinux) and
    goes back at rmmod, so loading again gets the same place."""
    shell.run("modprobe zsmalloc")
    first = shell.kernel.find_module("zsmalloc").code.address("zs_map_area")
    assert first == 0x35000
    shell.run("rmmod zsmalloc")
    shell.run("modprobe zsmalloc")
    assert shell.kernel.find_module("zsmalloc").code.address("zs_map_area") == first


def test_boot_states_are_the_lab_kernels():
    real = expected("hotplug.expected")
    listing = real.split("$ modprobe zram")[0]
    named = {int(n) for n in re.findall(r"(?m)^ *(\d+): ", listing)}
    assert named == cpuhp.BOOT_STATES
    assert cpuhp.STATES["CPUHP_MM_ZS_PREPARE"] == 63 and cpuhp.STATES["CPUHP_ZCOMP_PREPARE"] == 67


# What /sys/block/<disk> has on the real kernel that kcourse.kapi.block does not make (it
# says so in its _sysfs docstring): the block layer's own entries, not zram's.
NOT_MADE = {"bdi", "integrity", "power", "queue", "stat", "subsystem", "trace"}


def without_unmade(block: str) -> str:
    return "".join(line for line in block.splitlines(True) if line.rstrip("\n") not in NOT_MADE)


def test_zram_matches_the_real_kernel(shell):
    """modprobe zram (zsmalloc first), its disk, /dev node, block major, zram-control class,
    hot_add and hot_remove, rmmod, and num_devices=2: the recording, command by command.
    `ls /sys/block/zram0` differs only by the block layer's entries listed in NOT_MADE;
    zram's own 17 attributes (zram_disk_attrs) are all there."""
    real = commands(LS_DATE.sub("DATE ", expected("real.expected")))
    sim = commands(run(shell, script_lines()))
    assert len(sim) == len(real)
    listing = next(i for i, c in enumerate(real) if c.startswith("$ ls /sys/block/zram0\n"))
    assert NOT_MADE <= set(real[listing].splitlines())
    for number, (got, want) in enumerate(zip(sim, real, strict=True)):
        assert got == (without_unmade(want) if number == listing else want)
    for fact in ("[TIME] zram: Added device: zram0\n", "254 zram\n", "hot_add\nhot_remove\n",
                 "brw------- 1 root root 254, 0 DATE /dev/zram0\n",
                 "lzo [lzo-rle] lz4 lz4hc zstd \n", "bash: echo: write error: No such device\n"):
        assert fact in "".join(real)
    assert not shell.kernel.notes
    assert not [a for a in shell.kernel.memory.outstanding() if a.owner in ("zram", "zsmalloc")]


def test_zram_sysfs_files_match_the_real_kernel(shell):
    """comp_algorithm (built-in compressors by name or driver name, EINVAL for others),
    disksize 0 (EINVAL), reset, max_comp_streams, compact and idle before a size (EINVAL),
    writeback_limit(_enable), mem_limit, mem_used_max: identical to the recording."""
    real = expected("comp.expected")
    assert "lzo lzo-rle lz4 lz4hc zstd [deflate-generic] \n" in real
    sim = run(shell, [line for line in (DATA / "comp.sh").read_text().splitlines()
                      if line and not line.startswith("#")])
    assert sim == real


def test_zram_devices_in_use_match_the_real_kernel(shell):
    """An open /dev/zram1: hot_remove and reset are -EBUSY (zram_remove, reset_store:
    disk_openers), rmmod is refused (the block device's module reference); after the close
    hot_remove works, hot_add takes the lowest free ID (idr_alloc), and bad IDs are
    -EINVAL (hot_remove_store: kstrtoint, dev_id < 0)."""
    real = expected("busy.expected")
    assert "bash: echo: write error: Device or resource busy\n" in real
    sim = run(shell, [line for line in (DATA / "busy.sh").read_text().splitlines()
                      if line and not line.startswith("#")])
    assert sim == real


def test_a_disks_own_files_match_the_real_kernel(tree_shell):
    """kcourse.kapi.block's capability (disk->flags in hex), events (loop's media_change
    uevents; none for zram), events_async, events_poll_msecs (-1, its write -ENODEV without
    ->check_events), inflight and the empty holders/ and slaves/, for zram0 and loop0."""
    sh = tree_shell(["zsmalloc", "zram", "loop"])
    real = expected("diskattrs.expected")
    assert "0\nmedia_change\n-1\n" in real and "4\n-1\n" in real
    sim = run(sh, [line for line in (DATA / "diskattrs.sh").read_text().splitlines()
                   if line and not line.startswith("#")])
    assert sim == real


def test_proc_partitions_matches_the_real_kernel(tree_shell, tmp_path):
    """/proc/partitions (block/genhd.c): empty with no disk, the header alone while every
    disk has size 0 (zram's, loop's), a line per disk with a size (blkprobe's 1 MiB:
    1024 blocks), in the order the disks were added."""
    from kcourse.build.cell import build_cell

    sh = tree_shell(["zsmalloc", "zram", "loop"])
    script = [line for line in (DATA / "partitions.sh").read_text().splitlines()
              if line and not line.startswith("#")]
    assert run(sh, script) == expected("partitions.expected")
    source = (DATA.parent / "block" / "blkprobe" / "blkprobe.c").read_text()
    built = build_cell("blkprobe", source, base=tmp_path)
    need(built.ok, built.problem or built.output)
    sh = tree_shell(["zsmalloc", "zram"], workdir=str(built.ko.parent))
    script = [line for line in (DATA / "partitions_blkprobe.sh").read_text().splitlines()
              if line and not line.startswith("#")]
    real = expected("partitions_blkprobe.expected")
    assert " 254        0       1024 blkprobe0\n" in real
    assert run(sh, script) == real


def test_builtin_compressors_are_the_lab_kernels():
    """zram_stops.BUILTIN_COMPRESSION is /proc/crypto's type "compression" on the lab."""
    found = {}
    for block in expected("crypto.expected").split("\n\n"):
        fields = dict(re.findall(r"(?m)^(\w+)\s*: (.*)$", block))
        if fields.get("type") == "compression":
            found[fields["name"]] = fields["driver"]
    from kcourse.kapi.zram_stops import BUILTIN_COMPRESSION

    assert found == BUILTIN_COMPRESSION


def test_zram_debugfs_block_state(shell):
    """CONFIG_ZRAM_MEMORY_TRACKING=y (Debian's config): zram_debugfs_create makes
    /sys/kernel/debug/zram, zram_debugfs_register zram0/block_state (0400); its read
    (read_block_state) is -EINVAL until the disk has a size. (The lab's guest has no
    debugfs mounted, so this is from drivers/block/zram/zram_drv.c:891-985.)"""
    shell.run("modprobe zram")
    assert shell.run("ls /sys/kernel/debug/zram").stdout == "zram0\n"
    assert shell.run("stat -c '%a' /sys/kernel/debug/zram/zram0/block_state").stdout == "400\n"
    r = shell.run("cat /sys/kernel/debug/zram/zram0/block_state")
    assert r.rc == 1 and r.stderr.endswith(": Invalid argument\n")
    shell.run("rmmod zram")
    assert shell.run("ls /sys/kernel/debug/zram").rc == 2


def test_a_disksize_stops_with_one_line(shell):
    """disksize_store -> zram_meta_alloc -> zs_create_pool reaches register_shrinker, which
    is not modelled (kcourse.kapi.zsmalloc_stops): its line, then the note that zram was
    cut off mid-call; no traceback."""
    shell.run("modprobe zram")
    r = shell.run("echo 1G > /sys/block/zram0/disksize")
    stop, note = r.stderr.splitlines()  # the stop; zram's init_lock stays held (the note)
    assert r.rc != 0 and "calls register_shrinker()" in stop
    assert note.startswith("kcourse: note: the stop cut zram off mid-call")
    assert shell.run("cat /sys/block/zram0/disksize").stdout == "0\n"


@pytest.mark.parametrize(("text", "value", "used"), [
    # lib/cmdline.c memparse: simple_strtoull(ptr, &end, 0), then K/M/G/T/P/E (either case)
    (b"1G", 1 << 30, 2), (b"512m", 512 << 20, 4), (b"0x10k", 16 << 10, 5), (b"010", 8, 3),
    (b"12abc", 12, 2), (b"k", 0, 1), (b"1e", 1 << 60, 2), (b"4096\n", 4096, 4),
    (b"0x", 0, 1),  # "0x" without a hex digit: octal 0, stopped at the x
])
def test_memparse(text, value, used):
    from kcourse.kernel import Kernel

    machine = Kernel(seed=0).emulator
    at = machine.kernel_alloc(64)
    machine.space.write(at, text + b"\0")
    end = machine.kernel_alloc(8)
    assert machine.call(machine.kernel_symbol("memparse"), at, end) == value
    assert machine.space.read_u64(end) == at + used


def test_cpuhp_states_follow_kernel_cpu_c():
    """kernel/cpu.c, 6.1: a dynamic range hands out its first slot without a name (after
    the guest's boot states: AP_ONLINE_DYN 201-210 and BP_PREPARE_DYN 70 are taken) and
    returns it; a fixed state is 0 or -EBUSY when named; a state outside (OFFLINE, ONLINE)
    or no name is -EINVAL; instances only for a multi-instance state; removing one with
    instances left WARNs."""
    from kcourse.kernel import Kernel

    kernel = Kernel(seed=0)
    m = kernel.emulator
    name = m.kernel_alloc(16)
    m.space.write(name, b"test:state\0")
    setup, remove = m.kernel_symbol("__cpuhp_setup_state"), m.kernel_symbol("__cpuhp_remove_state")
    add = m.kernel_symbol("__cpuhp_state_add_instance")

    def ret(value: int) -> int:  # %eax as an int
        value &= 0xFFFFFFFF
        return value - (1 << 32) if value >= 1 << 31 else value

    assert ret(m.call(setup, 201, name, 1, 0, 0, 0)) == 211
    assert ret(m.call(setup, 201, name, 1, 0, 0, 0)) == 212
    assert ret(m.call(setup, 70, name, 1, 0, 0, 0)) == 71
    assert ret(m.call(setup, 63, name, 1, 0, 0, 0)) == 0
    assert ret(m.call(setup, 63, name, 1, 0, 0, 0)) == -16
    assert ret(m.call(setup, 64, name, 1, 0, 0, 0)) == -16  # mm/zswap:prepare, at boot
    assert ret(m.call(setup, 0, name, 1, 0, 0, 0)) == -22
    assert ret(m.call(setup, 236, name, 1, 0, 0, 0)) == -22
    assert ret(m.call(setup, 67, 0, 0, 0, 0, 1)) == -22
    assert ret(m.call(add, 63, name, 0)) == -22  # not multi-instance
    assert ret(m.call(setup, 67, name, 0, 0, 0, 1)) == 0
    assert ret(m.call(add, 67, name + 8, 0)) == 0
    m.call(remove, 67, 0)
    assert any("Error: Removing state 67 which has instances left." in r.text
               for r in kernel.log.records)
    m.call(remove, 211, 1)
    assert ret(m.call(setup, 201, name, 1, 0, 0, 0)) == 211  # free again
