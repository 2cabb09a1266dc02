"""Device nodes in kshell's `ls -l` and `stat` are what coreutils shows on Debian's kernel.

tests/data/devnodes/real.expected was recorded on the real kernel under QEMU (its `#|`
header says how): a misc device's node (the course's kcdev: MISC_MAJOR 10, a dynamic minor
counting down from 127 past the boot kernel's, so 124 in the lab guest), /dev/null (1, 3),
and Debian's loop (block major 7, its loop-control misc node 10, 237). ls -l prints a
device's "major, minor" where a file's size goes, and pads the column to the widest of them
(coreutils ls.c print_long_format); stat's %t and %T are major and minor in hex.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import need
from kcourse.backend import format_transcript
from kcourse.lab.compare import normalise
from kcourse.paths import modules_dir
from kcourse.shell import Shell
from kcourse.shell.coreutils import _long_lines
from kcourse.shell.fs import Entry
from kcourse.shell.moddir import DebianTreeMissing

DATA = Path(__file__).parent / "data" / "devnodes"
LS_DATE = re.compile(r"[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d ")  # ls -l's recent-file date


def masked(text: str) -> str:
    return LS_DATE.sub("DATE ", normalise(text))


def test_device_nodes_match_the_real_kernel(request):
    request.getfixturevalue("debian_modules_dir")
    real = "".join(line for line in (DATA / "real.expected").read_text().splitlines(True)
                   if not line.startswith("#|"))
    for fact in ("crw------- 1 root root 10, 124 ", "crw-rw-rw- 1 root root  1,   3 ",
                 "brw------- 1 root root  7,   7 ",
                 "/dev/loop-control character special file a ed"):
        assert fact in real
    try:
        sh = Shell(debian_tree=["loop"], workdir=str(modules_dir()))
    except DebianTreeMissing as err:
        need(False, str(err))
    sim = format_transcript(sh.run_script((DATA / "script.sh").read_text()))
    assert masked(sim) == masked(real)


@pytest.mark.parametrize(("rdevs", "sizes", "want"), [
    # one device alone: no padding ("1, 3")
    ([(1, 3)], [], ["1, 3"]),
    # majors and minors padded apart: " 1,   3" beside "10, 124" (the recording above)
    ([(10, 124), (1, 3)], [], ["10, 124", " 1,   3"]),
    # a file wider than "major, minor" widens the device's major part (ls.c blanks_width):
    # coreutils 9.1 here, `ls -l /dev/null big` with big 123456789 bytes long
    ([(1, 3)], [123456789], ["     1, 3", "123456789"]),
])
def test_size_column_of_devices_and_files(rdevs, sizes, want):
    entries = [(f"d{i}", Entry(f"d{i}", "chr", 0o600, rdev=major << 20 | minor))
               for i, (major, minor) in enumerate(rdevs)]
    entries += [(f"f{i}", Entry(f"f{i}", "file", 0o644, size)) for i, size in enumerate(sizes)]
    lines = _long_lines(entries)
    assert [line.split(" root root ")[1].split(" Jan")[0] for line in lines] == want
