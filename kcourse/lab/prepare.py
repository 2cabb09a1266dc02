"""Prepare the real-kernel lab: Debian's kernel, the course modules for it, an initramfs.

Everything goes to kcourse.paths.cache_dir()/lab/<release>/ and is reused:

  vmlinux        the ELF kernel unpacked from Debian's linux-image-<release> bzImage (PVH boot,
                 see kcourse.lab.vmlinux)
  base.cpio      the base initramfs: /init, Debian's user space (kcourse.lab.userland),
                 /lib/modules/<release>/ with Debian's modules that the lab needs (plus their
                 dependencies) and the course modules under extra/, indexed by depmod, and
                 /root/modules: the course's data/modules folder, where scripts start
  course/        the course modules rebuilt for <release>, only when the committed .ko files
                 were built for another ABI (their vermagic names another release)
  manifest.json  what went in; a changed input (course .ko, module list) rebuilds the archive

The release is the pinned course kernel (kcourse.pin), so the lab boots the kernel the committed
.ko files, data/kernel and the recorded transcripts were made for.
Nothing is installed on the host: the kernel package is unpacked with `dpkg -x`, and `depmod
-b` writes only inside the staging tree.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kcourse import pin
from kcourse.errors import KcourseError
from kcourse.lab import cpio, guest, userland
from kcourse.lab.vmlinux import extract_vmlinux

FORMAT = 4  # bump when the layout of the cached files changes
# Debian modules the lab's scenarios and lessons load, with modprobe closing over their
# dependencies: dummy (none), 8021q (mrp, garp -> stp -> llc), vxlan (udp_tunnel,
# ip6_udp_tunnel), loop, zram (zsmalloc), isofs (cdrom), crc7; xt_TRACE and xt_NFLOG
# (x_tables) with the modules their softdeps name (modules.softdep: xt_TRACE pre:
# nf_log_syslog, xt_NFLOG pre: nfnetlink_log -> nfnetlink), which depends= does not pull in.
DEBIAN_MODULES = ("dummy", "8021q", "vxlan", "loop", "zram", "isofs", "crc7",
                  "xt_TRACE", "xt_NFLOG", "nf_log_syslog", "nfnetlink_log")
INDEX_FILES = ("modules.order", "modules.builtin", "modules.builtin.modinfo")
APT_HINT = userland.APT_HINT

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Lab:
    """A prepared lab: what RealKernel boots."""

    release: str
    kernel: Path  # the PVH-bootable ELF kernel
    initrd: Path  # the base initramfs
    course: dict[str, Path]  # course module name -> .ko built for this release
    manifest: dict

    @property
    def directory(self) -> Path:
        return self.kernel.parent


def lab_dir(release: str) -> Path:
    from kcourse.paths import cache_dir

    return cache_dir() / "lab" / release


def check_qemu() -> str:
    from kcourse.lab import qemu_binary

    path = shutil.which(qemu_binary())
    if path is None:
        raise KcourseError(f"{qemu_binary()} is not installed: {APT_HINT}")
    return path


def _fetch(package: str) -> Path:
    from kcourse.debian import DebianUnavailable, fetch_package

    try:
        return fetch_package(package)
    except DebianUnavailable as err:
        raise KcourseError(
            f"cannot download {package} from Debian's package registry ({err}); "
            "the lab needs apt and a network connection the first time"
        ) from err


# ---------------------------------------------------------------- course modules
def module_release(ko: Path) -> str | None:
    """The release in a module's vermagic ('6.1.0-56-amd64 SMP preempt ...' -> first word)."""
    from kcourse.elf.kofile import KoFile

    vermagic = KoFile(ko).modinfo_get("vermagic") or ""
    return vermagic.split(" ", 1)[0] or None


def course_modules(release: str, progress: Progress = _quiet) -> dict[str, Path]:
    """name -> .ko for `release`: the committed files, or a build into the cache if needed."""
    from kcourse.paths import data_dir, modules_dir

    committed = {ko.parent.name: ko for ko in sorted(modules_dir().glob("*/*.ko"))}
    if committed and all(module_release(ko) == release for ko in committed.values()):
        return committed
    target = lab_dir(release) / "course"
    built = {ko.parent.name: ko for ko in sorted(target.glob("*/*.ko"))}
    if built and set(built) >= set(committed) and all(
        module_release(ko) == release for ko in built.values()
    ):
        return built
    kdir = Path(f"/usr/src/linux-headers-{release}")
    if not (kdir / "Makefile").exists():
        raise KcourseError(
            f"the course modules were built for another kernel; to rebuild them for {release}: "
            f"apt-get install -y linux-headers-{release} build-essential (the committed ones are "
            f"for the pinned kernel, {pin.release()})"
        )
    script = data_dir().parent / "scripts" / "build-modules.sh"
    if not script.exists():
        raise KcourseError(f"cannot rebuild the course modules: {script.name} not found")
    progress(f"building the course modules against linux-headers-{release}")
    env = dict(os.environ, KDIR=str(kdir))
    proc = subprocess.run(["sh", str(script), str(target)], env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise KcourseError(f"building the course modules failed: {last}")
    return {ko.parent.name: ko for ko in sorted(target.glob("*/*.ko"))}


# ---------------------------------------------------------------- Debian modules
def debian_closure(tree: Path, names: tuple[str, ...]) -> dict[str, Path]:
    """The named modules and everything their `depends=` tags pull in, transitively
    (kcourse.debian.depends_closure, the set the simulator's tree holds too): name -> file."""
    from kcourse.build.depmod import search_tree
    from kcourse.debian import depends_closure
    from kcourse.elf.kofile import KoFile

    paths = {name: path for name, (_rel, path) in search_tree(tree).items()}

    def depends(name: str) -> str | None:
        return (KoFile(paths[name]).modinfo_get("depends") or "") if name in paths else None

    return {name: paths[name] for name in depends_closure(names, depends)}


# ---------------------------------------------------------------- the archive
def _course_files(course: dict[str, Path]) -> dict[str, Path]:
    """/root/modules: data/modules as it is, with each .ko the one built for the guest."""
    from kcourse.paths import modules_dir

    top = modules_dir()
    files = {
        path.relative_to(top).as_posix(): path
        for path in sorted(top.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    files.update({f"{name}/{name}.ko": ko for name, ko in course.items()})
    return files


def _fingerprint(release: str, course: dict[str, Path], debian: tuple[str, ...]) -> str:
    digest = hashlib.sha256(f"{FORMAT} {release} {' '.join(debian)}".encode())
    digest.update(guest.INIT.encode())
    for name, path in sorted(_course_files(course).items()):
        digest.update(name.encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def _stage(root: Path, release: str, image_tree: Path, course: dict[str, Path],
           debian: tuple[str, ...]) -> dict:
    """Lay the guest's root file system out in `root`; return the manifest facts."""
    for directory in ("proc", "sys", "dev", "tmp", "run", "root", "etc"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    programs = userland.install(root)
    moddir = root / "usr/lib/modules" / release
    moddir.mkdir(parents=True)
    for index in INDEX_FILES:
        if (image_tree / index).exists():
            shutil.copyfile(image_tree / index, moddir / index)
    chosen = debian_closure(image_tree, debian)
    for path in chosen.values():
        target = moddir / path.relative_to(image_tree)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    (moddir / "extra").mkdir()
    for name, ko in course.items():
        shutil.copyfile(ko, moddir / "extra" / f"{name}.ko")
    workdir = root / guest.WORKDIR.lstrip("/")
    for rel, path in _course_files(course).items():
        (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, workdir / rel)
    depmod = shutil.which("depmod", path="/usr/sbin:/sbin:/usr/bin:/bin")
    if depmod is None:
        raise KcourseError(f"depmod is not installed: {APT_HINT}")
    # -b: work on the staging tree only (kmod tools/depmod.c: --basedir).
    proc = subprocess.run([depmod, "-b", str(root), release], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise KcourseError(f"depmod failed on the guest's module tree: {proc.stderr.strip()}")
    for entry in guest.init_entries():
        path = root / entry.name
        if entry.name == "etc":
            continue
        path.write_bytes(entry.data)
        path.chmod(entry.mode & 0o777)
    return {
        "programs": {k: v for k, v in sorted(programs.items())},
        "debian_modules": sorted(chosen),
        "course_modules": sorted(course),
    }


def prepare_modules(progress: Progress = _quiet, release: str | None = None) -> tuple[str, int]:
    """Debian's module tree alone, for the simulator (`kcourse sim --debian`, Shell(debian_tree=
    ...)): linux-image-<release> fetched into the cache and what depmod reads from each module
    indexed (kcourse.shell.moddir.scan). Needs apt and, once, the network; no QEMU. The release
    is the pinned course kernel's. Returns (release, number of modules)."""
    from kcourse.debian import cached_image_modules_dir
    from kcourse.shell.moddir import scan

    release = release or pin.release()
    tree = cached_image_modules_dir(release)
    if tree is None:
        progress(f"downloading linux-image-{release} (about 70 MB, once)")
        tree = _fetch(f"linux-image-{release}") / "lib" / "modules" / release
        if not tree.is_dir():
            raise KcourseError(f"linux-image-{release} has no lib/modules/{release}")
    progress(f"indexing Debian's modules for {release}")
    found, _facts = scan(tree)
    return release, len(found)


def _fetch_image(release: str, progress: Progress) -> Path:
    from kcourse.debian import package_dir

    if not (package_dir(f"linux-image-{release}") / ".unpacked").exists():
        progress(f"downloading linux-image-{release} (about 70 MB, once)")
    return _fetch(f"linux-image-{release}")


def kernel_image(release: str | None = None, progress: Progress = _quiet) -> Path:
    """The ELF kernel (vmlinux) of Debian's linux-image-<release>, unpacked from its vmlinuz
    into lab_dir(release)/vmlinux once: what the lab boots, and where kcourse reads the
    kernel's BTF and export table (kcourse.build.kernel_layouts). Needs no QEMU."""
    release = release or pin.release()
    kernel = lab_dir(release) / "vmlinux"
    if kernel.exists():
        return kernel
    image_root = _fetch_image(release, progress)
    progress("unpacking the kernel for a direct (PVH) boot")
    bzimage = (image_root / "boot" / f"vmlinuz-{release}").read_bytes()
    kernel.parent.mkdir(parents=True, exist_ok=True)
    tmp = kernel.with_suffix(".tmp")
    tmp.write_bytes(extract_vmlinux(bzimage))
    tmp.replace(kernel)
    return kernel


def prepare(progress: Progress = _quiet, release: str | None = None,
            debian_modules: tuple[str, ...] = DEBIAN_MODULES) -> Lab:
    """Everything the lab boots, built once and cached. `progress` hears each step."""
    check_qemu()
    userland.find_busybox()
    release = release or pin.release()
    directory = lab_dir(release)
    directory.mkdir(parents=True, exist_ok=True)
    kernel = directory / "vmlinux"
    initrd = directory / "base.cpio"
    manifest_path = directory / "manifest.json"

    image_root: Path | None = None
    if not kernel.exists():
        image_root = _fetch_image(release, progress)
        kernel_image(release, progress)

    course = course_modules(release, progress)
    fingerprint = _fingerprint(release, course, debian_modules)
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    if initrd.exists() and manifest.get("fingerprint") == fingerprint:
        progress(f"lab ready: {release} (cached)")
        return Lab(release, kernel, initrd, course, manifest)

    if image_root is None:
        progress(f"fetching linux-image-{release}'s module tree")
        image_root = _fetch(f"linux-image-{release}")
    image_tree = image_root / "lib" / "modules" / release
    progress("building the initramfs (busybox, bash, coreutils, kmod, modules)")
    with tempfile.TemporaryDirectory(prefix="kcourse-lab-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        facts = _stage(root, release, image_tree, course, debian_modules)
        blob = cpio.archive(cpio.tree(root))
    # Left uncompressed: under TCG, unpacking 18 MB of zstd or gzip costs the boot 0.3-0.7 s,
    # more than QEMU takes to load the plain file (benchmarks/lab_boot.py measures both).
    tmp_initrd = initrd.with_suffix(".tmp")
    tmp_initrd.write_bytes(blob)
    tmp_initrd.replace(initrd)
    manifest = {
        "format": FORMAT,
        "release": release,
        "fingerprint": fingerprint,
        "initramfs_bytes": len(blob),
        "kernel_bytes": kernel.stat().st_size,
        **facts,
    }
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    progress(f"lab ready: {release}, initramfs {len(blob) // 1024} KiB")
    return Lab(release, kernel, initrd, course, manifest)

