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


def built(version=(6, 1, 192), debian=True) -> KernelTree:
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
    # arch/x86/boot/Makefile:86: @$(kecho) 'Kernel: $@ is ready' ' (#'`cat .version`')'
    assert result.messages == ["Kernel: arch/x86/boot/bzImage is ready  (#1)"]
    # the old claim: no vmlinuz.bin anywhere, nothing under /usr/arch
    assert tree.vfs.find("/", "vmlinuz") == [] and not tree.vfs.exists("/usr/arch")
    assert tree.vfs.text(f"{src}/include/generated/utsrelease.h") == \
        '#define UTS_RELEASE "6.1.192-ded"\n'


def test_compression_follows_config():
    tree = KernelTree.example(compression="LZ4")
    assert f"{tree.srctree}/arch/x86/boot/compressed/vmlinux.bin.lz4" in make_bzimage(tree).writes


def test_modules_install_layout():
    tree = built()
    result = make_modules_install(tree)
    modlib = "/lib/modules/6.1.192-ded"
    vfs = tree.vfs
    assert vfs.readlink(f"{modlib}/build") == tree.srctree
    assert vfs.readlink(f"{modlib}/source") == tree.srctree          # 6.1: Makefile:1629
    assert vfs.text(f"{modlib}/modules.order").splitlines()[0] == "kernel/drivers/block/loop.ko"
    assert vfs.exists(f"{modlib}/kernel/net/llc/llc.ko")
    # what kmod's depmod writes for Debian's own stp, garp and llc (depends= stp,llc)
    assert vfs.text(f"{modlib}/modules.dep").splitlines()[2] == \
        "kernel/net/802/garp.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko"
    assert "alias char-major-10-237 loop" in vfs.text(f"{modlib}/modules.alias")
    assert vfs.text(f"{modlib}/modules.devname") == (
        "# Device nodes to trigger on-demand module loading.\nloop loop-control c10:237\n")
    # linux-headers-6.1.0-56-common/Makefile:1987: quiet_cmd_depmod = DEPMOD  $(MODLIB)
    assert result.messages[-1] == "  DEPMOD  /lib/modules/6.1.192-ded"


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
    rel = "6.1.192-ded"
    assert result.ran == [f"/sbin/installkernel {rel} arch/x86/boot/bzImage System.map /boot"]
    # run-parts --verbose, update-initramfs and grub-mkconfig's own words (debianutils 5.7,
    # initramfs-tools 0.142, grub-common 2.06)
    assert result.messages == [
        "  INSTALL /boot",
        f"run-parts: executing /etc/kernel/postinst.d/initramfs-tools {rel} /boot/vmlinuz-{rel}",
        f"update-initramfs: Generating /boot/initrd.img-{rel}",
        f"run-parts: executing /etc/kernel/postinst.d/zz-update-grub {rel} /boot/vmlinuz-{rel}",
        "Generating grub configuration file ..."]
    for path in (f"/boot/vmlinuz-{rel}", f"/boot/System.map-{rel}", f"/boot/config-{rel}",
                 f"/boot/initrd.img-{rel}", "/boot/grub/grub.cfg"):
        assert path in result.writes
    assert f"linux\t/boot/vmlinuz-{rel}" in tree.vfs.text("/boot/grub/grub.cfg")
    again = make_install(tree)
    assert f"/boot/vmlinuz-{rel}.old" in again.writes


def test_make_install_search_order():
    tree = built()
    tree.vfs.write("/root/bin/installkernel", note="a user's own script")
    assert make_install(tree).ran[0].startswith("/root/bin/installkernel ")


def test_make_install_upstream_fallback():
    tree = built(debian=False)
    result = make_install(tree)
    assert result.ran[0].startswith(f"{tree.srctree}/arch/x86/boot/install.sh 6.1.192-ded")
    assert result.writes == ["/boot/vmlinuz", "/boot/System.map"]
    assert result.messages[-1] == "Cannot find LILO."        # arch/x86/boot/install.sh:36
    assert "/boot/vmlinuz.old" in make_install(tree).writes


def test_make_install_needs_a_build():
    tree = KernelTree.example()
    before = dict(tree.vfs.files)
    with pytest.raises(KcourseError, match="Missing file: arch/x86/boot/bzImage"):
        make_install(tree)
    with pytest.raises(KcourseError, match="make modules first"):
        make_modules_install(tree)
    assert tree.vfs.files == before


def test_grub_hook_needs_an_installed_grub():
    """zz-update-grub (grub2-common 2.06-13+deb12u2) runs update-grub only
    `if [ -e /boot/grub/grub.cfg ]`: without it, no grub.cfg is generated."""
    tree = built()
    tree.vfs.remove("/boot/grub/grub.cfg")
    result = make_install(tree)
    assert "/boot/grub/grub.cfg" not in result.writes
    assert "Generating grub configuration file ..." not in result.messages


def test_mod_files_list_objects_as_6_1_does():
    """6.1 scripts/Makefile.build:260 cmd_mod: one `$(obj)/<object>` per line."""
    tree = built()
    src = tree.srctree
    assert tree.vfs.text(f"{src}/net/llc/llc.mod") == \
        "net/llc/llc_core.o\nnet/llc/llc_input.o\nnet/llc/llc_output.o\n"
    assert tree.vfs.text(f"{src}/drivers/block/loop.mod") == "drivers/block/loop.o\n"
    assert tree.vfs.text(f"{src}/modules.order").splitlines()[-1] == "net/llc/llc.ko"


def test_summary_marks_every_program_line_as_the_models():
    tree = built()
    text = make_modules_install(tree).summary()
    first, *rest = text.splitlines()
    assert first.startswith("model of `make modules_install`")
    printed = [line for line in rest if "INSTALL" in line or "DEPMOD" in line]
    assert printed and all(line.startswith("  | ") for line in printed)


def _linux_source_listing() -> dict:
    """Names in Debian's linux-source-6.1 tarball (the pinned version) and the Makefiles the
    example names its objects from, cached in ~/.cache/kcourse after one download."""
    import json
    import tarfile

    from kcourse import pin
    from kcourse.debian import DebianUnavailable, fetch_package
    from kcourse.paths import cache_dir

    cached = cache_dir() / f"linux-source-{pin.debian_version()}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    try:
        root = fetch_package(f"linux-source-6.1={pin.debian_version()}")
    except DebianUnavailable as err:
        need(False, f"Debian's linux-source-6.1 is unavailable: {err}")
    wanted = {"net/llc/Makefile", "net/802/Makefile", "drivers/block/Makefile"}
    names, files = [], {}
    with tarfile.open(root / "usr/src/linux-source-6.1.tar.xz", "r|xz") as tar:
        for member in tar:
            name = member.name.split("/", 1)[1] if "/" in member.name else ""
            names.append(name)
            if name in wanted:
                files[name] = tar.extractfile(member).read().decode()
    listing = {"names": names, "files": files}
    cached.write_text(json.dumps(listing))
    return listing


@pytest.mark.network
def test_example_tree_reads_only_files_the_real_tree_has():
    """Every file the model reads from the tree is in Debian's linux-source-6.1 6.1.192-2, was
    written by an earlier target, or is the .config the user makes (make olddefconfig)."""
    listing = _linux_source_listing()
    real = set(listing["names"])
    tree = KernelTree.example()
    setup_debian(tree.vfs)
    written, reads = set(), []
    for target in (make_bzimage, make_modules, make_modules_install, make_install):
        result = target(tree)
        reads += [p for p in result.reads if p.startswith(tree.srctree + "/")]
        written |= set(result.writes)
    for path in dict.fromkeys(reads):
        rel = path[len(tree.srctree) + 1:]
        assert rel in real or path in written or rel == ".config", rel
    # the Makefile lines the example's objects come from
    assert "llc-y := llc_core.o llc_input.o llc_output.o" in listing["files"]["net/llc/Makefile"]
    assert "obj-$(CONFIG_STP)\t+= stp.o" in listing["files"]["net/802/Makefile"]
    assert "obj-$(CONFIG_BLK_DEV_LOOP)\t+= loop.o" in listing["files"]["drivers/block/Makefile"]


def test_example_modules_have_debians_exports_and_needs(debian_modules_dir):
    """The example's symbols and aliases are those of Debian's own 6.1.0-56 modules."""
    tree = KernelTree.example()
    by_name = {m.name: m for m in tree.modules}
    for mod in tree.modules:
        real = KoFile(debian_modules_dir / "kernel" / mod.path)
        assert set(mod.exports) <= {e.name for e in real.exports}, mod.name
        assert set(mod.needs) <= set(real.undefined_symbols), mod.name
        assert sorted(mod.aliases) == sorted(v for k, v in real.modinfo if k == "alias")
        providers = {o.name for o in by_name.values() if set(mod.needs) & set(o.exports)}
        assert providers == set(filter(None, real.modinfo_get("depends").split(","))), mod.name
    builtin = (debian_modules_dir / "modules.builtin").read_text().split()
    assert set(tree.builtin) <= set(builtin)
