"""stat -c in the simulator's shell, held to coreutils 9.1 on Debian's real kernel.

EXPECTED is what `kcourse sim --real --transcript` printed for these lines on the lab's guest
(Debian 12, 6.1.0-56-amd64, coreutils 9.1), 2026-12-03. `stat` without -c prints times and
device numbers the simulated machine does not keep: one kshell line instead.
"""

import os
import subprocess

from kcourse.backend import format_transcript
from kcourse.kernel.kernel import Kernel
from kcourse.shell.core import Shell

LINES = ["stat -c '%n %s %a %A %U:%G %u %F' /proc /proc/modules /sys/kernel /sys/module",
         "stat -c %n /nonexistent", "stat"]
EXPECTED = """\
$ stat -c '%n %s %a %A %U:%G %u %F' /proc /proc/modules /sys/kernel /sys/module
/proc 0 555 dr-xr-xr-x root:root 0 directory
/proc/modules 0 444 -r--r--r-- root:root 0 regular empty file
/sys/kernel 0 755 drwxr-xr-x root:root 0 directory
/sys/module 0 755 drwxr-xr-x root:root 0 directory
[rc=0]
$ stat -c %n /nonexistent
stat: cannot statx '/nonexistent': No such file or directory
[rc=1]
$ stat
stat: missing operand
Try 'stat --help' for more information.
[rc=1]
"""


def test_stat_format_is_coreutils():
    shell = Shell(Kernel(seed=0))
    assert format_transcript([shell.run(line) for line in LINES]) == EXPECTED


def test_stat_without_a_format_is_one_clear_line():
    out = Shell(Kernel(seed=0)).run("stat /proc")
    assert out.rc == 1 and out.stderr.count("\n") == 1 and "kshell: stat" in out.stderr


def test_an_unsupported_directive_is_one_clear_line():
    out = Shell(Kernel(seed=0)).run("stat -c %W /proc")
    assert out.rc == 1 and out.stderr == "kshell: stat: the directive %W is not supported\n"


HOST_FORMAT = "%n|%s|%a|%A|%F|%U:%G"



def test_stat_c_on_host_files_prints_what_coreutils_prints(tmp_path):
    (tmp_path / "data.txt").write_text("twelve bytes")
    (tmp_path / "empty").write_text("")
    os.chmod(tmp_path / "empty", 0o600)
    (tmp_path / "sub").mkdir()
    os.symlink("data.txt", tmp_path / "link")
    names = ["data.txt", "empty", "link", "nope"]
    real = subprocess.run(["stat", "-c", HOST_FORMAT, *names], cwd=tmp_path, capture_output=True,
                          text=True)
    got = Shell(workdir=str(tmp_path)).run(f"stat -c '{HOST_FORMAT}' " + " ".join(names))
    assert (got.stdout, got.stderr, got.rc) == (real.stdout, real.stderr, real.returncode)


def test_stat_of_proc_modules_is_an_empty_regular_file():
    got = Shell().run("stat -c '%n %a %F' /proc/modules")
    assert got.stdout == "/proc/modules 444 regular empty file\n"  # procfs: size 0
