"""`kcourse sim [--transcript] [SCRIPT]` (design.md contract), run as a real subprocess.

Exit status: the last command's status, in both modes, as for `bash SCRIPT`; a line that
cannot be parsed ends the script with one stderr line and status 2; a missing script is one
line and status 1 (kcourse/cli.py). Never a Python traceback.
"""

import subprocess
import sys

import pytest

from kcourse.backend import CommandResult, format_transcript


def sim(*args: str, stdin: str | None = None):
    return subprocess.run([sys.executable, "-m", "kcourse.cli", "sim", *args], input=stdin,
                          capture_output=True, text=True, check=False)


def test_plain_output_and_last_status(tmp_path):
    script = tmp_path / "s.sh"
    script.write_text("# load and list\ninsmod hello/hello.ko\nlsmod\nrmmod nosuch\n")
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


@pytest.mark.parametrize("bad", ["lsmod |", "echo 'open", "insmod hello/hello.ko &"])
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
