"""modprobe and soft dependencies, against kmod 30's own modprobe on Debian's module tree.

`modprobe --show-depends` only reads the tree (-d ROOT -S RELEASE, -C an empty folder so that
the host's /etc/modprobe.d plays no part): run for real, it is the reference for the probe
order of every module that has a softdep and of modules whose dependencies have one. What
needs a loaded kernel (modprobe -r) is in tests/scenarios/lab_softdep.sh, recorded on Debian's
kernel; the rules without a real run are cited from kmod 30 (tools/modprobe.c,
libkmod/libkmod-module.c).
"""

import os
import subprocess

import pytest

from conftest import need, need_tool
from kcourse.shell import Shell, softdeps

RELEASE = "6.1.0-56-amd64"


@pytest.fixture(scope="module")
def debian_root(debian_modules_dir, tmp_path_factory):
    """Debian's tree indexed by the real depmod (kernel/ is a symlink: depmod follows it)."""
    need_tool("depmod")
    root = tmp_path_factory.mktemp("softdep")
    moddir = root / "lib/modules" / RELEASE
    moddir.mkdir(parents=True)
    os.symlink(debian_modules_dir / "kernel", moddir / "kernel")
    for name in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
        (moddir / name).write_bytes((debian_modules_dir / name).read_bytes())
    proc = subprocess.run(["depmod", "-b", str(root), RELEASE], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    (root / "noconf").mkdir()
    return root


@pytest.fixture(scope="module")
def shell(debian_root):
    from kcourse.shell.moddir import DebianTreeMissing

    try:
        return Shell(debian_tree=True)
    except DebianTreeMissing as err:
        need(False, str(err))


def real_modprobe(root, *args: str) -> tuple[str, str, int]:
    need_tool("modprobe")
    proc = subprocess.run(["modprobe", "-C", str(root / "noconf"), "-d", str(root), "-S", RELEASE,
                           *args], capture_output=True, text=True, check=False,
                          env=dict(os.environ, LC_ALL="C"))
    prefix = str(root)
    return proc.stdout.replace(prefix, ""), proc.stderr.replace(prefix, ""), proc.returncode


def softdep_modules(root) -> list[str]:
    text = (root / "lib/modules" / RELEASE / "modules.softdep").read_text()
    return sorted({line.split()[1] for line in text.splitlines() if line.startswith("softdep")})


def test_simulated_modules_softdep_is_depmods(debian_root, shell):
    real = (debian_root / "lib/modules" / RELEASE / "modules.softdep").read_text()
    assert shell.run(f"cat /lib/modules/{RELEASE}/modules.softdep").stdout == real
    assert "softdep xt_TRACE pre: nf_log_syslog\n" in real


def test_show_depends_of_every_module_with_a_softdep(debian_root, shell):
    """Every module named in modules.softdep, plus modules that reach one through their
    dependencies (btrfs -> libcrc32c pre: crc32c), and -i (softdeps of the module itself
    ignored, its dependencies' still followed: KMOD_PROBE_IGNORE_COMMAND)."""
    names = softdep_modules(debian_root)
    assert len(names) >= 30
    cases = [["--show-depends", n] for n in [*names, "btrfs", "xfs", "nf_log_syslog"]]
    cases += [["-D", "-i", "xt_TRACE"], ["-D", "-i", "btrfs"], ["-D", "-a", "xt_LOG", "xt_TRACE"]]
    # built into Debian's kernel (modules.builtin; a softdep may name one: act_mpls post:
    # mpls_gso), and aliases written with '-' (alias_normalize on both sides)
    cases += [["-D", "mpls_gso"], ["-n", "-v", "mpls_gso"], ["-r", "-n", "-v", "mpls_gso"],
              ["-D", "platform:gpio-keys-polled"], ["-D", "platform:gpio_keys_polled"]]
    differ = []
    for args in cases:
        real = real_modprobe(debian_root, *args)
        got = shell.run("modprobe " + " ".join(args))
        if (got.stdout, got.stderr, got.rc) != real:
            differ.append((args, real, (got.stdout, got.stderr, got.rc)))
    assert not differ, differ[:3]


def test_softdep_order_pre_module_post(debian_root, shell):
    """ipmi_msghandler post: ipmi_devintf, which depends on ipmi_msghandler: kmod lists
    ipmi_msghandler twice (__kmod_module_fill_softdep does not check `visited`)."""
    real = real_modprobe(debian_root, "--show-depends", "ipmi_msghandler")
    assert real[0].count("ipmi_msghandler.ko") == 2
    got = shell.run("modprobe --show-depends ipmi_msghandler")
    assert (got.stdout, got.stderr, got.rc) == real


def test_parse_follows_kmod_config_add_softdep():
    """libkmod-config.c: words before pre:/post: are dropped, pre:/post: may repeat, the
    module name has '-' turned into '_' (shared/util.c underscores) but not inside [...]."""
    deps = softdeps.parse("softdep cifs gcm\n"
                          "softdep a-b pre: x post: y pre:  z\n"
                          "# softdep c pre: d\n"
                          "softdep snd-[a-z]* post: p\n"
                          "softdep lonely\n")
    assert [(d.name, d.pre, d.post) for d in deps] == [
        ("cifs", [], []), ("a_b", ["x", "z"], ["y"]), ("snd_[a-z]*", [], ["p"])]


def test_only_the_first_matching_line_counts(shell):
    """kmod_module_get_softdeps: `softdep ksmbd pre: crc32` is ksmbd's first line of eleven;
    the others (gcm, ccm, ...) are not followed."""
    pre, post = softdeps.Config(shell.tree).softdeps("ksmbd")
    assert [r.rsplit("/", 1)[-1] for r in pre] == ["crc32-pclmul.ko", "crc32_generic.ko"]
    assert post == []


def test_remove_stops_at_a_softdep_in_use():
    """tools/modprobe.c rmmod_do_module step 5: each pre softdep is removed like a module
    asked for, so one still in use is LOG()ged, FATAL at modprobe's log priority (exit 1),
    after the module itself is gone."""
    try:
        sh = Shell(debian_tree=("xt_TRACE", "nf_log_syslog"))
    except Exception as err:  # DebianTreeMissing
        need(False, str(err))
    sh.run("modprobe xt_TRACE")
    held = next(m for m in sh.kernel.modules if m.name == "nf_log_syslog")
    held.refcnt += 1  # as nf_logger_get() takes it when a rule logs through it
    got = sh.run("modprobe -r -v xt_TRACE")
    assert got.stdout == "rmmod xt_TRACE\nrmmod x_tables\n"
    assert got.stderr == "modprobe: FATAL: Module nf_log_syslog is in use.\n"
    assert got.rc == 1
