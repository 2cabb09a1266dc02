"""Debian's modules print what the real kernel prints for them (kcourse.behaviors.debian).

Two references: the kernel log Debian's 6.1.0-56 kernel wrote for `modprobe M` and
`modprobe -r M` under QEMU (kcourse.lab.RealKernel, the lab's module tree; recorded into
REAL below), and the module files themselves: each printed line must match a printk format
stored in that very .ko (a KERN_<level> string carrying the module's prefix), every %s
filled by a string the file also holds (or one its "%d" formats make).
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

# module -> (log lines of `modprobe M`, log lines of `modprobe -r M`), seen on the real kernel
# (modprobe -r also removes what M depended on: isofs takes cdrom with it).
REAL = {
    "dummy": ((), ()),
    "8021q": (("8021q: 802.1Q VLAN Support v1.8",), ()),
    "vxlan": ((), ()),
    "loop": (("loop: module loaded",), ()),
    "zram": (("zram: Added device: zram0",), ("zram: Removed device: zram0",)),
    "isofs": ((), ("cdrom: Uniform CD-ROM driver unloaded",)),
    "cdrom": ((), ("cdrom: Uniform CD-ROM driver unloaded",)),
    "zsmalloc": ((), ()),
    "crc7": ((), ()),
}


def formats_in(raw: bytes, name: str) -> list[re.Pattern]:
    """KERN_<level>-prefixed format strings of a module file that start with `name: `."""
    out = []
    for m in re.finditer(rb"\x01[0-7](" + re.escape(name.encode()) + rb": [^\x00]*)\x00", raw):
        fmt = m.group(1).decode().rstrip("\n")
        parts = re.split(r"(%s)", fmt)
        out.append(re.compile("".join("(.*)" if p == "%s" else re.escape(p) for p in parts)
                              + "$"))
    return out


def value_in(raw: bytes, value: str) -> bool:
    """A %s argument the file holds: a string, a modinfo value, or a "%d" format's result."""
    if b"\0" + value.encode() + b"\0" in raw or f"={value}\0".encode() in raw:
        return True
    made = [re.escape(f.decode()).replace("%d", r"\d+")
            for f in re.findall(rb"\0([ -~]*%d[ -~]*)\0", raw)]
    return any(re.fullmatch(pattern, value) for pattern in made)


@pytest.fixture(scope="module")
def tree_shell(request):
    request.getfixturevalue("debian_modules_dir")

    def make(names):
        try:
            return Shell(debian_tree=names)
        except DebianTreeMissing as err:
            need(False, str(err))
    return make


# The lab's modules that run their own code: every kernel symbol they use is modelled
# (kcourse.kapi.netdev and friends; kcourse.kapi.cpuhp, zpool, block_bio for zsmalloc and
# zram: tests/test_kapi_zram.py), so they have no
# stand-in.
NET_CODE = {"8021q", "dummy", "crc7", "llc", "stp", "garp", "mrp"}
RUN_CODE = NET_CODE | {"zsmalloc", "zram"}


def test_the_labs_modules_have_behaviors():
    assert (set(REAL) | {"udp_tunnel", "ip6_udp_tunnel"}) - RUN_CODE - {"loop"} <= set(DEBIAN)
    assert not (RUN_CODE | {"loop"}) & set(DEBIAN)  # loop: tests/test_kapi_block.py


def test_the_net_modules_run_their_own_code(tree_shell):
    """modprobe 8021q loads llc, stp, garp and mrp first; dummy makes dummy0 (as on the
    real kernel: tests/data/netdev/real.expected). Each runs its own machine code."""
    sh = tree_shell(["8021q", "dummy", "crc7"])
    for line in ("modprobe 8021q", "modprobe dummy", "modprobe crc7"):
        r = sh.run(line)
        assert (r.rc, r.stderr) == (0, ""), line
    ran = {m.name for m in sh.kernel.modules if m.code is not None}
    assert ran == NET_CODE and not sh.kernel.notes
    assert sh.run("ls /sys/class/net").stdout == "dummy0\nlo\n"


def test_zsmalloc_runs_its_own_code(tree_shell):
    """zs_init and zs_exit (mm/zsmalloc.c) run on the emulated CPU: the real kernel logs
    nothing for either (REAL), and neither does the module's own code here."""
    sh = tree_shell(["zsmalloc"])
    r = sh.run("modprobe zsmalloc")
    assert (r.rc, r.stderr, r.dmesg) == (0, "", ())
    assert sh.kernel.find_module("zsmalloc").code is not None and not sh.kernel.notes
    assert sh.run("rmmod zsmalloc").dmesg == ()


@pytest.mark.parametrize("name", sorted(REAL))
def test_modprobe_logs_what_the_real_kernel_logs(name, tree_shell):
    sh = tree_shell([name])
    load, unload = sh.run(f"modprobe {name}"), sh.run(f"modprobe -r {name}")
    assert (load.rc, unload.rc) == (0, 0)
    assert (load.dmesg, unload.dmesg) == REAL[name]


def test_zram_adds_one_device_per_num_devices(tree_shell):
    """Real kernel: `modprobe zram num_devices=2` logs zram0 and zram1, rmmod removes both.
    zram_init's own code does it (zram_add per device), and zsmalloc's runs before it."""
    sh = tree_shell(["zram"])
    assert sh.run("modprobe zram num_devices=2").dmesg == ("zram: Added device: zram0",
                                                           "zram: Added device: zram1")
    ran = {m.name for m in sh.kernel.modules if m.code is not None}
    assert ran == {"zram", "zsmalloc"} and not sh.kernel.notes
    assert sh.run("ls /sys/block").stdout == "zram0\nzram1\n"
    assert sh.run("rmmod zram").dmesg == ("zram: Removed device: zram0",
                                          "zram: Removed device: zram1")


def test_loop_takes_max_loop_through_its_own_param_ops(tree_shell):
    """loop's max_loop is module_param_cb with .get = param_get_int (loop.c:1823): the real
    kernel accepts `modprobe loop max_loop=2` and logs "loop: module loaded"."""
    sh = tree_shell(["loop"])
    r = sh.run("modprobe loop max_loop=2")
    assert (r.rc, r.stderr, r.dmesg) == (0, "", ("loop: module loaded",))
    assert sh.run("cat /sys/module/loop/parameters/max_loop").stdout == "2\n"


@pytest.mark.parametrize("name", sorted(DEBIAN))
def test_debian_lines_come_from_the_module_file(name, tree_shell):
    sh = tree_shell([name])
    before = len(sh.kernel.log.records)
    assert sh.run(f"modprobe {name}").rc == 0
    assert sh.run(f"modprobe -r {name}").rc == 0
    for record in sh.kernel.log.records[before:]:
        owner = record.text.split(": ", 1)[0]
        raw = sh.tree.files[sh.tree.by_name(owner)].read_bytes()
        match = next((m for f in formats_in(raw, owner) if (m := f.match(record.text))), None)
        assert match is not None, (owner, record.text)
        for value in match.groups():
            assert value_in(raw, value), (owner, value)


def test_a_same_named_module_from_elsewhere_prints_nothing():
    """The Debian behavior is for the in-tree module only (modinfo intree=Y)."""
    lines = []
    image = SimpleNamespace(get_modinfo=lambda tag: None)
    ctx = SimpleNamespace(module=SimpleNamespace(image=image), pr_info=lines.append)
    behaviors.lookup("cdrom").exit(ctx)
    assert lines == []
    image.get_modinfo = lambda tag: "Y" if tag == "intree" else None
    behaviors.lookup("cdrom").exit(ctx)
    assert lines == ["Uniform CD-ROM driver unloaded"]
