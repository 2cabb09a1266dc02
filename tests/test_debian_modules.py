"""Debian's own modules that the lab and the lessons load run their own machine code, and
print what the real kernel prints for them.

Two references: the kernel log Debian's 6.1.0-56 kernel wrote for `modprobe M` and
`modprobe -r M` under QEMU (kcourse.lab.RealKernel, the lab's module tree; recorded into
REAL below), and the module files themselves: each printed line must match a printk format
stored in that very .ko (a KERN_<level> string carrying the module's prefix), every %s
filled by a string the file also holds (or one its "%d" formats make). What each module
makes (devices, /proc and /sys files) is compared with its own real recording in
tests/test_kapi_netdev.py, test_kapi_8021q.py, test_kapi_block.py, test_kapi_vxlan.py,
test_kapi_sysctl.py, test_kapi_filesystems.py and test_kapi_zram.py.
"""

import re

import pytest

from kcourse.lab.prepare import DEBIAN_MODULES

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

# what `modprobe` of the lessons' and scenarios' Debian modules loads (their depends=
# closure in Debian's modules.dep), each running its own code
LOADED = {
    "dummy": {"dummy"},
    "8021q": {"8021q", "garp", "mrp", "stp", "llc"},
    "vxlan": {"vxlan", "udp_tunnel", "ip6_udp_tunnel"},
    "loop": {"loop"},
    "zram": {"zram", "zsmalloc"},
    "isofs": {"isofs", "cdrom"},
    "crc7": {"crc7"},
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


def test_every_debian_module_the_lessons_load_is_listed():
    """The lab's own list (kcourse.lab.prepare.DEBIAN_MODULES) minus the netfilter modules
    of the softdep scenario (tests/scenarios/lab_softdep.sh), whose init does not run here
    (test_another_debian_module_says_its_init_did_not_run)."""
    assert set(LOADED) == set(DEBIAN_MODULES) - {"xt_TRACE", "xt_NFLOG", "nf_log_syslog",
                                                 "nfnetlink_log"}


@pytest.mark.parametrize("name", sorted(LOADED))
def test_each_runs_its_own_code(name, tree_shell):
    """modprobe M loads M and what it depends on; each runs its own machine code (no
    Python stand-in exists: kcourse.behaviors has none), and the shell has no note that an
    init was skipped."""
    sh = tree_shell([name])
    r = sh.run(f"modprobe {name}")
    assert (r.rc, r.stderr) == (0, "")
    loaded = {m.name for m in sh.kernel.modules}
    ran = {m.name for m in sh.kernel.modules if m.code is not None}
    assert loaded == ran == LOADED[name] and not sh.kernel.notes
    assert sh.run(f"modprobe -r {name}").rc == 0  # (what it leaves: tests/scenarios)


def test_what_they_make_is_there(tree_shell):
    """dummy makes dummy0 (tests/data/netdev/real.expected); isofs loads cdrom first, which
    registers /proc/sys/dev/cdrom, and adds iso9660 to /proc/filesystems (tests/data/fsys);
    zram adds zram0 (tests/data/zram)."""
    sh = tree_shell(["8021q", "dummy", "crc7", "vxlan", "isofs", "cdrom", "zram"])
    for line in ("modprobe 8021q", "modprobe dummy", "modprobe crc7", "modprobe vxlan",
                 "modprobe isofs", "modprobe zram"):
        r = sh.run(line)
        assert (r.rc, r.stderr) == (0, ""), line
    assert sh.run("ls /sys/class/net").stdout == "dummy0\nlo\n"
    assert sh.run("ls /proc/sys/dev").stdout == "cdrom\nhpet\nmac_hid\ntty\n"
    assert sh.run("cat /proc/filesystems").stdout.endswith("nodev\tpstore\n\tiso9660\n")
    assert sh.run("ls /sys/block").stdout == "zram0\n"


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


@pytest.mark.parametrize("name", sorted(REAL))
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


def test_another_debian_module_says_its_init_did_not_run(tree_shell):
    """A Debian module that calls what kapi does not model loads (its init returns 0) and
    the shell says so in one line; `kcourse sim --real` runs it on the real kernel."""
    sh = tree_shell(["xt_TRACE"])
    r = sh.run("modprobe xt_TRACE")
    notes = [x for x in r.stderr.splitlines() if x.startswith("kcourse: note:")]
    assert r.rc == 0 and len(notes) == 1, r.stderr
    assert "did not run in the simulator" in notes[0] and "`kcourse sim --real`" in notes[0]
