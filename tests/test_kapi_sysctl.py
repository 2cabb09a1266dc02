"""/proc/sys tables (kcourse.kapi.sysctl) against Debian's real kernel: cdrom runs its own code.

tests/data/fsys/cdrom/real.expected (script.sh there), recorded on Debian's 6.1.0-56-amd64
under QEMU: /proc/sys before and after `modprobe cdrom`, the files of /proc/sys/dev/cdrom
(cdrom_sysctl_register, drivers/cdrom/cdrom.c:3700), `info` through cdrom_sysctl_info and
proc_dostring, the int files through cdrom_sysctl_handler and proc_dointvec (good and bad
values), a write refused by the 0444 mode, rmmod, and the module's parameters as the
defaults the sysctl files start with.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import need, recorded
from kcourse.backend import format_transcript
from kcourse.kapi import sysctl
from kcourse.lab.compare import normalise
from kcourse.shell import Shell

DATA = Path(__file__).parent / "data" / "fsys"


@pytest.fixture
def cdrom_shell(tree_shell):
    return tree_shell(["cdrom"])


def test_cdrom_matches_the_real_recording(cdrom_shell):
    real = recorded(DATA / "cdrom" / "real.expected")
    for fact in ("cdrom\nhpet\nmac_hid\ntty\n", "CD-ROM information, Id: cdrom.c 3.20",
                 "-r--r--r-- 0 regular empty file /proc/sys/dev/cdrom/info",
                 "$ cat /proc/sys/dev/cdrom/check_media\n16\n",
                 "cdrom: Uniform CD-ROM driver unloaded"):
        assert fact in real
    sim = normalise(format_transcript(cdrom_shell.run_script(
        (DATA / "cdrom" / "script.sh").read_text())))
    assert sim == real


def test_cdrom_runs_its_own_sysctl_code(cdrom_shell):
    """The files are the module's table: its handler is cdrom's own code, its data cdrom's
    cdrom_sysctl_settings (a write lands in the module's memory)."""
    sh = cdrom_shell
    assert sh.run("modprobe cdrom").rc == 0
    (mod,) = sh.kernel.modules
    assert mod.code is not None and not sh.kernel.notes
    node = sh.kernel.nodes.get("/proc/sys/dev/cdrom/debug")
    machine = sh.kernel.emulator
    handler = machine.space.read_u64(node.data["table"] + sysctl.CTL["proc_handler"])
    assert machine.symbolize(handler).startswith("cdrom_sysctl_handler")
    data = machine.space.read_u64(node.data["table"] + sysctl.CTL["data"])
    assert sh.run("echo 42 > /proc/sys/dev/cdrom/debug").rc == 0
    assert int.from_bytes(machine.space.read(data, 4), "little") == 42


def test_an_open_file_of_a_removed_table_is_enoent(cdrom_shell):
    """sysctl_head_grab fails once the table is unregistered (fs/proc/proc_sysctl.c)."""
    sh = cdrom_shell
    assert sh.run("modprobe cdrom").rc == 0
    fd = sh.kernel.open("/proc/sys/dev/cdrom/autoclose")
    assert sh.run("rmmod cdrom").rc == 0
    from kcourse.kernel.errno import KernelErrno

    with pytest.raises(KernelErrno) as err:
        sh.kernel.read(fd, 10)
    assert err.value.errno == sysctl.ENOENT
    sh.kernel.close(fd)
    assert sh.run("cat /proc/sys/dev/cdrom/autoclose").rc == 1


@pytest.mark.parametrize(("text", "expected"), [
    (b"12", (12, False, 2)), (b"-3 ", (3, True, 2)), (b"0x1f\n", (31, False, 4)),
    (b"017", (15, False, 3)), (b"0x", -22), (b"x", -22), (b"-", -22), (b"12a", -22),
    (b"99999999999999999999", -22), (b"1" * 21, -22), (b"18446744073709551616", -22),
])
def test_proc_get_long_reads_numbers_as_the_kernel_does(text, expected):
    """kernel/sysctl.c proc_get_long with proc_wspace_sep: base 0 (0x hex, 0 octal), a sign,
    21 characters at most, a trailer that must be white space; an overflow is -EINVAL."""
    assert sysctl.proc_get_long(text) == expected


def dump_stacks_as_frames(transcript: str) -> str:
    """Each dump_stack block (its "CPU: 0 PID:" line to " </TASK>", then the user registers
    the real kernel prints after it) as the frames both sides must have: dump_stack_lvl,
    __register_sysctl_table and the module's init. The rest of a call trace (the syscall's
    frames, "?" guesses from stale stack words) and the PIDs are the simulator's model."""
    out, block = [], None
    for line in transcript.splitlines():
        text = line.removeprefix("[TIME] ")
        if text.startswith("CPU: 0 PID: "):
            block = []
            continue
        if block is not None:
            if text == " </TASK>":
                out.append("[dump_stack] " + " | ".join(block))
                block = None
            elif text.split("+")[0].strip() in ("dump_stack_lvl", "__register_sysctl_table",
                                                "sysctlprobe_init"):
                block.append(text.strip())
            continue
        if text.startswith(("RIP: 0033", "Code: ", "RSP: 002b", "RAX: ", "RDX: ", "RBP: ",
                            "R10: ", "R13: ")):
            continue
        out.append(line)
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def sysctlprobe(tmp_path_factory):
    from kcourse.build.cell import build_cell

    folder = DATA / "sysctlprobe"
    built = build_cell("sysctlprobe", (folder / "sysctlprobe.c").read_text(),
                       base=tmp_path_factory.mktemp("sysctlprobe"))
    need(built.ok, built.problem or built.output)
    return built.ko


def test_sysctlprobe_matches_the_real_kernel(sysctlprobe):
    """tests/data/fsys/sysctlprobe (scripts/record-kapifs.py --dir tests/data/fsys): the
    table checks' lines, a duplicate in a new directory, a file on the path (-ENOTDIR), an
    empty table, int vectors and a string through proc_dointvec and proc_dostring,
    register_filesystem's -EBUSY and unregister_filesystem's -EINVAL."""
    real = recorded(DATA / "sysctlprobe" / "real.expected")
    for fact in ("sysctl table check failed: kcourse/bad/bogus bogus .mode 01644",
                 "sysctl could not get directory: /kcourse/probe/values -20",
                 "sysctl duplicate entry: /kcourse/twice/same", "kcprobe again: -16",
                 "unregister never: -22", "nodev\tkcprobe\n\tkcblock\n",
                 "$ cat /proc/sys/kcourse/probe/values\n-2147483648\t2\t3\n",
                 "a long name of \n", "__register_sysctl_table+0x3cd/0x600"):
        assert fact in real
    shell = Shell(workdir=str(sysctlprobe.parent))
    sim = normalise(format_transcript(shell.run_script(
        (DATA / "sysctlprobe" / "script.sh").read_text())))
    assert real.count("CPU: 0 PID: ") == 3
    assert dump_stacks_as_frames(sim) == dump_stacks_as_frames(real)


def test_a_duplicate_among_other_entries_stops(sysctlprobe, tmp_path):
    """Registering cdrom's table twice would empty /proc/sys/dev/cdrom on the real 6.1
    kernel (erase_header; see sysctl.py): the simulator stops there with one line."""
    from kcourse.build.cell import build_cell

    source = (DATA / "sysctlprobe" / "sysctlprobe.c").read_text().replace(
        'pr_info("sysctlprobe: register kcourse/probe: %s\\n", probe_header ? "ok" : "NULL");',
        'register_sysctl("kcourse/probe", probe_table);')
    assert "register_sysctl(\"kcourse/probe\", probe_table);" in source
    built = build_cell("sysctlprobe", source, base=tmp_path)
    need(built.ok, built.problem or built.output)
    shell = Shell(workdir=str(built.ko.parent))
    r = shell.run("insmod sysctlprobe.ko")
    assert r.rc != 0 and "registers 'values' twice in /proc/sys/kcourse/probe" in r.stderr
    assert r.stderr.count("\n") == 1
    assert shell.run("ls /proc/sys/kcourse").rc != 0  # the stopped load is unwound


def test_a_table_left_behind_oopses_or_stops(tmp_path):
    """tests/data/fsys/sysctlleak: a module that forgets unregister_sysctl_table and
    unregister_filesystem. On the real kernel every later read of what it left is a page
    fault in its freed memory: cat (proc_sys_permission), ls (proc_sys_readdir) and
    /proc/filesystems (filesystems_proc_show) are all killed. The simulator oopses the cat
    the same way and stops the other two with one line (their oopses are not modelled)."""
    from kcourse.build.cell import build_cell

    folder = DATA / "sysctlleak"
    real = recorded(folder / "real.expected")
    assert real.count("[rc=137]") == 3
    built = build_cell("sysctlleak", (folder / "sysctlleak.c").read_text(), base=tmp_path)
    need(built.ok, built.problem or built.output)
    sh = Shell(workdir=str(built.ko.parent))
    results = sh.run_script((folder / "script.sh").read_text())
    assert [r.rc for r in results] == [0, 0, 0, 137, 1, 1]
    assert results[1].stdout == "3\n"
    assert any("BUG: unable to handle page fault" in line for line in results[3].dmesg)
    for r in results[4:]:
        assert r.stderr.count("\n") == 1 and "not modelled" in r.stderr
