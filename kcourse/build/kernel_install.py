"""`make install` over the VFS: scripts/install.sh, Debian's installkernel, the grub hook.

scripts/install.sh (6.1) checks that the image and System.map exist, then runs the first
executable of ~/bin/installkernel, /sbin/installkernel, arch/x86/install.sh and
arch/x86/boot/install.sh with the arguments of installkernel(8):
`<release> arch/x86/boot/bzImage System.map <INSTALL_PATH=/boot>`.

- Debian's /sbin/installkernel (debianutils 5.7) writes /boot/vmlinuz-<release>,
  System.map-<release> and config-<release> (keeping .old copies), then
  `run-parts /etc/kernel/postinst.d` with the release and the image path: initramfs-tools
  makes /boot/initrd.img-<release>, zz-update-grub (grub2-common) runs update-grub, i.e.
  `grub-mkconfig -o /boot/grub/grub.cfg`.
- zz-update-grub runs update-grub only if /boot/grub/grub.cfg exists (an installed grub);
  grub-mkconfig prints "Generating grub configuration file ..." (and more lines).
- Without one, the kernel's arch/x86/boot/install.sh copies to /boot/vmlinuz and
  /boot/System.map (no release in the names; the old ones become vmlinuz.old, System.old),
  then runs /sbin/lilo if there is one, else prints "Cannot find LILO.".

`/sbin/installkernel ...` is what scripts/install.sh execs, not a line anything prints: the
result lists it under `ran`. The printed lines are install.sh's, run-parts --verbose's,
update-initramfs's and grub-mkconfig's own words.
"""

from __future__ import annotations

import re

from kcourse.build.kernel_build import KernelTree, TargetResult, run_target
from kcourse.build.vfs import VFS
from kcourse.errors import KcourseError

POSTINST = "/etc/kernel/postinst.d"


def setup_debian(vfs: VFS, initramfs: bool = True, grub: bool = True) -> None:
    """Put Debian 12's install machinery on the VFS (what `apt` would have installed)."""
    vfs.write("/sbin/installkernel", note="debianutils 5.7: Debian's installkernel")
    if initramfs:
        vfs.write(f"{POSTINST}/initramfs-tools", note="runs update-initramfs -c -k <release>")
    if grub:
        vfs.write(f"{POSTINST}/zz-update-grub", note="grub2-common: runs update-grub")
        vfs.write("/usr/sbin/update-grub", note="exec grub-mkconfig -o /boot/grub/grub.cfg")
        vfs.mkdir("/boot/grub")
        vfs.write("/boot/grub/grub.cfg", grub_cfg(vfs))   # the installed system's menu


def _version_key(release: str):
    """sort -V, roughly: numbers compare as numbers."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", release)]


def grub_cfg(vfs: VFS, boot: str = "/boot") -> str:
    """A simplified grub.cfg: one menuentry per /boot/vmlinuz-*, newest first (grub-mkconfig's
    10_linux sorts with version_sort -r; the first entry is the default)."""
    releases = sorted((name[len("vmlinuz-"):] for name in vfs.listdir(boot)
                       if name.startswith("vmlinuz-") and not name.endswith(".old")),
                      key=_version_key, reverse=True)
    lines = ["# simplified by kcourse: grub-mkconfig writes much more", "set default=0"]
    for release in releases:
        lines += [f"menuentry 'Debian GNU/Linux, with Linux {release}' {{",
                  f"\tlinux\t{boot}/vmlinuz-{release} root=UUID=... ro quiet"]
        if vfs.exists(f"{boot}/initrd.img-{release}"):
            lines.append(f"\tinitrd\t{boot}/initrd.img-{release}")
        lines.append("}")
    return "\n".join(lines) + "\n"


def _updatever(vfs: VFS, boot: str, name: str, release: str, source: str) -> None:
    """installkernel's updatever(): keep the previous file as .old, then copy."""
    dest = f"{boot}/{name}-{release}"
    if vfs.exists(dest):
        vfs.copy(dest, dest + ".old")
    vfs.copy(source, dest)


def make_install(tree: KernelTree, install_path: str = "/boot", home: str = "/root"
                 ) -> TargetResult:
    """`make install` (as root) on the tree's VFS."""
    vfs, src, release = tree.vfs, tree.src, tree.release
    image, sysmap = src("arch/x86/boot/bzImage"), src("System.map")

    def body():
        for path in (image, sysmap):
            if not vfs.exists(path):
                raise KcourseError(f'*** Missing file: {path[len(tree.srctree) + 1:]}; '
                                   '*** You need to run "make" before "make install".')
        for script in (f"{home}/bin/installkernel", "/sbin/installkernel",
                       src("arch/x86/install.sh"), src("arch/x86/boot/install.sh")):
            if vfs.exists(script):
                vfs.read(script)
                break
        else:
            raise KcourseError("No install script found")
        msgs = [f"  INSTALL {install_path}"]          # 6.1 Makefile: quiet_cmd_install
        ran = [f"{script} {release} arch/x86/boot/bzImage System.map {install_path}"]
        if script == src("arch/x86/boot/install.sh"):
            for new, old in (("vmlinuz", "vmlinuz.old"), ("System.map", "System.old")):
                if vfs.exists(f"{install_path}/{new}"):
                    vfs.copy(f"{install_path}/{new}", f"{install_path}/{old}")
            vfs.copy(image, f"{install_path}/vmlinuz")
            vfs.copy(sysmap, f"{install_path}/System.map")
            if vfs.exists("/sbin/lilo"):
                ran.append("/sbin/lilo")
                return msgs, ran
            ran.append("sync")
            return msgs + ["Cannot find LILO."], ran      # arch/x86/boot/install.sh:36
        _updatever(vfs, install_path, "vmlinuz", release, image)
        _updatever(vfs, install_path, "System.map", release, sysmap)
        if vfs.exists(src(".config")):
            _updatever(vfs, install_path, "config", release, src(".config"))
        if script != "/sbin/installkernel" or not vfs.is_dir(POSTINST) or install_path != "/boot":
            return msgs, ran      # installkernel runs the hooks only for dir = /boot
        for hook in vfs.listdir(POSTINST):                      # run-parts: lexical order
            vfs.read(f"{POSTINST}/{hook}")
            msgs.append(f"run-parts: executing {POSTINST}/{hook} {release} "
                        f"{install_path}/vmlinuz-{release}")     # run-parts --verbose
            if hook == "initramfs-tools":
                vfs.write(f"{install_path}/initrd.img-{release}", note="initramfs (cpio)")
                msgs.append(f"update-initramfs: Generating {install_path}/initrd.img-{release}")
            elif hook == "zz-update-grub" and vfs.exists(f"{install_path}/grub/grub.cfg"):
                vfs.read("/usr/sbin/update-grub")
                vfs.write(f"{install_path}/grub/grub.cfg", grub_cfg(vfs, install_path))
                msgs.append("Generating grub configuration file ...")
        return msgs, ran

    return run_target(vfs, "install", "make install", body)
