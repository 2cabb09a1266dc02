"""PCI and I2C driver registration (kcourse.kapi.pci, i2c, busdriver) on the lab's machine.

- busprobe (tests/data/kapi4/busprobe, recorded by `scripts/record-kapifs.py --dir
  tests/data/kapi4 busprobe`): a PCI driver whose ids match none of the guest's devices and
  an I2C driver on a bus without adapters register and probe nothing; the names the guest
  has (serial, dummy) are -EBUSY with the driver core's line; the drivers' sysfs files and
  /sys/module/<m>/drivers; and the struct offsets the model reads.
- lab/pci-i2c.expected (recorded by hand with `kcourse sim --real --transcript`): the
  guest's PCI and I2C drivers and its PCI devices with their ids; the model's tables must be
  those, and a driver matching one of those devices stops with one line.
"""

from __future__ import annotations

import re
from pathlib import Path

from conftest import need
from kcourse.backend import format_transcript
from kcourse.build.cell import build_cell
from kcourse.kapi import i2c, pci
from kcourse.lab.compare import normalise
from kcourse.shell.core import Shell

PROBES = Path(__file__).parent / "data" / "kapi4"


def expected(path: Path) -> str:
    return "".join(line for line in path.read_text().splitlines(True)
                   if not line.startswith("#|"))


def build(name: str, tmp_path: Path, source: str) -> Shell:
    built = build_cell(name, source, base=tmp_path)
    need(built.ok, built.problem or built.output)
    return Shell(workdir=str(built.ko.parent))


def test_busprobe_matches_the_real_kernel(tmp_path):
    shell = build("busprobe", tmp_path, (PROBES / "busprobe" / "busprobe.c").read_text())
    sim = normalise(format_transcript(shell.run_script(
        (PROBES / "busprobe" / "script.sh").read_text())))
    assert sim == expected(PROBES / "busprobe" / "real.expected")


def test_offsets_are_gccs():
    text = expected(PROBES / "busprobe" / "real.expected")
    line = next(line for line in text.splitlines() if "layout:" in line)
    assert [int(n) for n in line.split("layout:")[1].split()] == [
        pci.NAME, pci.ID_TABLE, 32, pci.DRIVER, pci.ID_SIZE, i2c.I2C_DRIVER, i2c.CLIENTS]


def _block(text: str, command: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(f"$ {command}") + 1
    return lines[start:next(i for i in range(start, len(lines)) if lines[i].startswith("[rc="))]


def test_the_guest_tables_are_the_recorded_ones():
    text = expected(PROBES / "lab" / "pci-i2c.expected")
    assert set(_block(text, "ls /sys/bus/pci/drivers")) == pci.BOOT
    listing = _block(text, "ls /sys/bus/i2c/drivers /sys/bus/i2c/devices")
    drivers = listing[listing.index("/sys/bus/i2c/drivers:") + 1:]
    assert set(drivers) == i2c.BOOT
    assert listing[listing.index("/sys/bus/i2c/devices:") + 1] == ""  # no adapter
    devices = [line.split() for line in text.splitlines()
               if line.startswith("/sys/bus/pci/devices/")]
    assert len(devices) == 4 and all(len(d) == 6 for d in devices)  # no driver column
    assert tuple((d[0].rsplit("/", 1)[1], *(int(x, 16) for x in d[1:])) for d in devices) == \
        pci.GUEST_DEVICES


IDE = r"""
#include <linux/module.h>
#include <linux/pci.h>
static int p(struct pci_dev *dev, const struct pci_device_id *id) { return 0; }
static const struct pci_device_id ids[] = {
	{ PCI_DEVICE(0x1234, 0x1111) },
	{ PCI_DEVICE_CLASS(PCI_CLASS_BRIDGE_ISA << 8, 0xffff00) },
	{ }
};
static struct pci_driver d = { .name = "kcisa", .id_table = ids, .probe = p };
module_pci_driver(d);
MODULE_LICENSE("GPL");
"""


def test_a_driver_for_a_guest_device_stops_with_one_line(tmp_path):
    """pci_match_one_device: class 0x0601xx under mask 0xffff00 is the ISA bridge 00:01.0."""
    shell = build("kcisa", tmp_path, IDE)
    text = format_transcript(shell.run_script("insmod kcisa.ko\nlsmod\n"))
    assert re.search(r"PCI driver kcisa matches the lab machine's device 0000:00:01\.0 "
                     r"\(8086:7000\)", text), text
    assert "Traceback" not in text and "kcisa" not in _block(text, "lsmod")
