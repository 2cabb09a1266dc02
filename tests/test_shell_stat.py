"""kshell's `stat -c FORMAT` against coreutils' stat, on the same host files (a folder the
simulated shell starts in is the host's)."""

import os
import subprocess

from kcourse.shell import Shell

FORMAT = "%n|%s|%a|%A|%F|%h|%U:%G|%%"


def test_stat_c_prints_what_coreutils_prints(tmp_path):
    (tmp_path / "data.txt").write_text("twelve bytes")
    (tmp_path / "empty").write_text("")
    os.chmod(tmp_path / "empty", 0o600)
    (tmp_path / "sub").mkdir()
    os.symlink("data.txt", tmp_path / "link")
    names = ["data.txt", "empty", "link", "nope"]
    real = subprocess.run(["stat", "-c", FORMAT, *names], cwd=tmp_path, capture_output=True,
                          text=True)
    got = Shell(workdir=str(tmp_path)).run(f"stat -c '{FORMAT}' " + " ".join(names))
    assert (got.stdout, got.stderr, got.rc) == (real.stdout, real.stderr, real.returncode)


def test_stat_of_a_proc_file():
    got = Shell().run("stat -c '%n %a %F' /proc/modules")
    assert got.stdout == "/proc/modules 444 regular empty file\n"  # procfs: size 0
