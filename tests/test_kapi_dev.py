"""Device messages, dynamic debug, mutex_init and irqsave spinlocks against Debian's real kernel.

Each tests/data/kapidev/<probe>/ holds a module's C source, a script of shell lines and the
script's transcript on the real kernel under QEMU (real.expected, recorded by
`scripts/record-kapifs.py --dir tests/data/kapidev`). The module is built here from its
source against the pinned headers (skipped without them, a failure under CI) and the
script's masked transcript on a fresh simulated kernel must be the real one:
- devmsg: _dev_emerg.._dev_info and _dev_printk print "driver-or-bus-or-class name: " before
  the message (drivers/base/core.c __dev_printk, dev_driver_string, dev_name); a device
  message ends its record, so a pr_cont after it starts a new line, while the NULL-device
  line can be continued; dev_dbg/pr_debug print nothing without DEBUG; mutex_init on
  0xa5-filled memory leaves the owner 0, the wait list empty, the osq 0; spin_lock_irqsave
  saves IF=1 and clears the CPU's IF (inline native_save_fl reads it), nested it saves IF=0,
  and the restores put each back;
- slabprobe: kmem_cache_create merges a ctor-less cache with the guest's own caches
  (find_mergeable: 36 bytes HWCACHE_ALIGN into the 64-byte "vmap_area", 200 into
  "ip4-frags"), makes the others (a ctor's: 48 bytes, 85 a slab, its own directory; 3000
  HWCACHE_ALIGN: 3008, order 3), runs the ctor per new slab object, not per allocation,
  ksize is the cache's size, and after rmmod the alias links stay (one dangling);
- dbgprobe: with DEBUG, pr_debug and dev_dbg print (lib/dynamic_debug.c);
- devprobe: a class whose name is NULL faults in set_dev_info's strscpy (the real oops is at
  strnlen+0x17): the lines up to the Oops line and the exit status are compared, since the
  simulator's RIP is the kapi function and the registers are the run's own.
"""

from pathlib import Path

import pytest

from conftest import need
from kcourse.backend import format_transcript
from kcourse.build.cell import build_cell
from kcourse.lab.compare import normalise
from kcourse.shell.core import Shell

PROBES = Path(__file__).parent / "data" / "kapidev"
WHOLE = ["devmsg", "dbgprobe", "slabprobe"]


def expected(name: str) -> str:
    text = (PROBES / name / "real.expected").read_text()
    return "".join(line for line in text.splitlines(True) if not line.startswith("#|"))


def simulate(name: str, tmp_path: Path, script: str | None = None) -> tuple[Shell, str]:
    built = build_cell(name, (PROBES / name / f"{name}.c").read_text(), base=tmp_path)
    need(built.ok, built.problem or built.output)
    shell = Shell(workdir=str(built.ko.parent))
    results = shell.run_script(script or (PROBES / name / "script.sh").read_text())
    return shell, normalise(format_transcript(results))


@pytest.mark.parametrize("name", WHOLE)
def test_probe_matches_the_real_kernel(name, tmp_path):
    assert simulate(name, tmp_path)[1] == expected(name)


def test_a_null_subsystem_name_oopses_where_the_real_kernel_does(tmp_path):
    # the real "PGD 0 P4D 0 " ends in a space (pr_cont pieces): lines compared rstripped
    real = [line.rstrip() for line in expected("devprobe").splitlines()]
    sim = [line.rstrip() for line in simulate("devprobe", tmp_path)[1].splitlines()]
    upto = next(i for i, line in enumerate(real) if "Oops:" in line) + 1
    assert "BUG: kernel NULL pointer dereference, address: 0000000000000000" in real[upto - 5]
    assert sim[:upto] == real[:upto]
    # insmod killed by the oops (rc 137), and the module stays, in use, for good
    assert [line for line in sim if line.startswith("[rc=")] == \
        [line for line in real if line.startswith("[rc=")]
    assert "rmmod: ERROR: Module devprobe is in use" in sim


def test_record_levels_are_the_kernels(tmp_path):
    """define_dev_printk_level (drivers/base/core.c): _dev_emerg KERN_EMERG (0) ..
    _dev_info KERN_INFO (6); _dev_printk takes level[1] - '0'; __dynamic_dev_dbg and
    __dynamic_pr_debug print at LOGLEVEL_DEBUG (7, lib/dynamic_debug.c)."""
    shell, _ = simulate("devmsg", tmp_path, "insmod devmsg.ko\n")
    levels = {r.text: r.level for r in shell.kernel.log.records}
    want = {"devmsg probe7: emerg 0": 0, "devmsg probe7: alert": 1, "devmsg probe7: crit": 2,
            "devmsg probe7: err 1 one": 3, "devmsg probe7: warn w": 4,
            "devmsg probe7: notice": 5, "devmsg probe7: info without a newline": 6,
            "devmsg probe7: dev_printk at KERN_ERR ff": 3, " bare0: a device with only an "
            "init_name": 6}
    assert {text: levels.get(text) for text in want} == want
    shell, _ = simulate("dbgprobe", tmp_path / "dbg", "insmod dbgprobe.ko\n")
    levels = {r.text: r.level for r in shell.kernel.log.records}
    assert levels["dbgprobe: pr_debug 42 on"] == 7
    assert levels["dbgprobe dbg0: dev_dbg 7"] == 7


def test_every_probe_has_its_source_script_and_recording():
    folders = [p for p in PROBES.iterdir() if p.is_dir()]
    assert sorted(p.name for p in folders) == sorted([*WHOLE, "devprobe"])
    for folder in folders:
        assert {f"{folder.name}.c", "script.sh", "real.expected"} <= \
            {p.name for p in folder.iterdir()}, folder


def test_slab_rules_are_the_kernels():
    """mm/slab_common.c calculate_alignment and mm/slub.c calculate_order, create_unique_id,
    checked on the boot caches the lab's guest showed (kcourse.kapi.kmem_cache.BOOT_CACHES:
    each cache's order and objs_per_slab follow from its slab_size by the same rules)."""
    from kcourse.kapi import kmem_cache as K

    assert K.calculate_alignment(K.SLAB_HWCACHE_ALIGN, 0, 40) == 64
    assert K.calculate_alignment(K.SLAB_HWCACHE_ALIGN, 0, 24) == 32  # halved: 24 <= 32
    assert K.calculate_alignment(0, 0, 200) == 8
    assert K._unique_id(64, K.SLAB_ACCOUNT) == ":A-0000064"
    for cache in K._boot():
        assert K.calculate_order(cache.size) == cache.order, cache.sysfs
        assert K._unique_id(cache.size, cache.flags) == cache.sysfs
