"""Block devices (kcourse.kapi.block, block_io) against the real kernel and its source.

- blkprobe (tests/data/block/blkprobe, recorded on Debian's 6.1.0-56-amd64 under QEMU by
  `scripts/record-kapifs.py --dir tests/data/block blkprobe`): a 1 MiB blk-mq disk that logs
  each request its queue_rq gets. The recording is the truth for register_blkdev's dynamic
  major and its refusals, blk_mq_alloc_tag_set's checks and fix-ups, the queue's default
  limits, add_disk's partition scan (pages 0, 1 and 3 through read_folio), /proc/devices and
  /sys/block/<disk>, the write path (a partial page read first, written back at the last
  close with REQ_SYNC), readahead windows (4 pages for `head -c 14`), and a failing sector:
  readahead's request fails, pages are read again one by one, read(2) returns what it got
  before the bad page, and the error lines.
- lab/loop.expected (recorded by hand with `kcourse sim --real --transcript lab/loop.sh`):
  Debian's loop, its own init and exit run on the emulated CPU (every symbol it uses is
  declared; kcourse.kapi.block_loop's stop if called): block major 7, /dev/loop-control at
  misc minor 237, CONFIG_BLK_DEV_LOOP_MIN_COUNT=8 disks of size 0, nothing read from them,
  all gone after rmmod.
- lab/misc.expected (recorded the same way): /proc/misc at boot and with loop loaded;
  miscprobe (recorded as blkprobe): a module's first dynamic misc minor is 124 there.
- idrprobe (tests/data/block/idrprobe, recorded the same way): the IDR loop numbers its
  devices with.
- LKMPG's blkram is tests/test_lkmpg.py's (identical to its recording).
- The limits of the model: a driver that ends its requests later, or asks for a retry, or
  gives add_disk no minors, gets one line (or the kernel's WARN), never a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path

from conftest import need
from kcourse.backend import format_transcript
from kcourse.build import pahole
from kcourse.build.cell import build_cell
from kcourse.kapi import block_io, chardev
from kcourse.kernel import Kernel
from kcourse.lab.compare import normalise
from kcourse.shell.core import Shell

PROBES = Path(__file__).parent / "data" / "block"
RA_LINE = re.compile(r"blkprobe rq R flags 0x8[0-9a-f]*700 sector (\d+) bytes (\d+) |"
                     r"I/O error, dev blkprobe0, sector \d+ op 0x0:\(READ\) flags 0x8")


def expected(path: Path) -> str:
    return "".join(line for line in path.read_text().splitlines(True)
                   if not line.startswith("#|"))


def build(name: str, tmp_path: Path, source: str) -> Shell:
    built = build_cell(name, source, base=tmp_path)
    need(built.ok, built.problem or built.output)
    return Shell(workdir=str(built.ko.parent))


def _blkprobe(tmp_path) -> tuple[str, str]:
    folder = PROBES / "blkprobe"
    shell = build("blkprobe", tmp_path, (folder / "blkprobe.c").read_text())
    sim = normalise(format_transcript(shell.run_script((folder / "script.sh").read_text())))
    return sim, expected(folder / "real.expected")


def _cat_readahead(text: str) -> tuple[list[str], set[int]]:
    """The transcript without the readahead requests of `cat /dev/blkprobe0` (and their
    error line), and the sectors those requests covered."""
    lines = text.splitlines()
    start = lines.index("$ cat /dev/blkprobe0 | wc -c")
    kept, sectors = [], set()
    for number, line in enumerate(lines):
        match = RA_LINE.search(line) if number > start else None
        if match is None:
            kept.append(line)
        elif match.group(1):
            first = int(match.group(1))
            sectors |= set(range(first, first + int(match.group(2)) // 512))
    return kept, sectors


def test_blkprobe_matches_the_real_kernel_but_for_the_split_of_large_windows(tmp_path):
    sim, real = _blkprobe(tmp_path)
    listing = "ls /sys/block/blkprobe0"
    sim_ls, real_ls = _block_of(sim, listing), _block_of(real, listing)
    assert set(sim_ls) < set(real_ls)  # some of disk_attrs only (see kcourse.kapi.block)
    sim, real = _without(sim, listing), _without(real, listing)
    sim_lines, sim_sectors = _cat_readahead(sim)
    real_lines, real_sectors = _cat_readahead(real)
    assert sim_lines == real_lines
    # the same readahead windows read the same sectors (the whole disk), only split
    # differently: Linux at max_sectors (255) mid-page, the simulator at page boundaries
    assert sim_sectors == real_sectors == set(range(2048))


def test_the_recording_shows_what_the_model_says(tmp_path):
    """The facts block_io's docstring states, read from the real recording itself."""
    real = expected(PROBES / "blkprobe" / "real.expected")
    scan = re.findall(r"rq R flags 0x0 sector (\d+) bytes 4096 segs 1 bios 1 vecs 1 last 1",
                      real.split("blkprobe added")[0])
    assert [int(s) for s in scan] == [0, 8, 24]  # pages 0, 1 and 3
    head = real.split("$ head -c 14 /dev/blkprobe0")[1].split("$ cat")[0]
    assert f"rq R flags {block_io.REQ_RAHEAD | block_io.REQ_FAILFAST_MASK:#x} sector 0 " \
           f"bytes {4 * 4096} segs 4 bios 1 vecs 4" in head  # get_init_ra_size(1, 32) = 4
    assert block_io._init_ra_size(1, block_io.RA_PAGES) == 4
    assert f"rq W flags {block_io.REQ_SYNC:#x} sector 0 bytes 4096" in real


def test_the_pahole_parser_reads_an_aligned_anonymous_struct():
    """blk_mq_hw_ctx begins with `struct { ... } __attribute__((__aligned__(64)));`, an
    anonymous member whose fields are the struct's own (include/linux/blk-mq.h)."""
    text = """struct hctx {
\tstruct {
\t\tspinlock_t         lock;                 /*     0     4 */
\t\tlong unsigned int  state;                /*     8     8 */
\t} __attribute__((__aligned__(64)));                     /*     0    64 */
\tvoid *                     driver_data;          /*    64     8 */

\t/* size: 128, cachelines: 2, members: 2 */
};
"""
    layouts, _ = pahole.parse(text)
    assert [(m.name, m.offset) for m in layouts["hctx"].members] == [
        ("lock", 0), ("state", 8), ("driver_data", 64)]


DRIVER = r"""
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/module.h>
static struct blk_mq_tag_set set;
static struct gendisk *disk;
static int major;
static blk_status_t q(struct blk_mq_hw_ctx *h, const struct blk_mq_queue_data *bd)
{
	blk_mq_start_request(bd->rq);
	BODY
}
static const struct blk_mq_ops ops = { .queue_rq = q };
static const struct block_device_operations fops = { .owner = THIS_MODULE };
static int __init d_init(void)
{
	int ret;
	major = register_blkdev(0, "NAME");
	set.ops = &ops;
	set.nr_hw_queues = 1;
	set.queue_depth = 4;
	set.numa_node = NUMA_NO_NODE;
	ret = blk_mq_alloc_tag_set(&set);
	if (ret)
		return ret;
	disk = blk_mq_alloc_disk(&set, NULL);
	disk->major = major;
	disk->minors = MINORS;
	disk->fops = &fops;
	strscpy(disk->disk_name, "NAME0", 32);
	set_capacity(disk, 64);
	ret = add_disk(disk);
	pr_info("NAME add_disk %d\n", ret);
	if (ret) {
		put_disk(disk);
		blk_mq_free_tag_set(&set);
		unregister_blkdev(major, "NAME");
	}
	return ret;
}
static void __exit d_exit(void)
{
	del_gendisk(disk);
	put_disk(disk);
	blk_mq_free_tag_set(&set);
	unregister_blkdev(major, "NAME");
}
module_init(d_init);
module_exit(d_exit);
MODULE_LICENSE("GPL");
"""


def _driver(tmp_path, name: str, body: str, minors: int = 1) -> Shell:
    source = DRIVER.replace("BODY", body).replace("NAME", name).replace("MINORS", str(minors))
    return build(name, tmp_path, source)


def test_a_request_not_ended_in_queue_rq_is_one_line(tmp_path):
    shell = _driver(tmp_path, "lazy", "return BLK_STS_OK;")
    out = format_transcript(shell.run_script(
        "insmod lazy.ko\ngrep -c lazy /proc/devices\nls /sys/block\n"))
    assert "Traceback" not in out
    assert re.search(r"kcourse: q\+0x0/0x\w+ \[lazy\] returned without ending the "
                     r"request \(blk_mq_end_request\).*kcourse sim --real", out)
    # the load is unwound: no major, no disk
    assert "$ grep -c lazy /proc/devices\n0\n[rc=1]" in out
    assert "$ ls /sys/block\n[rc=0]" in out


def test_a_retry_is_one_line(tmp_path):
    shell = _driver(tmp_path, "busy", "return BLK_STS_RESOURCE;")
    out = format_transcript(shell.run_script("insmod busy.ko\n"))
    assert "Traceback" not in out and "returned BLK_STS_RESOURCE" in out


def test_a_disk_with_a_major_and_no_minors_is_the_kernels_warning(tmp_path):
    """block/genhd.c device_add_disk: WARN_ON(!disk->minors), then -EINVAL."""
    shell = _driver(tmp_path, "nominor", "blk_mq_end_request(bd->rq, BLK_STS_OK);\n"
                    "\treturn BLK_STS_OK;", minors=0)
    out = format_transcript(shell.run_script("insmod nominor.ko\ndmesg\n"))
    assert "Traceback" not in out
    assert "WARNING: CPU: 0 PID: " in out and "block/genhd.c:446 device_add_disk" in out
    assert "nominor add_disk -22" in out
    assert "insmod: ERROR: could not insert module nominor.ko:" in out


def test_an_io_error_at_the_scan_is_one_line(tmp_path):
    """A driver that fails every request: add_disk's scan reads page 0 through read_folio,
    blk_print_req_error and buffer_io_error print (block/blk-mq.c, fs/buffer.c); what each
    of Debian's parsers reads again after that is not modelled: one line, the load undone."""
    shell = _driver(tmp_path, "broken", "blk_mq_end_request(bd->rq, BLK_STS_IOERR);\n"
                    "\treturn BLK_STS_OK;")
    out = format_transcript(shell.run_script("insmod broken.ko\ndmesg\nlsmod\n"))
    assert "Traceback" not in out
    assert "kcourse: broken0: add_disk's partition scan could not read sector 0" in out
    assert "I/O error, dev broken0, sector 0 op 0x0:(READ) flags 0x0 phys_seg 1 prio class " \
           "2\n" in out
    assert "Buffer I/O error on dev broken0, logical block 0, async page read" in out
    assert "\nbroken " not in out.split("$ lsmod")[1]


def _block_of(text: str, command: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(f"$ {command}") + 1
    return lines[start:next(i for i in range(start, len(lines)) if lines[i].startswith("[rc="))]


def _without(text: str, command: str) -> str:
    """The transcript without one command's block (what the simulator does not serve)."""
    lines = text.splitlines(True)
    start = lines.index(f"$ {command}\n")
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("[rc="))
    return "".join(lines[:start] + lines[end + 1:])


def test_debian_loop_runs_its_own_code_as_on_the_real_kernel(debian_modules_dir):
    kernel = Kernel(seed=0)
    shell = Shell(backend=kernel, debian_tree=True)
    script = (PROBES / "lab" / "loop.sh").read_text()
    sim = normalise(format_transcript(shell.run_script(script.replace(
        "rmmod loop", "grep -c loop-control /proc/devices\nrmmod loop"))))
    real = expected(PROBES / "lab" / "loop.expected")
    assert _without(sim, "grep -c loop-control /proc/devices") == real
    assert "237 loop-control" in real
    assert not kernel.modules
    # put_disk -> disk_release -> fops->free_disk (block/genhd.c:1230): lo_free_disk frees
    # each loop_device loop_add kzalloc'd
    assert not [a for a in kernel.memory.outstanding() if a.owner == "loop"]


def test_loop_control_is_misc_minor_237(debian_modules_dir):
    kernel = Kernel(seed=0)
    shell = Shell(backend=kernel, debian_tree=True)
    shell.run_script("modprobe loop\n")
    assert kernel.find_module("loop").code is not None  # its own code, not a stand-in
    assert chardev.devices(kernel.emulator)["loop-control"].minor == 237  # LOOP_CTRL_MINOR


def test_idr_gives_the_lowest_free_id_in_the_range(tmp_path):
    """idrprobe (tests/data/block/idrprobe, recorded on the real kernel): lib/idr.c idr_alloc
    gives the lowest free ID in [start, end), -ENOSPC when the range is full; idr_remove
    frees an ID for the next allocation; idr_for_each_entry walks in ID order."""
    folder = PROBES / "idrprobe"
    shell = build("idrprobe", tmp_path, (folder / "idrprobe.c").read_text())
    sim = normalise(format_transcript(shell.run_script((folder / "script.sh").read_text())))
    assert sim == expected(folder / "real.expected")
    assert "idrprobe 0 1 5 -28 0 1\n" in sim


def _loop_shell() -> Shell:
    return Shell(backend=Kernel(seed=0), debian_tree=True)


def test_proc_misc_is_the_guests(debian_modules_dir):
    """lab/misc.expected: the guest's misc devices, and loop-control (LOOP_CTRL_MINOR 237)
    listed first while loop is loaded (misc_register's list_add: newest first)."""
    sim = normalise(format_transcript(_loop_shell().run_script(
        (PROBES / "lab" / "misc.sh").read_text())))
    assert sim == expected(PROBES / "lab" / "misc.expected")


def test_a_dynamic_misc_minor_is_below_the_guests(tmp_path):
    """miscprobe (tests/data/block/miscprobe, recorded on the real kernel): misc.c
    misc_register takes find_first_zero_bit(misc_minors, DYNAMIC_MINORS) from 127 down and
    the guest holds 127, 126 and 125: 124. A fixed minor the guest holds (psaux's 1) is
    -EBUSY; a name it holds (hpet) is sysfs's duplicate and -EEXIST."""
    folder = PROBES / "miscprobe"
    shell = build("miscprobe", tmp_path, (folder / "miscprobe.c").read_text())
    sim = normalise(format_transcript(shell.run_script((folder / "script.sh").read_text())))
    assert sim == expected(folder / "real.expected")
    assert "miscprobe 0 minor 124 fixed -16" in sim
    assert "miscprobe hpet -17 minor 255" in sim  # the guest's hpet: sysfs's duplicate
