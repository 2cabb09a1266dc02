"""The build-pipeline model (kcourse.build.kernel_build / kernel_install / vfs).

Expectations come from the kernel's own 6.1 files where they are installed (the headers
package ships the top Makefile, scripts/Makefile.modinst and scripts/depmod.sh), from kmod's
real depmod on an equivalent directory, and from kernel-facts.md §9-10 (cited inline).
"""

import glob
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kcourse.build import depmod
from kcourse.build.kernel_build import (
    InTreeModule,
    KernelTree,
    depmod_step,
    install_mod_dir,
    make_bzimage,
    make_external_modules,
    make_external_modules_install,
    make_modules,
    make_modules_install,
)
from kcourse.build.kernel_install import make_install, setup_debian
from kcourse.build.vfs import VFS
from kcourse.elf.kofile import KoFile
from kcourse.errors import KcourseError
from kcourse.paths import modules_dir
from tests.conftest import need, need_tool


def _common() -> Path:
    found = sorted(glob.glob("/usr/src/linux-headers-*-common/scripts/Makefile.modinst"))
    need(bool(found), "linux-headers-*-common is not installed")
    return Path(found[-1]).parent.parent


def built(version=(5, 1, 9), debian=True) -> KernelTree:
    tree = KernelTree.example(version=version)
    if debian:
        setup_debian(tree.vfs)
    make_bzimage(tree)
    make_modules(tree)
    return tree


def test_vfs_basics():
    vfs = VFS()
    vfs.write("/a/b/c.txt", "hi")
    vfs.symlink("/l", "/a/b")
    vfs.symlink("/a/rel", "b/c.txt")
    assert vfs.text("/l/c.txt") == "hi" and vfs.text("/a/rel") == "hi"
    assert vfs.listdir("/a") == ["b", "rel"]
    with vfs.recording() as rec:
        vfs.read("/l/c.txt")
        vfs.write("/x", "y")
    assert rec.reads == ["/l/c.txt"] and rec.writes == ["/x"]
    with pytest.raises(KcourseError, match="No such file"):
        vfs.read("/nope")
    with pytest.raises(KcourseError, match="absolute"):
        vfs.write("rel", "")
    vfs.rmtree("/a")
    assert not vfs.exists("/a/b/c.txt") and not vfs.exists("/l/c.txt")


def test_bzimage_paths():
    tree = KernelTree.example()
    result = make_bzimage(tree)
    src = tree.srctree
    # kernel-facts.md §10: the build chain ends in arch/x86/boot/bzImage
    for rel in ("vmlinux", "System.map", "arch/x86/boot/compressed/vmlinux.bin",
                "arch/x86/boot/compressed/vmlinux.bin.xz", "arch/x86/boot/vmlinux.bin",
                "arch/x86/boot/setup.bin", "arch/x86/boot/bzImage"):
        assert f"{src}/{rel}" in result.writes
    assert tree.vfs.readlink(f"{src}/arch/x86_64/boot/bzImage") == "../../x86/boot/bzImage"
    assert result.messages == ["Kernel: arch/x86/boot/bzImage is ready  (#1)"]
    # the old claim: no vmlinuz.bin anywhere, nothing under /usr/arch
    assert tree.vfs.find("/", "vmlinuz") == [] and not tree.vfs.exists("/usr/arch")
    assert tree.vfs.text(f"{src}/include/generated/utsrelease.h") == \
        '#define UTS_RELEASE "5.1.9-ded"\n'


def test_compression_follows_config():
    tree = KernelTree.example(compression="LZ4")
    assert f"{tree.srctree}/arch/x86/boot/compressed/vmlinux.bin.lz4" in make_bzimage(tree).writes


def test_modules_install_layout():
    tree = built()
    result = make_modules_install(tree)
    modlib = "/lib/modules/5.1.9-ded"
    vfs = tree.vfs
    assert vfs.readlink(f"{modlib}/build") == tree.srctree
    assert vfs.readlink(f"{modlib}/source") == tree.srctree          # 6.1: Makefile:1629
    assert vfs.text(f"{modlib}/modules.order").splitlines()[0] == "kernel/drivers/scsi/scsi_mod.ko"
    assert vfs.exists(f"{modlib}/kernel/drivers/block/loop.ko")
    assert vfs.text(f"{modlib}/modules.dep").splitlines()[2] == \
        "kernel/drivers/scsi/sd_mod.ko: kernel/block/t10-pi.ko kernel/drivers/scsi/scsi_mod.ko"
    assert "alias char-major-10-237 loop" in vfs.text(f"{modlib}/modules.alias")
    assert vfs.text(f"{modlib}/modules.devname") == (
        "# Device nodes to trigger on-demand module loading.\nloop loop-control c10:237\n")
    # linux-headers-6.1.0-56-common/Makefile:1987: quiet_cmd_depmod = DEPMOD  $(MODLIB)
    assert result.messages[-1] == "  DEPMOD  /lib/modules/5.1.9-ded"


def test_install_mod_path_and_newer_kernels():
    tree = built(version=(6, 6, 1))
    make_modules_install(tree, install_mod_path="/tmp/stage")
    assert tree.vfs.exists("/tmp/stage/lib/modules/6.6.1-ded/modules.dep")
    assert not tree.vfs.exists("/lib/modules/6.6.1-ded")
    assert not tree.vfs.is_link("/tmp/stage/lib/modules/6.6.1-ded/source")   # d8131c2965d5


def test_install_mod_dir_default():
    assert install_mod_dir((6, 1, 0)) == "extra" and install_mod_dir((6, 2, 16)) == "extra"
    assert install_mod_dir((6, 3, 0)) == "updates" and install_mod_dir((6, 12, 1)) == "updates"
    text = (_common() / "scripts" / "Makefile.modinst").read_text()   # the installed 6.1 rule
    assert re.search(r"^INSTALL_MOD_DIR \?= extra$", text, re.M)
    assert re.search(r"^dst := \$\(MODLIB\)/\$\(INSTALL_MOD_DIR\)$", text, re.M)
    assert "MODLIB\t= $(INSTALL_MOD_PATH)/lib/modules/$(KERNELRELEASE)" in (
        _common() / "Makefile").read_text()


def test_external_module_without_system_map(tmp_path):
    """Against headers only (no System.map) modules_install skips depmod, with the warning
    the kernel's own scripts/depmod.sh prints."""
    tree = built(version=(6, 1, 0))
    tree.vfs.remove(f"{tree.srctree}/System.map")
    tree.vfs.write("/home/me/hello/Kbuild", "obj-m := hello.o\n")
    tree.vfs.write("/home/me/hello/hello.c", "")
    make_external_modules(tree, "/home/me/hello", [InTreeModule("hello.ko", [], ["_printk"])])
    result = make_external_modules_install(tree, "/home/me/hello")
    assert tree.vfs.exists("/lib/modules/6.1.0-ded/extra/hello.ko")
    need_tool("sh")
    real = subprocess.run(["sh", str(_common() / "scripts" / "depmod.sh"), "depmod",
                           "6.1.0-ded"], cwd=tmp_path, capture_output=True, text=True)
    assert real.returncode == 0
    assert result.messages[-1] == real.stderr.strip()


def test_external_module_on_6_3_goes_to_updates():
    tree = built(version=(6, 3, 1))
    tree.vfs.write("/m/Kbuild", "obj-m := hello.o\n")
    tree.vfs.write("/m/hello.c", "")
    make_external_modules(tree, "/m", [InTreeModule("hello.ko")])
    make_external_modules_install(tree, "/m")
    assert tree.vfs.exists("/lib/modules/6.3.1-ded/updates/hello.ko")
    assert "updates/hello.ko:" in tree.vfs.text("/lib/modules/6.3.1-ded/modules.dep")


def test_model_depmod_matches_real_depmod(tmp_path):
    """The VFS depmod step on real course modules == kmod's depmod on the same files."""
    names = ["hello", "provider", "consumer"]
    vfs, modlib = VFS(), "/lib/modules/6.1.0-56-amd64"
    base = tmp_path / "lib" / "modules" / "6.1.0-56-amd64"
    for name in names:
        ko = modules_dir() / name / f"{name}.ko"
        vfs.write(f"{modlib}/extra/{name}.ko", facts=depmod.facts_from_ko(KoFile(ko)))
        (base / "extra").mkdir(parents=True, exist_ok=True)
        shutil.copy(ko, base / "extra")
    vfs.write("/src/System.map", "")
    depmod_step(vfs, modlib, "/src/System.map")
    tool = need_tool("depmod")
    subprocess.run([tool, "-b", str(tmp_path), "6.1.0-56-amd64"], check=True)
    for name in ("modules.dep", "modules.alias", "modules.symbols", "modules.softdep"):
        assert vfs.text(f"{modlib}/{name}") == (base / name).read_text(), name


def test_make_install_debian():
    tree = built()
    result = make_install(tree)
    rel = "5.1.9-ded"
    assert result.messages[1] == f"/sbin/installkernel {rel} arch/x86/boot/bzImage System.map /boot"
    for path in (f"/boot/vmlinuz-{rel}", f"/boot/System.map-{rel}", f"/boot/config-{rel}",
                 f"/boot/initrd.img-{rel}", "/boot/grub/grub.cfg"):
        assert path in result.writes
    assert f"linux\t/boot/vmlinuz-{rel}" in tree.vfs.text("/boot/grub/grub.cfg")
    again = make_install(tree)
    assert f"/boot/vmlinuz-{rel}.old" in again.writes


def test_make_install_search_order():
    tree = built()
    tree.vfs.write("/root/bin/installkernel", note="a user's own script")
    assert make_install(tree).messages[1].startswith("/root/bin/installkernel ")


def test_make_install_upstream_fallback():
    tree = built(debian=False)
    result = make_install(tree)
    assert result.messages[1].startswith(f"{tree.srctree}/arch/x86/boot/install.sh 5.1.9-ded")
    assert result.writes == ["/boot/vmlinuz", "/boot/System.map"]
    assert "/boot/vmlinuz.old" in make_install(tree).writes


def test_make_install_needs_a_build():
    tree = KernelTree.example()
    before = dict(tree.vfs.files)
    with pytest.raises(KcourseError, match="Missing file: arch/x86/boot/bzImage"):
        make_install(tree)
    with pytest.raises(KcourseError, match="make modules first"):
        make_modules_install(tree)
    assert tree.vfs.files == before
