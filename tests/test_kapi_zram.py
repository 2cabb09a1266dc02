"""Debian's zsmalloc and zram run their own code (kcourse.kapi.cpuhp, zpool, zsmalloc_stops),
held to the real kernel.

- tests/data/zram/real.expected: tests/data/zram/script.sh recorded on Debian's
  6.1.0-56-amd64 under QEMU (its `#|` header says how). zsmalloc's init and exit print and
  make nothing a learner sees but its lsmod line.
- tests/data/zram/hotplug.expected: the CPU hotplug states the lab's kernel names at boot
  (kcourse.kapi.cpuhp.BOOT_STATES) and the two zsmalloc and zram add (63
  mm/zsmalloc:prepare, 67 block/zram:prepare: enum cpuhp_state from the BTF).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import need
from kcourse.backend import format_transcript
from kcourse.kapi import cpuhp, zpool
from kcourse.lab.compare import normalise
from kcourse.machine import cpu as C
from kcourse.shell import Shell
from kcourse.shell.moddir import DebianTreeMissing

DATA = Path(__file__).parent / "data" / "zram"
LS_DATE = re.compile(r"[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d ")  # ls -l's recent-file date


def expected(name: str) -> str:
    return "".join(line for line in (DATA / name).read_text().splitlines(True)
                   if not line.startswith("#|"))


def commands(text: str) -> list[str]:
    """A transcript cut into its commands: each `$ line` with its output and [rc=N]."""
    return ["$ " + part for part in text.split("$ ")[1:]]


def script_lines() -> list[str]:
    return [line for line in (DATA / "script.sh").read_text().splitlines()
            if line and not line.startswith("#")]


@pytest.fixture
def shell(request):
    request.getfixturevalue("debian_modules_dir")
    try:
        return Shell(debian_tree=["zsmalloc", "zram"])
    except DebianTreeMissing as err:
        need(False, str(err))


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
