"""The platform bus, devres and DMA (kcourse.kapi.platform, devres, dma) against Debian's real
kernel in the lab's QEMU machine.

- platprobe (tests/data/kapi4/platprobe, recorded by `scripts/record-kapifs.py --dir
  tests/data/kapi4 platprobe`): a device registered before its driver and one after (the
  platform ida's first free id is 1: the guest's alarmtimer.0.auto holds 0), a probe that
  fails with dev_err_probe (the driver core's "probe of ... failed with error -22", the
  device left unbound), a driver name the guest already has (-EBUSY), devm_kzalloc's
  kmalloc-192 for 100 bytes (a 40-byte devres header), dma_map_single's address equal to
  virt_to_phys, an 8 KiB coherent buffer 8 KiB aligned, the sysfs files of devices and
  drivers, /sys/module/<m>/drivers, and the removes newest first at driver_unregister.
- lab/platform-bus.expected and lab/platform-devices.expected (recorded by hand with
  `kcourse sim --real --transcript`): the guest's boot drivers and devices, which of those
  devices no driver holds, and the power/ files of a device without runtime PM; the model's
  tables must be those.
"""

from __future__ import annotations

import re
from pathlib import Path

from conftest import need
from kcourse.backend import format_transcript
from kcourse.build.cell import build_cell
from kcourse.kapi import platform
from kcourse.lab.compare import normalise
from kcourse.shell.core import Shell

PROBES = Path(__file__).parent / "data" / "kapi4"
LAB = PROBES / "lab"


def expected(path: Path) -> str:
    return "".join(line for line in path.read_text().splitlines(True)
                   if not line.startswith("#|"))


def build(name: str, tmp_path: Path, source: str | None = None) -> Shell:
    built = build_cell(name, source or (PROBES / name / f"{name}.c").read_text(), base=tmp_path)
    need(built.ok, built.problem or built.output)
    return Shell(workdir=str(built.ko.parent))


def _output_of(transcript: str, command: str) -> list[str]:
    """The output lines of `$ command` in a recorded transcript."""
    lines = transcript.splitlines()
    start = lines.index(f"$ {command}") + 1
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("[rc="))
    return lines[start:end]


def test_platprobe_matches_the_real_kernel(tmp_path):
    shell = build("platprobe", tmp_path)
    script = (PROBES / "platprobe" / "script.sh").read_text()
    sim = normalise(format_transcript(shell.run_script(script)))
    assert sim == expected(PROBES / "platprobe" / "real.expected")


def test_the_boot_tables_are_the_guests():
    bus = expected(LAB / "platform-bus.expected")
    assert set(_output_of(bus, "ls /sys/bus/platform/drivers")) == platform.BOOT_DRIVERS
    assert set(_output_of(bus, "ls /sys/bus/platform/devices")) == platform.BOOT_DEVICES
    devices = expected(LAB / "platform-devices.expected")
    unbound = re.findall(r"cannot access '/sys/bus/platform/devices/([^/]+)/driver'", devices)
    modaliases = _output_of(devices, next(line[2:] for line in devices.splitlines()
                                          if line.startswith("$ cat") and "modalias" in line))
    names = {m.split(":", 1)[1] for m in modaliases if m.startswith("platform:")}
    acpi = {m.split(":")[1] for m in modaliases if m.startswith("acpi:")}
    assert len(unbound) == len(modaliases) == 4
    assert names == platform.UNBOUND_NAMES and acpi == platform.UNBOUND_ACPI


def test_power_files_read_as_the_guests(tmp_path):
    devices = expected(LAB / "platform-devices.expected")
    real = _output_of(devices, 'for f in *; do echo "$f: $(cat $f)"; done')
    shell = build("platprobe", tmp_path)
    shell.run_script("insmod platprobe.ko\n")
    results = shell.run_script("cd /sys/devices/platform/kcplat.3/power\n"
                               'for f in *; do echo "$f: $(cat $f)"; done\n')
    assert format_transcript(results).splitlines()[3:-1] == real


DEFER = r"""
#include <linux/module.h>
#include <linux/platform_device.h>
static struct platform_device *pd;
static int p(struct platform_device *pdev) { return -EPROBE_DEFER; }
static struct platform_driver d = { .probe = p, .driver = { .name = "kcdefer" } };
static int __init i(void)
{
	pd = platform_device_register_simple("kcdefer", -1, NULL, 0);
	return platform_driver_register(&d);
}
static void __exit e(void) { platform_driver_unregister(&d); platform_device_unregister(pd); }
module_init(i);
module_exit(e);
MODULE_LICENSE("GPL");
"""


def test_deferred_probing_stops_with_one_line_and_unwinds(tmp_path):
    shell = build("kcdefer", tmp_path, DEFER)
    results = shell.run_script("insmod kcdefer.ko\nls /sys/bus/platform/drivers\n")
    text = format_transcript(results)
    assert "deferred probing (drivers/base/dd.c) is not modelled" in text
    assert "Traceback" not in text
    assert "kcdefer" not in _output_of(text, "ls /sys/bus/platform/drivers")


PCSPKR = r"""
#include <linux/module.h>
#include <linux/platform_device.h>
static int p(struct platform_device *pdev) { return 0; }
static struct platform_driver d = { .probe = p, .driver = { .name = "pcspkr" } };
module_platform_driver(d);
MODULE_LICENSE("GPL");
"""


def test_a_driver_for_the_guests_own_unbound_device_stops_with_one_line(tmp_path):
    """The guest's pcspkr platform device has no driver (lab/platform-devices.expected): a
    driver named pcspkr would probe the machine's real speaker, which is not modelled."""
    shell = build("kcspkr", tmp_path, PCSPKR)
    text = format_transcript(shell.run_script("insmod kcspkr.ko\nlsmod\n"))
    assert "platform driver pcspkr would bind the lab machine's own device pcspkr" in text
    assert "Traceback" not in text and "kcspkr" not in _output_of(text, "lsmod")
