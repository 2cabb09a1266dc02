"""The input core (kcourse.kapi.input) and the device core under it (kcourse.kapi.devcore)
against Debian's real kernel in the lab's QEMU machine.

- inputprobe (tests/data/input/inputprobe, recorded by `scripts/record-kapifs.py --dir
  tests/data/input inputprobe`): input%lu numbers from input2 on, allocated even when the
  device is freed unregistered; input_register_device's EV_SYN, KEY_RESERVED cleared, a
  bitmap of a type not in evbit cleansed, hint_events_per_packet and max_vals, rep 250/33
  unless set, default keycode ops, "input: NAME as PATH" ("Unspecified device" without a
  name); key state through input_event (an unsupported key, a type not in evbit ignored),
  EV_REP updating rep[]; an EV_ABS device without absinfo refused by dev_err with -EINVAL;
  the sysfs name/phys/uniq and uevent (PRODUCT, NAME, PHYS, PROP, EV, KEY, MODALIAS); the
  directories gone after unregistering.
- LKMPG's vinput/vkbd (tests/test_lkmpg.py) puts an input device under a class device
  (/devices/virtual/vinput/vinput0/input2) made with device_register.
- /proc/version (tests/data/input/lab/version.expected): the guest's banner.
"""

from __future__ import annotations

from pathlib import Path

from conftest import need
from kcourse.backend import format_transcript
from kcourse.build.cell import build_cell
from kcourse.kapi import input as I
from kcourse.kapi import input_event as E
from kcourse.lab.compare import normalise
from kcourse.shell.core import Shell

PROBES = Path(__file__).parent / "data" / "input"
LKMPG = Path(__file__).parent.parent / "data" / "lkmpg"


def expected(path: Path) -> str:
    return "".join(line for line in path.read_text().splitlines(True)
                   if not line.startswith("#|"))


def run_probe(name: str, tmp_path: Path) -> str:
    built = build_cell(name, (PROBES / name / f"{name}.c").read_text(), base=tmp_path)
    need(built.ok, built.problem or built.output)
    shell = Shell(workdir=str(built.ko.parent))
    return normalise(format_transcript(shell.run_script((PROBES / name / "script.sh")
                                                        .read_text())))


def test_inputprobe_matches_the_real_kernel(tmp_path):
    real = expected(PROBES / "inputprobe" / "real.expected")
    assert "input: kcourse probe keys as /devices/virtual/input/input2" in real
    assert run_probe("inputprobe", tmp_path) == real


def test_the_first_input_number_a_module_gets_is_the_guests():
    """The lab's boot took input0 and input1; the recordings say input2."""
    assert "/input2\n" in expected(PROBES / "inputprobe" / "real.expected")
    assert "vinput0/input2\n" in expected(LKMPG / "vkbd" / "real.expected")
    assert I.FIRST_INPUT_NO == 2


def test_vkbd_puts_its_input_device_under_vinputs_class_device():
    shell = Shell(workdir=str(LKMPG))
    for line in ("insmod vinput/vinput.ko", "insmod vkbd/vkbd.ko",
                 "echo vkbd > /sys/class/vinput/export"):
        assert shell.run(line).rc == 0, line
    major = next(line.split()[0] for line in shell.run("cat /proc/devices").stdout.splitlines()
                 if line.endswith(" vinput"))
    assert shell.run("cat /sys/class/vinput/vinput0/dev").stdout == f"{major}:0\n"
    assert shell.run("cat /sys/class/input/input2/name").stdout == "vkbd\n"
    # vkbd_init fills vkeymap[i] = i for i < KEY_MAX and sets those bits: 0..0x2fe, less
    # KEY_RESERVED, which input_register_device clears
    uevent = shell.run("cat /sys/class/input/input2/uevent").stdout
    key = next(line for line in uevent.splitlines() if line.startswith("KEY="))
    assert key == "KEY=7fffffffffffffff " + "ffffffffffffffff " * 10 + "fffffffffffffffe"
    assert "EV=100003\n" in uevent  # EV_SYN, EV_KEY, EV_REP
    assert shell.run("echo 0 > /sys/class/vinput/unexport").rc == 0
    assert shell.run("ls /sys/class/input/input2").rc == 2
    assert shell.run("ls /dev/vinput0").rc == 2
    assert shell.run("rmmod vkbd").rc == 0 and shell.run("rmmod vinput").rc == 0


def test_bitmaps_print_as_the_kernel_prints_them():
    """input_print_bitmap: longs from the highest non-zero one down, in hex, no leading
    zero longs (drivers/input/input.c); KEY=402000002 3803078f800d001 ... as the guest's AT
    keyboard shows in /proc/bus/input/devices."""
    keys = (0x402000002 << 320) | (0x3803078F800D001 << 256) | 1
    assert I._bitmap_words(keys, I.KEY_MAX) == "402000002 3803078f800d001 0 0 0 1"
    assert I._bitmap_words(0, I.KEY_MAX) == "0"


def test_defuzz_follows_input_defuzz_abs_event():
    """drivers/input/input.c:55: within fuzz/2 the old value, within fuzz a quarter step,
    within 2*fuzz half a step, else the new value."""
    assert E._defuzz(103, 100, 10) == 100
    assert E._defuzz(108, 100, 10) == 102
    assert E._defuzz(115, 100, 10) == 107
    assert E._defuzz(130, 100, 10) == 130
    assert E._defuzz(101, 100, 0) == 101


def test_proc_version_is_the_guests():
    real = expected(PROBES / "lab" / "version.expected")
    shell = Shell()
    assert format_transcript(shell.run_script("cat /proc/version\n")) == real


def test_vkbd_exported_twice_and_removed_while_exported_matches_the_real_kernel():
    """Two vinput class devices with an input device each (input2, input3); rmmod vkbd
    unregisters both through vinput_unregister (device_unregister: vinput_release_dev); the
    guest's own input0 and mice are listed with them."""
    shell = Shell(workdir=str(LKMPG))
    sim = normalise(format_transcript(shell.run_script(
        (PROBES / "vkbd2" / "script.sh").read_text())))
    assert sim == expected(PROBES / "vkbd2" / "real.expected")


def test_the_guests_boot_input_devices_are_listed():
    real = expected(PROBES / "lab" / "boot-input.expected")
    listing = real.split("$ ls /sys/class/input\n", 1)[1].split("[rc=0]", 1)[0]
    assert Shell().run("ls /sys/class/input").stdout == listing
    links = real.split("mice\n", 2)[2].split("[rc=0]", 1)[0].split()
    from kcourse.kernel import vfs

    assert [target for _name, target in vfs.BOOT_INPUT] == links
    assert "AT Translated Set 2 keyboard" in real  # its files: one line, not a wrong answer
    name = Shell().run("cat /sys/class/input/input0/name")
    assert name.rc == 1 and name.stderr.count("\n") == 1
    assert "the guest's own input device, whose files the simulator does not model" in \
        name.stderr


def test_a_device_a_file_making_handler_would_take_stops_with_one_line(tmp_path):
    """On the guest mousedev gives a mouse-like device mouse0 and input-leds gives an LED
    device inputN::capslock (handlerprobe's recording); the simulator models no handler, so
    it says so rather than show a /sys/class/input without them."""
    real = expected(PROBES / "handlerprobe" / "real.expected")
    assert "\nmouse0\n" in real and "\ninput3::capslock\n" in real
    built = build_cell("handlerprobe", (PROBES / "handlerprobe" / "handlerprobe.c")
                       .read_text(), base=tmp_path)
    need(built.ok, built.problem or built.output)
    for which, handler in ((0, "mousedev"), (1, "input-leds")):
        shell = Shell(workdir=str(built.ko.parent))
        result = shell.run(f"insmod handlerprobe.ko which={which}")
        assert result.rc == 1 and len(result.stderr.splitlines()) == 1, result.stderr
        assert f"registers an input device that the guest's {handler} handler would " \
               "connect to" in result.stderr
        assert shell.run("ls /sys/class/input").stdout == "input0\nmice\n"
