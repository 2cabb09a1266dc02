"""%%kmodule: C in a cell, built with the real kbuild, loaded by the next %%kshell cell.

References: gcc's own diagnostics (their line numbers are the cell's, since the cell is the
file), kbuild's generated files, and the notebook shell's /root/modules listing.
"""

import pytest

from kcourse import magic
from tests.conftest import need_tool

CELL = """#include <linux/init.h>
#include <linux/module.h>

static int __init mine_init(void)
{
\tpr_info("mine: loaded\\n");
\treturn 0;
}

static void __exit mine_exit(void)
{
}

module_init(mine_init);
module_exit(mine_exit);
MODULE_LICENSE("GPL");
"""


@pytest.fixture
def notebook(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(magic, "_SHELL", None)
    monkeypatch.setattr(magic, "_BUILT", {})
    return tmp_path


def test_a_cell_builds_and_the_next_kshell_cell_loads_it(notebook, capsys):
    need_tool("make")
    need_tool("gcc-12")
    magic.kmodule("mine", CELL)
    out, err = capsys.readouterr()
    assert err == ""
    assert "  LD [M]  mine/mine.ko" in out
    assert out.endswith("built mine/mine.ko: in %%kshell, insmod mine/mine.ko\n")
    assert (notebook / "kmodules" / "mine" / "mine.c").read_text() == CELL
    magic.kshell("", "insmod mine/mine.ko\nlsmod\nls /root/modules/mine\n")
    out, err = capsys.readouterr()
    assert "# insmod mine/mine.ko\n# lsmod\nModule                  Size  Used by\nmine " in out
    assert "mine.c\nmine.ko\n" in out
    magic.kshell("--new", "insmod mine/mine.ko\n")   # a reboot keeps the learner's files
    assert capsys.readouterr().out == "# insmod mine/mine.ko\n"


def test_a_compiler_error_points_at_the_cells_line(notebook, capsys):
    need_tool("make")
    need_tool("gcc-12")
    magic.kmodule("mine", CELL.replace("return 0;", "return zero;"))
    out, err = capsys.readouterr()
    assert "mine/mine.c:7:16: error:" in out     # line 7 of the cell, as gcc counts
    assert err.startswith("%%kmodule: mine.ko not built")
    assert not (notebook / "kmodules" / "mine" / "mine.ko").exists()


def test_without_a_compiler_the_cell_says_what_is_missing(notebook, capsys, monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None if name == "gcc-12" else "/bin/x")
    magic.kmodule("mine", CELL)
    assert capsys.readouterr().err == (
        "%%kmodule: mine.ko not built: gcc-12 is not installed (apt-get install gcc-12); "
        "the lesson's other cells use the committed modules\n")


USAGE = "(usage: %%kmodule NAME [--file PART.c] [--kbuild 'LINE']...)"


@pytest.mark.parametrize("line, message", [
    ("", f"%%kmodule: name one module {USAGE}\n"),
    ("a b", f"%%kmodule: name one module {USAGE}\n"),
    ("--x a", f"%%kmodule: unknown option --x {USAGE}\n"),
    ("my-mod", "%%kmodule: 'my-mod' is not a module name: letters, digits and _ (a C "
               "identifier, since kbuild makes KBUILD_MODNAME of it)\n"),
])
def test_bad_magic_lines_are_one_line(notebook, capsys, line, message):
    magic.kmodule(line, CELL)
    assert capsys.readouterr() == ("", message)
