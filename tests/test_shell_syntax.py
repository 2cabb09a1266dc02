"""kshell's bash subset: words, quoting, operators, redirections, expansions, and the rule
that a line the shell refuses prints one line, returns non-zero and changes nothing.

Expected messages are bash 5.2's (Debian 12): `bash: foo: command not found` (status 127),
`bash: syntax error near unexpected token `X'` (status 2), `bash: PATH: Permission denied`
for a redirection that cannot be opened, `bash: echo: write error: ...` for a failed write.
"""

import shutil
import subprocess

import pytest

from conftest import need
from kcourse.shell import Shell
from kcourse.shell.parser import ShellSyntaxError, parse


def test_unknown_command():
    got = Shell().run("foo --bar")
    assert (got.stdout, got.stderr, got.rc) == ("", "bash: foo: command not found\n", 127)


@pytest.mark.parametrize("line", ["| lsmod", "lsmod ||", "lsmod ;; x", "insmod >", "cat <"])
def test_bash_syntax_errors_match_real_bash(line):
    """The same lines given to the real bash: same status, and our one line is the last line
    bash prints (bash -c prefixes "bash: -c: line 1: " and may echo the line)."""
    bash = shutil.which("bash")
    need(bash is not None, "bash is not installed")
    proc = subprocess.run([bash, "-c", line], capture_output=True, text=True, check=False)
    got = Shell().run(line)
    assert got.rc == proc.returncode == 2
    ours = got.stderr.removeprefix("bash: ").strip()
    assert ours in proc.stderr, (ours, proc.stderr)
    assert got.stderr.count("\n") == 1


@pytest.mark.parametrize("line", ["echo 'unterminated", 'echo "unterminated', "echo $(uname"])
def test_unterminated_quotes(line):
    got = Shell().run(line)
    assert got.rc == 2
    assert got.stderr.startswith("bash: unexpected EOF while looking for matching")
    assert got.stderr.count("\n") == 1


@pytest.mark.parametrize("line", ["if true; then lsmod; fi", "(lsmod)", "cat <<EOF", "{ lsmod; }",
                                  "echo `ls`"])
def test_unsupported_constructs_say_so_in_one_line(line):
    got = Shell().run(line)
    assert got.rc == 2
    assert got.stderr.startswith("kshell: ") and got.stderr.count("\n") == 1


def test_a_refused_line_runs_nothing():
    sh = Shell()
    before = sh.kernel.snapshot()
    for line in ["insmod hello/hello.ko & (lsmod)", "insmod hello/hello.ko; lsmod |",
                 "insmod 'hello/hello.ko"]:
        assert sh.run(line).rc == 2
    assert sh.kernel.snapshot() == before
    assert sh.run("lsmod").stdout == "Module                  Size  Used by\n"


def test_quoting_and_parameters_reach_the_kernel_as_bash_passes_them():
    """kmod insmod joins its arguments with spaces (tools/insmod.c); bash removed the quotes,
    so "big world" arrives as two kernel parameters unless the value is quoted for the kernel
    (kernel/params.c next_arg understands double quotes)."""
    sh = Shell()
    got = sh.run("insmod hello/hello.ko 'whom=\"big world\"' count=2")
    assert got.rc == 0
    assert sh.run("cat /sys/module/hello/parameters/whom").stdout == "big world\n"
    assert "hello: hello, big world (count=2)" in got.dmesg


def test_operators_and_status():
    sh = Shell()
    assert sh.run("false || echo yes").stdout == "yes\n"
    assert sh.run("true && echo yes; echo $?").stdout == "yes\n0\n"
    got = sh.run("rmmod nosuch; echo $?")
    assert got.stdout == "1\n" and got.rc == 0
    assert sh.run("lsmod | grep -c Module").stdout == "1\n"


def test_command_substitution_and_variables():
    sh = Shell()
    assert sh.run("echo $(uname -r)").stdout == f"{sh.release}\n"
    assert sh.run("ls /lib/modules/$(uname -r)/extra | head -n 1").stdout == "baduser.ko\n"
    assert sh.run("echo $HOME $PWD").stdout == "/root /root/modules\n"


def test_globs_expand_against_the_simulated_files():
    sh = Shell()
    sh.run("insmod hello/hello.ko")
    got = sh.run("cat /sys/module/hello/parameters/*")
    assert got.stdout == "1\nworld\n"  # count, whom: sorted like bash's glob
    assert sh.run("echo /sys/module/nope*").stdout == "/sys/module/nope*\n"  # no match: kept


def test_redirections():
    sh = Shell()
    assert sh.run("lsmod > /dev/null").stdout == ""
    got = sh.run("rmmod nosuch 2>&1")
    assert got.stdout == "rmmod: ERROR: Module nosuch is not currently loaded\n"
    assert got.stderr == ""
    assert sh.run("rmmod nosuch 2>/dev/null").stderr == ""
    got = sh.run("echo x > hello/new.txt")
    assert got.stderr == "bash: hello/new.txt: Read-only file system\n" and got.rc == 1
    assert sh.run("grep -c hello < hello/hello.c").stdout.strip().isdigit()


def test_write_errors_are_reported_like_bash():
    sh = Shell()
    got = sh.run("echo abc > /proc/sys/kernel/tainted")
    assert (got.stderr, got.rc) == ("bash: echo: write error: Invalid argument\n", 1)
    got = sh.run("echo 1 > /sys/module/nope/parameters/x")
    assert got.stderr == "bash: /sys/module/nope/parameters/x: No such file or directory\n"
    got = sh.run("echo 1 > /sys/module/newfile")  # kernfs has no create: EACCES
    assert got.stderr == "bash: /sys/module/newfile: Permission denied\n"


def test_exec_holds_a_file_open_until_closed():
    sh = Shell()
    got = sh.run("exec 3</dev/kcdev")
    assert (got.stderr, got.rc) == ("bash: /dev/kcdev: No such file or directory\n", 1)
    sh.run("insmod kcdev/kcdev.ko")
    assert sh.run("exec 3</dev/kcdev").rc == 0
    assert sh.run("cat /sys/module/kcdev/refcnt").stdout == "1\n"
    assert sh.run("exec 3<&-").rc == 0
    assert sh.run("exec 3<&-").rc == 0  # closing a closed descriptor is not an error in bash
    assert sh.run("cat /sys/module/kcdev/refcnt").stdout == "0\n"
    assert sh.run("exec ls").rc == 1


def test_parser_structure():
    program = parse("exec 3</dev/kcdev 4<&- 2>&1")
    redirects = program[0].pipeline.commands[0].redirects
    assert [(r.fd, r.op) for r in redirects] == [(3, "<"), (4, "close"), (2, "dup")]
    assert parse("   # only a comment") == []
    with pytest.raises(ShellSyntaxError):
        parse("a |")


def test_script_stops_at_a_syntax_error_like_bash():
    sh = Shell()
    results = sh.run_script("insmod hello/hello.ko\n# note\n\nlsmod |\nrmmod hello\n")
    assert [r.line for r in results] == ["insmod hello/hello.ko", "lsmod |"]
    assert sh.syntax_error_line == 4
    assert "hello" in sh.run("lsmod").stdout


def test_line_continuation():
    results = Shell().run_script("echo a \\\n  b\n")
    assert results[0].stdout == "a b\n"
