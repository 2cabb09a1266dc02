"""The simulated /lib/modules/<release>: course modules only by default, Debian's on request.

References: kmod 30's own depmod (`depmod -n -b BASE RELEASE` prints the index files without
writing them) run on the same files, and kmod's modinfo on Debian's .ko files.
"""

import shutil
import subprocess

import pytest

from conftest import need, need_tool
from kcourse.errors import KcourseError
from kcourse.paths import modules_dir
from kcourse.shell import Shell
from kcourse.shell.moddir import DebianTreeMissing


def debian_shell(request, modules):
    request.getfixturevalue("debian_modules_dir")  # in the cache (downloaded once) or skipped
    try:
        return Shell(debian_tree=modules)
    except DebianTreeMissing as err:  # apt offers another ABI than data/kernel imitates
        need(False, str(err))


def kmod_depmod(base, release) -> str:
    """modules.dep as kmod's depmod -n prints it (first, up to the modules.alias header)."""
    depmod = need_tool("depmod")
    out = subprocess.run([depmod, "-n", "-b", str(base), release], capture_output=True,
                         text=True, check=True).stdout
    return out.split("# Aliases extracted from modules themselves.\n")[0]


def stage(tmp_path, shell) -> str:
    """Copy the simulated tree's module files to tmp_path/lib/modules/<release>."""
    tree = shell.tree
    root = tmp_path / "lib" / "modules" / tree.release
    for rel in list(tree.files) + list(tree.copied):
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tree.host_path(rel), target)
    return tree.release


def test_the_default_tree_is_the_course_modules_only():
    """Notebook outputs must not depend on a machine's cache: no Debian module by default."""
    sh = Shell()
    top = sh.run("ls /lib/modules/$(uname -r)").stdout.split()
    assert "kernel" not in top and "extra" in top
    extra = sh.run("ls /lib/modules/$(uname -r)/extra").stdout.split()
    assert extra == sorted(f"{p.name}" for p in modules_dir().glob("*/*.ko"))
    r = sh.run("modprobe 8021q")
    assert r.rc == 1 and "Module 8021q not found in directory" in r.stderr


def test_a_lab_sized_tree_indexes_like_kmods_depmod(request, tmp_path):
    sh = debian_shell(request, ["8021q"])
    names = {rel.rsplit("/", 1)[-1] for rel in sh.tree.files if rel.startswith("kernel/")}
    # 8021q's depends= (modinfo) is mrp,garp; garp needs stp, stp needs llc.
    assert names == {"8021q.ko", "garp.ko", "mrp.ko", "stp.ko", "llc.ko"}
    release = stage(tmp_path, sh)
    real = kmod_depmod(tmp_path, release)
    ours = sh.run(f"cat /lib/modules/{release}/modules.dep").stdout
    assert ours == real and "kernel/net/8021q/8021q.ko:" in real
    listing = sh.run(f"ls /lib/modules/{release}/kernel/net/802").stdout.split()
    assert listing == ["garp.ko", "mrp.ko", "stp.ko"]


def test_the_whole_debian_tree_indexes_like_kmods_depmod(request, debian_modules_dir):
    """Debian's modules (kernel/...) get the modules.dep lines kmod's depmod gives them."""
    sh = debian_shell(request, True)
    release = sh.release
    base = debian_modules_dir.parents[2]  # .../lib/modules/<release> -> the package root
    real = kmod_depmod(base, release)
    ours = sh.tree.index_files["modules.dep"]
    assert [x for x in ours.splitlines() if x.startswith("kernel/")] == real.splitlines()
    assert len(real.splitlines()) > 3000


def test_modprobe_and_modinfo_find_debian_modules(request):
    sh = debian_shell(request, ["8021q", "dummy"])
    r = sh.run("modinfo -F depends 8021q")
    # kmod's modinfo on the same file prints the same field (it reads .modinfo).
    assert (r.rc, r.stdout) == (0, "mrp,garp\n")
    r = sh.run("modprobe -n -v 8021q")
    assert r.rc == 0
    loaded = [line.split()[1].rsplit("/", 1)[-1] for line in r.stdout.splitlines()]
    assert loaded[-1] == "8021q.ko" and set(loaded) == {"8021q.ko", "garp.ko", "mrp.ko",
                                                         "stp.ko", "llc.ko"}
    assert sh.run("modprobe vxlan").rc == 1  # not in this tree: only what was asked for


def test_a_missing_cache_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(DebianTreeMissing) as info:
        Shell(debian_tree=True)
    assert isinstance(info.value, KcourseError) and "\n" not in str(info.value)
    assert "kcourse lab-prepare --modules-only" in str(info.value)  # the command that fetches
    assert not (tmp_path / "kcourse" / "debian").exists()  # nothing was downloaded


def test_cached_image_modules_dir_never_downloads(tmp_path, monkeypatch):
    from kcourse import debian

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(debian, "_run", lambda *a, **k: pytest.fail("ran " + " ".join(a[0])))
    release = "6.1.0-56-amd64"
    assert debian.cached_image_modules_dir(release) is None
    tree = tmp_path / "kcourse/debian" / f"linux-image-{release}/lib/modules" / release
    tree.mkdir(parents=True)
    assert debian.cached_image_modules_dir(release) is None  # dpkg -x did not finish
    (tree.parents[2] / ".unpacked").write_text("linux-image\n")
    assert debian.cached_image_modules_dir(release) == tree


def fake_fetch(source, calls):
    """A _fetch that 'downloads' by copying the files of `source` (a cached Debian tree's
    8021q closure) into the package's place in the (temporary) cache, as dpkg -x would."""
    from kcourse import debian

    def fetch(package):
        calls.append(package)
        release = package.removeprefix("linux-image-")
        target = debian.package_dir(package)
        tree = target / "lib" / "modules" / release
        for rel in ["kernel/net/8021q/8021q.ko", "kernel/net/802/garp.ko",
                    "kernel/net/802/mrp.ko", "kernel/net/802/stp.ko", "kernel/net/llc/llc.ko",
                    "modules.order", "modules.builtin"]:
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / rel, tree / rel)
        (target / ".unpacked").write_text(package + "\n")
        return target
    return fetch


def test_lab_prepare_modules_only_fetches_and_indexes_without_qemu(
        request, tmp_path, monkeypatch, capsys):
    from kcourse.lab import cli, prepare

    source = debian_shell(request, ["8021q"]).tree.files["kernel/net/8021q/8021q.ko"]
    source = source.parents[3]  # .../lib/modules/<release>
    calls: list[str] = []
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("KCOURSE_QEMU", "/nonexistent/qemu-system-x86_64")
    monkeypatch.setattr(prepare, "_fetch", fake_fetch(source, calls))
    assert cli.prepare_main(["--modules-only"]) == 0
    release = Shell().release
    assert calls == [f"linux-image-{release}"]
    out = capsys.readouterr()
    assert out.out == (f"{release}: Debian's module tree cached, 5 modules indexed "
                       "(kcourse sim --debian)\n")
    assert "downloading" in out.err and "indexing" in out.err
    assert (tmp_path / "kcourse" / "sim" / f"depmod-{release}.json").is_file()
    sh = Shell(debian_tree=True)  # now found in the cache
    assert sh.run("modprobe 8021q").rc == 0
    assert cli.prepare_main(["--modules-only"]) == 0 and len(calls) == 1  # cached: no fetch


def test_lab_prepare_refuses_unknown_options():
    from kcourse.lab import cli

    with pytest.raises(KcourseError, match=r"usage: kcourse lab-prepare \[--modules-only\]"):
        cli.prepare_main(["--modules"])


def test_an_unknown_debian_module_is_refused(request):
    with pytest.raises(KcourseError, match="no module named nosuch"):
        debian_shell(request, ["nosuch"])
