"""%%kshell in a real IPython shell: registration, one kernel per notebook, --new, -q."""

import pytest

from kcourse import magic


@pytest.fixture
def ipython():
    from IPython.testing.globalipapp import get_ipython

    ip = get_ipython()
    ip.run_line_magic("load_ext", "kcourse.magic")
    magic.notebook_shell(new=True)
    return ip


def test_cells_share_one_kernel(ipython, capsys):
    ipython.run_cell_magic("kshell", "", "insmod hello/hello.ko\n")
    ipython.run_cell_magic("kshell", "", "lsmod\nrmmod nosuch\n")
    out = capsys.readouterr().out
    assert out == ("# insmod hello/hello.ko\n"
                   "# lsmod\n"
                   "Module                  Size  Used by\n"
                   "hello                  16384  0\n"
                   "# rmmod nosuch\n"
                   "rmmod: ERROR: Module nosuch is not currently loaded\n")
    assert magic.notebook_shell().kernel.find_module("hello") is not None


def test_new_kernel_and_quiet(ipython, capsys):
    ipython.run_cell_magic("kshell", "", "insmod hello/hello.ko\n")
    ipython.run_cell_magic("kshell", "--new -q", "# a fresh boot\nlsmod\n")
    out = capsys.readouterr().out
    assert out.endswith("\nModule                  Size  Used by\n")
    assert "# lsmod" not in out


def test_a_bad_line_stops_the_cell(ipython, capsys):
    ipython.run_cell_magic("kshell", "", "echo one\nlsmod |\necho two\n")
    out = capsys.readouterr().out
    assert out == ("# echo one\none\n# lsmod |\n"
                   "bash: syntax error: unexpected end of file\n")


def test_unknown_option(ipython, capsys):
    ipython.run_cell_magic("kshell", "--bogus", "lsmod\n")
    assert capsys.readouterr().err == "%%kshell: unknown option --bogus (use --new, --real, -q)\n"


def test_real_goes_to_the_lab_shell(ipython, capsys, monkeypatch):
    """--real runs the cell through kcourse.lab's RealShell (faked here: no QEMU boot)."""
    from kcourse.backend import CommandResult

    class FakeReal:
        def run_script(self, text):
            return [CommandResult(line, "real\n") for line in text.splitlines()]

    monkeypatch.setattr(magic, "_REAL", FakeReal())
    ipython.run_cell_magic("kshell", "--real", "uname -r\n")
    assert capsys.readouterr().out == "# uname -r\nreal\n"
