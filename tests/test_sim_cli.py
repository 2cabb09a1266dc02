"""`kcourse sim [--transcript] [SCRIPT]` (design.md contract), run as a real subprocess.

Exit status: the last command's status, in both modes, as for `bash SCRIPT`; a line that
cannot be parsed ends the script with one stderr line and status 2; a missing script is one
line and status 1 (kcourse/cli.py). Never a Python traceback.
"""

import subprocess
import sys

import pytest

from conftest import need_tool
from kcourse.backend import CommandResult, format_transcript


def sim(*args: str, stdin: str | None = None, cwd=None):
    return subprocess.run([sys.executable, "-m", "kcourse.cli", "sim", *args], input=stdin,
                          capture_output=True, text=True, check=False, cwd=cwd)


def test_plain_output_and_last_status(tmp_path):
    script = tmp_path / "s.sh"
    script.write_text("# load and list\ninsmod /root/modules/hello/hello.ko\nlsmod\n"
                      "rmmod nosuch\n")
    proc = sim(str(script))
    assert proc.stdout == "Module                  Size  Used by\nhello                  16384  0\n"
    assert proc.stderr == "rmmod: ERROR: Module nosuch is not currently loaded\n"
    assert proc.returncode == 1
    script.write_text("rmmod nosuch\nlsmod\n")
    assert sim(str(script)).returncode == 0


def test_transcript_mode_matches_format_transcript():
    proc = sim("--transcript", stdin="uname -r\nfoo\n")
    release = proc.stdout.splitlines()[1]
    expected = format_transcript([
        CommandResult("uname -r", f"{release}\n", "", 0),
        CommandResult("foo", "", "bash: foo: command not found\n", 127),
    ])
    assert proc.stdout == expected
    assert proc.returncode == 127


def test_stdin_with_dash_and_empty_script():
    assert sim("-", stdin="echo hi\n").stdout == "hi\n"
    proc = sim(stdin="# nothing\n\n")
    assert (proc.stdout, proc.stderr, proc.returncode) == ("", "", 0)


@pytest.mark.parametrize("bad", ["lsmod |", "echo 'open", "insmod hello/hello.ko && done"])
def test_bad_line_is_one_clear_line_and_stops(tmp_path, bad):
    script = tmp_path / "bad.sh"
    script.write_text(f"echo before\n{bad}\necho after\n")
    proc = sim(str(script))
    assert proc.stdout == "before\n"
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{script}: line 2: ")
    assert "Traceback" not in proc.stderr


def test_missing_script_and_bad_option():
    proc = sim("/nonexistent/script.sh")
    assert proc.returncode == 1
    assert proc.stderr == ("kcourse sim: cannot read /nonexistent/script.sh: "
                           "No such file or directory\n")
    proc = sim("--bogus")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


def test_real_is_handed_to_the_lab(monkeypatch):
    """`kcourse sim --real` is kcourse.lab.cli.real_sim_main (faked: no QEMU boot here)."""
    import kcourse.lab.cli
    from kcourse.shell import sim_main

    seen = []
    monkeypatch.setattr(kcourse.lab.cli, "real_sim_main", lambda argv: seen.append(argv) or 7)
    assert sim_main(["--real", "--transcript", "x.sh"]) == 7
    assert seen == [["--real", "--transcript", "x.sh"]]


def test_help():
    proc = sim("--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: kcourse sim")


def test_debian_puts_debians_whole_tree_in_lib_modules(debian_modules_dir):
    """`--debian`: modprobe finds Debian's modules in the simulated /lib/modules. References:
    kmod's own depmod on Debian's tree (`depmod -n -b`) for the order modprobe loads 8021q's
    dependencies in, and Debian's kernel under QEMU (tests/scenarios/lab_debian.expected) for
    lsmod after `modprobe dummy`."""
    release = debian_modules_dir.name
    depmod = need_tool("depmod")
    index = subprocess.run([depmod, "-n", "-b", str(debian_modules_dir.parents[2]), release],
                           capture_output=True, text=True, check=True).stdout
    line = next(x for x in index.splitlines() if x.startswith("kernel/net/8021q/8021q.ko:"))
    rel, _, deps = line.partition(":")
    # libkmod-module.c kmod_module_parse_depline prepends each entry: modprobe loads the
    # modules.dep list from its end, the module itself last.
    order = [*reversed(deps.split()), rel]
    proc = sim("--debian", "--transcript", stdin="modprobe -n -v 8021q\nmodprobe dummy\nlsmod\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == format_transcript([
        CommandResult("modprobe -n -v 8021q",
                      "".join(f"insmod /lib/modules/{release}/{r} \n" for r in order), "", 0),
        CommandResult("modprobe dummy", "", "", 0),
        CommandResult("lsmod", "Module                  Size  Used by\n"
                               "dummy                  16384  0\n", "", 0),
    ])
    assert sim("--transcript", stdin="modprobe dummy\n").stdout.splitlines()[1] == (
        f"modprobe: FATAL: Module dummy not found in directory /lib/modules/{release}")


def test_debian_without_the_cache_is_one_line_naming_the_fetch_command(tmp_path):
    import os

    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "kcourse.cli", "sim", "--debian"],
                          input="insmod hello/hello.ko\n", capture_output=True, text=True,
                          env=env, check=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("kcourse sim: ")
    assert "not in the cache" in proc.stderr
    assert "`kcourse lab-prepare --modules-only`" in proc.stderr
    assert not (tmp_path / "kcourse" / "debian").exists()  # nothing was downloaded


def test_debian_and_real_are_refused_together():
    proc = sim("--real", "--debian", stdin="lsmod\n")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "--real and --debian" in proc.stderr


def test_starts_in_the_callers_folder(tmp_path):
    """design.md: `kcourse sim` starts in the caller's working directory, so a module built
    there loads by its relative name (bash's pwd prints the same folder)."""
    import shutil

    from kcourse.paths import course_module

    shutil.copy(course_module("hello"), tmp_path / "mine.ko")
    proc = sim("--transcript", stdin="pwd\ninsmod mine.ko\nlsmod\nls\n", cwd=tmp_path)
    real_pwd = subprocess.run(["bash", "-c", "pwd"], cwd=tmp_path, capture_output=True,
                              text=True).stdout
    assert proc.stdout.splitlines()[:3] == ["$ pwd", real_pwd.strip(), "[rc=0]"]
    assert "$ insmod mine.ko\n[rc=0]\n" in proc.stdout
    # the kernel names a module by its .gnu.linkonce.this_module name, not its file name
    assert "hello                  16384  0\n" in proc.stdout
    assert "$ ls\nmine.ko\n[rc=0]\n" in proc.stdout


def test_a_folder_under_root_stays_the_hosts(tmp_path, monkeypatch):
    """root's home is /root, where the simulator also keeps /root/modules: a learner's
    /root/work folder still shows its own files."""
    from kcourse.shell import Shell
    from kcourse.shell.fs import SimFS

    assert SimFS.can_mount("/root/work") and SimFS.can_mount(str(tmp_path))
    assert not any(SimFS.can_mount(p) for p in ("/", "/root", "/proc/self", "/sys",
                                                 "/root/modules/hello", "/lib/modules"))
    shell = Shell(workdir=str(tmp_path))
    (tmp_path / "note.txt").write_text("hi\n")
    assert shell.run("cat note.txt").stdout == "hi\n"
    assert shell.run("ls /root/modules/hello/hello.ko").rc == 0
    assert Shell(workdir="/proc").cwd == "/root/modules"  # the kernel's own tree: not mounted
