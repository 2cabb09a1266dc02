"""The real-kernel lab against the real kernel: Debian's 6.1 kernel booted under QEMU.

Every expected text here was seen on a real Debian kernel and recorded in
../shared/notes/real-kernel-lab.md (section "What the real kernel said"), or is quoted from
the kernel source (cited). The whole file is one boot: one script, run once, and each test
looks at the lines it is about. Needs qemu-system-x86_64 and Debian's package registry
(under CI, KCOURSE_REQUIRE_REAL=1, their absence fails the tests instead of skipping them).
"""

import re

import pytest

from conftest import need, need_tool
from kcourse.errors import KcourseError
from kcourse.lab import tamper
from kcourse.paths import course_module


@pytest.fixture(scope="module")
def lab_kernel():
    need_tool("qemu-system-x86_64")
    from kcourse.lab import RealKernel, prepare_lab

    try:
        lab = prepare_lab()
    except KcourseError as err:
        need(False, f"the real-kernel lab cannot be prepared: {err}")
    return RealKernel(lab=lab, timeout=180)


SESSION = [  # the note's session, from the folder the module is in
    "cd hello",
    "cat /proc/modules",
    "insmod hello.ko",
    "lsmod",
    "cat /sys/module/hello/refcnt",
    "ls /sys/module/hello",
    "cat /sys/module/hello/initstate /sys/module/hello/initsize /sys/module/hello/taint",
    "cat /proc/sys/kernel/tainted",
    "echo 3 > /sys/module/hello/parameters/count",
    "echo you > /sys/module/hello/parameters/whom",
    "insmod hello.ko",
    "rmmod hello",
    "dmesg",
    "cd ..",
    "insmod consumer/consumer.ko",
    "insmod provider/provider.ko",
    "insmod consumer/consumer.ko",
    "cat /proc/modules",
    "rmmod provider",
    "rmmod consumer provider",
]
TAMPERED = [  # {dir} is replaced by the folder holding the tampered copies
    "insmod {dir}/release.ko",
    "rmmod release",
    "insmod {dir}/nopreempt.ko",
    "insmod {dir}/badcrc.ko",
]


@pytest.fixture(scope="module")
def session(lab_kernel, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tampered")
    hello = course_module("hello").read_bytes()
    magic = tamper.modinfo_value(hello, "vermagic")
    release = magic.split(" ", 1)[0]
    other = re.sub(r"-(\d+)-", lambda m: f"-{int(m.group(1)) + 1}-", release, count=1)
    copies = {
        "release.ko": tamper.vermagic(hello, magic.replace(release, other, 1)),
        "nopreempt.ko": tamper.vermagic(hello, magic.replace("preempt ", "", 1)),
        "badcrc.ko": tamper.crc(hello, "module_layout",
                                tamper.current_crc(hello, "module_layout") ^ 1),
    }
    for name, data in copies.items():
        (folder / name).write_bytes(data)
    lines = SESSION + [line.format(dir=folder) for line in TAMPERED]
    results = lab_kernel.run_script(lines)
    assert [r.line for r in results] == lines
    return {"by_line": results, "magic": magic, "release": lab_kernel.release}


def result(session, line, nth=0):
    matches = [r for r in session["by_line"] if r.line == line]
    return matches[nth]


def test_proc_modules_before_and_after(session):
    assert result(session, "cat /proc/modules").stdout == ""
    insmod = result(session, "insmod hello.ko")
    assert insmod.rc == 0 and insmod.stdout == insmod.stderr == ""
    after = result(session, "cat /proc/modules", 1).stdout.splitlines()
    # note: "hello 16384 0 - Live 0xffffffffc04ba000 (OE)"; modB/modA: "1 modB, Live"
    assert re.fullmatch(r"consumer 16384 0 - Live 0x[0-9a-f]{16} \(OE\)", after[0])
    assert re.fullmatch(r"provider 16384 1 consumer, Live 0x[0-9a-f]{16} \(OE\)", after[1])


def test_lsmod_refcnt_and_sysfs(session):
    assert result(session, "lsmod").stdout == (
        "Module                  Size  Used by\nhello                  16384  0\n")
    assert result(session, "cat /sys/module/hello/refcnt").stdout == "0\n"
    assert result(session, "ls /sys/module/hello").stdout.split() == (
        "coresize holders initsize initstate notes parameters refcnt sections srcversion "
        "taint uevent version").split()
    assert result(session, "cat /sys/module/hello/initstate /sys/module/hello/initsize "
                           "/sys/module/hello/taint").stdout == "live\n0\nOE\n"
    assert result(session, "cat /proc/sys/kernel/tainted").stdout == "12288\n"


def test_parameters_permissions(session):
    denied = result(session, "echo 3 > /sys/module/hello/parameters/count")
    # note: a 0444 parameter cannot be written (Permission denied); bash names the file.
    assert denied.rc == 1
    assert denied.stderr == "bash: /sys/module/hello/parameters/count: Permission denied\n"
    assert result(session, "echo you > /sys/module/hello/parameters/whom").rc == 0


def test_load_messages_and_unload(session):
    # The first out-of-tree, unsigned module taints the kernel, twice (note: dmesg lines).
    assert result(session, "insmod hello.ko").dmesg == (
        "hello: loading out-of-tree module taints kernel.",
        "hello: module verification failed: signature and/or required key missing - "
        "tainting kernel",
        "hello: hello, world (count=1)",  # hello.c: pr_info("hello, %s (count=%d)\n", ...)
    )
    again = result(session, "insmod hello.ko", 1)
    assert again.rc == 1
    assert again.stderr == "insmod: ERROR: could not insert module hello.ko: File exists\n"
    rmmod = result(session, "rmmod hello")
    # `echo you > .../whom` stored "you\n": kernel/params.c param_set_charp copies the value
    # as written, newline included, so "goodbye, %s\n" ends the record with an empty line.
    assert rmmod.rc == 0 and rmmod.dmesg == ("hello: goodbye, you", "")
    log = result(session, "dmesg").stdout.splitlines()
    assert [re.sub(r"^\[\s*\d+\.\d{6}\] ", "", x) for x in log] == [
        "hello: loading out-of-tree module taints kernel.",
        "hello: module verification failed: signature and/or required key missing - "
        "tainting kernel",
        "hello: hello, world (count=1)",
        "hello: goodbye, you",
        "",
    ]
    assert all(re.match(r"^\[\s*\d+\.\d{6}\] ", x) for x in log[:-1])


def test_unknown_symbol_and_in_use(session):
    missing = result(session, "insmod consumer/consumer.ko")
    assert missing.rc == 1
    assert missing.stderr == (
        "insmod: ERROR: could not insert module consumer/consumer.ko: Unknown symbol in module\n")
    assert "consumer: Unknown symbol provider_add (err -2)" in missing.dmesg
    busy = result(session, "rmmod provider")
    assert busy.rc == 1 and busy.stderr == "rmmod: ERROR: Module provider is in use by: consumer\n"
    assert result(session, "rmmod consumer provider").rc == 0


def test_vermagic_and_crc_checks(session):
    magic, release = session["magic"], session["release"]
    # note: with modversions, only the release part changed still loads.
    assert result(session, next(r.line for r in session["by_line"]
                                if r.line.endswith("/release.ko"))).rc == 0
    nopreempt = next(r for r in session["by_line"] if r.line.endswith("/nopreempt.ko"))
    assert nopreempt.rc == 1 and nopreempt.stderr.endswith(": Invalid module format\n")
    tampered = magic.replace("preempt ", "", 1)
    assert nopreempt.dmesg == (f"hello: version magic '{tampered}' should be '{magic}'",)
    assert magic.startswith(release)
    badcrc = next(r for r in session["by_line"] if r.line.endswith("/badcrc.ko"))
    assert badcrc.rc == 1 and badcrc.stderr.endswith(": Invalid module format\n")
    assert badcrc.dmesg == ("hello: disagrees about version of symbol module_layout",)
