"""Debian's modules print what their own .ko files say (kcourse.behaviors.debian).

Each line a Debian module's behavior prints must match a printk format stored in that very
module file (a KERN_<level> string carrying the module's pr_fmt prefix), with every %s filled
by a string the file also holds. The real kernel's log for these modules is checked by
tests/scenarios/lab_debian.expected (recorded on Debian's kernel under QEMU).
"""

import re
from types import SimpleNamespace

import pytest

from conftest import need
from kcourse import behaviors
from kcourse.behaviors.debian import InTree
from kcourse.shell import Shell
from kcourse.shell.moddir import DebianTreeMissing

DEBIAN = [n for n in behaviors.names() if isinstance(behaviors.lookup(n), InTree)]


def formats_in(raw: bytes, name: str) -> list[re.Pattern]:
    """KERN_<level>-prefixed format strings of a module file that start with `name: `."""
    out = []
    for m in re.finditer(rb"\x01[0-7](" + re.escape(name.encode()) + rb": [^\x00]*)\x00", raw):
        fmt = m.group(1).decode().rstrip("\n")
        parts = re.split(r"(%s)", fmt)
        out.append(re.compile("".join("(.*)" if p == "%s" else re.escape(p) for p in parts)
                              + "$"))
    return out


@pytest.fixture(scope="module")
def shell_with_debian(request):
    request.getfixturevalue("debian_modules_dir")
    try:
        return Shell(debian_tree=DEBIAN)
    except DebianTreeMissing as err:
        need(False, str(err))


def test_the_scenarios_modules_have_behaviors():
    assert {"8021q", "garp", "mrp", "stp", "llc", "vxlan", "udp_tunnel", "ip6_udp_tunnel",
            "dummy"} <= set(DEBIAN)


@pytest.mark.parametrize("name", DEBIAN)
def test_debian_lines_come_from_the_module_file(name, shell_with_debian):
    sh = shell_with_debian
    rel = sh.tree.by_name(name)
    raw = sh.tree.files[rel].read_bytes()
    before = len(sh.kernel.log.records)
    assert sh.run(f"modprobe {name}").rc == 0
    printed = [r.text for r in sh.kernel.log.records[before:] if r.text.startswith(f"{name}: ")]
    assert sh.run(f"modprobe -r {name}").rc == 0
    expected_lines = behaviors.lookup(name).init_lines
    assert printed == [f"{name}: {line}" for line in expected_lines]
    formats = formats_in(raw, name)
    for text in printed:
        match = next((m for f in formats if (m := f.match(text))), None)
        assert match is not None, (name, text, formats)
        for value in match.groups():
            assert b"\0" + value.encode() + b"\0" in raw or \
                f"={value}\0".encode() in raw, (name, value)  # .rodata string or .modinfo


def test_8021q_line_matches_the_format_and_version_in_the_file(shell_with_debian):
    raw = shell_with_debian.tree.files[shell_with_debian.tree.by_name("8021q")].read_bytes()
    assert b"\x016" + b"8021q: %s v%s\n\0" in raw  # pr_info with pr_fmt (vlan.c:17, :712)
    assert b"\0802.1Q VLAN Support\0" in raw and b"\0version=1.8\0" in raw


def test_a_same_named_module_from_elsewhere_prints_nothing():
    """The Debian behavior is for the in-tree module only (modinfo intree=Y)."""
    lines = []
    image = SimpleNamespace(get_modinfo=lambda tag: None)
    ctx = SimpleNamespace(module=SimpleNamespace(image=image), pr_info=lines.append)
    assert behaviors.lookup("8021q").init(ctx) == 0 and lines == []
    image.get_modinfo = lambda tag: "Y" if tag == "intree" else None
    assert behaviors.lookup("8021q").init(ctx) == 0 and lines == ["802.1Q VLAN Support v1.8"]
