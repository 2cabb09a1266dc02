"""What `make bzImage`, `make modules`, `make modules_install` and `make install` read and
write, modelled over a VFS (kcourse.build.vfs), never the host's filesystem.

The rules are kernel 6.1's (top Makefile, arch/x86/boot/Makefile,
arch/x86/boot/compressed/Makefile, scripts/Makefile.modinst, scripts/depmod.sh,
scripts/install.sh, arch/x86/boot/install.sh) and Debian 12's /sbin/installkernel
(debianutils 5.7) with grub2's /etc/kernel/postinst.d/zz-update-grub. Where later kernels
differ the model says so: external modules go to `updates/` since 6.3 (`extra/` before), and
modules_install stopped making the `source` link in 6.6 (commit d8131c2965d5).

There is no `vmlinuz.bin` and no `/usr/arch`: the image is arch/x86/boot/bzImage inside the
build tree, installed as /boot/vmlinuz-<release> (see `OLD_CLAIM`).

What a target "prints" is the model's: `TargetResult.summary()` says so in its first line and
marks each line the real programs would print with `| `; a real run prints more (every
`CC` line, grub-mkconfig's `Found linux image` lines). The example tree is Debian's
linux-source-6.1 (6.1.192), and every source file the model reads from it is a file that tree
has (tests/test_build_model.py checks them against the real tarball's listing).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from kcourse.build import depmod
from kcourse.build.release import ReleaseInputs, kernel_release
from kcourse.build.vfs import VFS
from kcourse.errors import KcourseError

OLD_CLAIM = ("\"vmlinuz.bin in /usr/arch/x86/boot\" is wrong: make bzImage leaves "
             "arch/x86/boot/bzImage in the kernel build tree (e.g. /usr/src/linux-source-6.1/), "
             "with arch/x86/boot/vmlinux.bin and arch/x86/boot/compressed/vmlinux.bin[.xz] as "
             "intermediate files; make install copies it to /boot/vmlinuz-<release>.")
COMPRESSION = {"GZIP": "gz", "BZIP2": "bz2", "LZMA": "lzma", "XZ": "xz", "LZO": "lzo",
               "LZ4": "lz4", "ZSTD": "zst"}   # compressed/Makefile: suffix-$(CONFIG_KERNEL_*)


@dataclass
class InTreeModule:
    """A module of the kernel tree: its path (relative to the tree), the objects it is linked
    from (`<name>-y` in its Makefile; default: the one `<name>.o`) and what depmod sees."""

    path: str                     # e.g. "drivers/block/loop.ko"
    exports: list[str] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    softdeps: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)   # e.g. ["llc_core.o", "llc_input.o"]

    @property
    def name(self) -> str:
        return depmod.path_to_modname(self.path)

    @property
    def object_paths(self) -> list[str]:
        """The objects, relative to the tree (scripts/Makefile.build cmd_mod writes these to
        the .mod file, one per line, as $(obj)/<object>)."""
        folder = posixpath.dirname(self.path)
        names = self.objects or [posixpath.basename(self.path)[:-3] + ".o"]
        return [posixpath.join(folder, name) for name in names]

    @property
    def sources(self) -> list[str]:
        return [obj[:-2] + ".c" for obj in self.object_paths]


@dataclass
class TargetResult:
    """What one make target did in the model: the lines the real programs would print
    (`messages`, in order), the commands it ran (`ran`), and the files it read and wrote."""

    target: str
    command: str
    reads: list[str]
    writes: list[str]
    removed: list[str]
    messages: list[str]
    ran: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"model of `{self.command}` (kcourse.build: 6.1's make rules replayed on a "
                 "pretend filesystem; no program ran)"]
        if self.messages:
            lines.append("a real run would print, among more (each line after `| `):")
            lines += [f"  | {m}" for m in self.messages]
        if self.ran:
            lines += ["would run:"] + [f"  {c}" for c in self.ran]
        lines += ["read:"] + ([f"  {p}" for p in self.reads] or ["  (nothing)"])
        lines += ["wrote:"] + ([f"  {p}" for p in self.writes] or ["  (nothing)"])
        if self.removed:
            lines += ["removed:"] + [f"  {p}" for p in self.removed]
        return "\n".join(lines)


@dataclass
class KernelTree:
    """A kernel source tree built in place (objtree = srctree), on a VFS."""

    vfs: VFS
    srctree: str
    inputs: ReleaseInputs
    config: dict[str, str]
    modules: list[InTreeModule]
    builtin: list[str] = field(default_factory=list)   # modules built into vmlinux

    @property
    def release(self) -> str:
        return kernel_release(self.inputs)

    @property
    def version(self) -> tuple[int, int, int]:
        return (self.inputs.version, self.inputs.patchlevel, self.inputs.sublevel or 0)

    def src(self, rel: str) -> str:
        return posixpath.join(self.srctree, rel)

    @classmethod
    def example(cls, vfs: VFS | None = None, version=(6, 1, 192), localversion="-ded",
                compression="XZ") -> KernelTree:
        """Debian's linux-source-6.1 with four real modules (kcourse.build.example_tree)."""
        from kcourse.build.example_tree import debian_source_tree

        return debian_source_tree(vfs or VFS(), version, localversion, compression)

    def facts(self, mod: InTreeModule) -> depmod.ModuleFacts:
        info = [("alias", a) for a in mod.aliases] + [("softdep", s) for s in mod.softdeps]
        info += [("name", mod.name), ("vermagic", f"{self.release} SMP mod_unload ")]
        deps = [(sym, False) for sym in mod.needs] + [("module_layout", False)]
        return depmod.ModuleFacts(list(mod.exports), deps, info)


def run_target(vfs: VFS, target: str, command: str, body) -> TargetResult:
    """Run body() while recording the VFS; body returns the lines the real programs would
    print, or (those lines, the commands they would run)."""
    with vfs.recording() as rec:
        returned = body()
    messages, ran = returned if isinstance(returned, tuple) else (returned, [])
    return TargetResult(target, command, rec.reads, rec.writes, rec.removed, messages, ran)


def make_bzimage(tree: KernelTree) -> TargetResult:
    """`make bzImage`: vmlinux, then the compressed, self-extracting boot image."""
    vfs, src = tree.vfs, tree.src
    method = next((COMPRESSION[k[len("CONFIG_KERNEL_"):]] for k, v in tree.config.items()
                   if k.startswith("CONFIG_KERNEL_") and k[14:] in COMPRESSION and v == "y"),
                  "gz")

    def body():
        vfs.read(src("Makefile"))
        vfs.read(src(".config"))
        vfs.write(src("include/config/kernel.release"), tree.release + "\n")
        vfs.write(src("include/generated/utsrelease.h"),
                  f'#define UTS_RELEASE "{tree.release}"\n')
        vfs.write(src("vmlinux.o"), note="all built-in code, linked once")
        vfs.write(src("modules.builtin"), "".join(b + "\n" for b in tree.builtin))
        vfs.write(src("modules.builtin.modinfo"), note="the .modinfo of built-in modules")
        vfs.write(src("vmlinux"), note="ELF executable: the kernel, with symbols")
        vfs.write(src("System.map"), note="nm vmlinux, sorted: symbol addresses")
        boot = "arch/x86/boot/"
        vfs.write(src(boot + "compressed/vmlinux.bin"), note="objcopy -R .comment -S vmlinux")
        vfs.write(src(boot + "compressed/vmlinux.relocs"), note="relocations for KASLR")
        vfs.write(src(boot + f"compressed/vmlinux.bin.{method}"),
                  note=f"vmlinux.bin + vmlinux.relocs, compressed ({method}), + u32 size")
        vfs.write(src(boot + "compressed/piggy.S"), note="includes the compressed kernel")
        vfs.write(src(boot + "compressed/vmlinux"), note="decompressor + piggy.o (ELF)")
        vfs.write(src(boot + "vmlinux.bin"), note="objcopy -O binary compressed/vmlinux")
        vfs.write(src(boot + "setup.elf"), note="real-mode setup code, header.S")
        vfs.write(src(boot + "setup.bin"), note="objcopy -O binary setup.elf")
        vfs.write(src(boot + "bzImage"), note="tools/build setup.bin vmlinux.bin: the image")
        if not vfs.is_link(src("arch/x86_64/boot/bzImage")):
            vfs.symlink(src("arch/x86_64/boot/bzImage"), "../../x86/boot/bzImage")
        return ["Kernel: arch/x86/boot/bzImage is ready  (#1)"]   # arch/x86/boot/Makefile:86

    return run_target(vfs, "bzImage", "make bzImage", body)


def make_modules(tree: KernelTree) -> TargetResult:
    """`make modules`: every object of every obj-m module is compiled, modpost writes
    Module.symvers and a .mod.c per module, each .ko is linked next to its sources, and
    modules.order lists them (6.1: as .ko paths). The printed lines are 6.1's quiet_cmd_*:
    `CC [M]` (scripts/Makefile.build), `MODPOST` (Makefile.modpost), then `CC [M]` of the
    .mod.c and `LD [M]` (Makefile.modfinal), as `make -j1` orders them."""
    vfs, src = tree.vfs, tree.src

    def body():
        vfs.read(src(".config"))
        for mod in tree.modules:
            for source, obj in zip(mod.sources, mod.object_paths, strict=True):
                vfs.read(src(source))
                vfs.write(src(obj), note="compiled object")
            stem = mod.path[:-3]
            vfs.write(src(stem + ".mod"), "".join(o + "\n" for o in mod.object_paths))
        vfs.write(src("Module.symvers"), "".join(
            f"0x00000000\t{sym}\t{m.path[:-3]}\tEXPORT_SYMBOL\t\n"
            for m in tree.modules for sym in m.exports))
        for mod in tree.modules:
            stem = mod.path[:-3]
            vfs.write(src(stem + ".mod.c"), note="generated by modpost")
            vfs.write(src(stem + ".mod.o"), note="compiled .mod.c")
            vfs.write(src(mod.path), note="loadable module", facts=tree.facts(mod))
        vfs.write(src("modules.order"), "".join(m.path + "\n" for m in tree.modules))
        compiled = [f"  CC [M]  {obj}" for m in tree.modules for obj in m.object_paths]
        linked = [line for m in tree.modules for line in
                  (f"  CC [M]  {m.path[:-3]}.mod.o", f"  LD [M]  {m.path}")]
        return compiled + ["  MODPOST Module.symvers"] + linked

    return run_target(vfs, "modules", "make modules", body)


def depmod_step(vfs: VFS, modlib: str, system_map: str) -> list[str]:
    """scripts/depmod.sh: depmod -ae -F System.map, or a warning without System.map."""
    if not vfs.exists(system_map):
        return ["Warning: modules_install: missing 'System.map' file. Skipping depmod."]
    vfs.read(system_map)
    entries = {}
    for path in vfs.walk(modlib):
        rel = path[len(modlib) + 1:]
        if rel.split("/", 1)[0] in ("build", "source") or not rel.endswith(depmod.EXTENSIONS):
            continue
        name = depmod.path_to_modname(rel)
        if name in entries and depmod.is_higher_priority(entries[name][0], rel,
                                                         depmod.DEFAULT_SEARCH):
            continue
        entries[name] = (rel, vfs.read(path).facts or depmod.ModuleFacts([], [], []))
    order = modlib + "/modules.order"
    result = depmod.compute(entries, vfs.text(order) if vfs.exists(order) else None)
    for name, text in result.files().items():
        vfs.write(f"{modlib}/{name}", text)
    for name in ("modules.dep.bin", "modules.alias.bin", "modules.symbols.bin",
                 "modules.builtin.bin", "modules.builtin.alias.bin"):
        vfs.write(f"{modlib}/{name}", note="binary index for modprobe (not modelled)")
    return [f"  DEPMOD  {modlib}"]  # 6.1 Makefile:1987 quiet_cmd_depmod = DEPMOD  $(MODLIB)


def make_modules_install(tree: KernelTree, install_mod_path: str = "") -> TargetResult:
    """`make modules_install [INSTALL_MOD_PATH=...]` for the tree's own modules."""
    vfs, src, release = tree.vfs, tree.src, tree.release
    modlib = f"{install_mod_path.rstrip('/')}/lib/modules/{release}"

    def body():
        if not vfs.exists(src("modules.order")):
            raise KcourseError("modules.order is missing: run make modules first")
        vfs.rmtree(modlib + "/kernel")                        # Makefile: __modinst_pre
        vfs.remove(modlib + "/source")
        vfs.mkdir(modlib + "/kernel")
        if tree.version < (6, 6):                             # removed by d8131c2965d5 (6.6)
            vfs.symlink(modlib + "/source", tree.srctree)
        if not vfs.is_link(modlib + "/build"):
            vfs.symlink(modlib + "/build", tree.srctree)
        order = vfs.text(src("modules.order")).split()
        vfs.write(modlib + "/modules.order", "".join(f"kernel/{m}\n" for m in order))
        vfs.copy(src("modules.builtin"), modlib + "/modules.builtin")
        vfs.copy(src("modules.builtin.modinfo"), modlib + "/modules.builtin.modinfo")
        for mod in sorted(order):                             # Makefile.modinst: $(sort ...)
            vfs.copy(src(mod), f"{modlib}/kernel/{mod}")
        msgs = [f"  INSTALL {modlib}/kernel/{m}" for m in sorted(order)]   # quiet_cmd_install
        return msgs + depmod_step(vfs, modlib, src("System.map"))

    command = "make modules_install" + (f" INSTALL_MOD_PATH={install_mod_path}"
                                        if install_mod_path else "")
    return run_target(vfs, "modules_install", command, body)


def install_mod_dir(version: tuple[int, int, int]) -> str:
    """Default INSTALL_MOD_DIR for M= builds: extra through 6.2 (scripts/Makefile.modinst:17
    in 6.1), updates from 6.3 (commit b74d7bb7ca24)."""
    return "updates" if version >= (6, 3) else "extra"


def make_external_modules(tree: KernelTree, mdir: str, modules: list[InTreeModule]
                          ) -> TargetResult:
    """`make -C <tree> M=<mdir> modules`: the outputs go to mdir (6.1 modules.order lists
    absolute .ko paths)."""
    vfs = tree.vfs

    def body():
        vfs.read(tree.src("Module.symvers"))
        vfs.read(tree.src("include/config/kernel.release"))
        vfs.read(posixpath.join(mdir, "Kbuild"))
        for mod in modules:
            base = posixpath.join(mdir, mod.name)
            vfs.read(base + ".c")
            for suffix in (".o", ".mod", ".mod.c", ".mod.o"):
                vfs.write(base + suffix, note="kbuild output")
            vfs.write(base + ".ko", note="loadable module", facts=tree.facts(mod))
        vfs.write(posixpath.join(mdir, "modules.order"),
                  "".join(f"{mdir}/{m.name}.ko\n" for m in modules))
        vfs.write(posixpath.join(mdir, "Module.symvers"), "".join(
            f"0x00000000\t{s}\t{mdir}/{m.name}\tEXPORT_SYMBOL\t\n"
            for m in modules for s in m.exports))
        return [f"  LD [M]  {mdir}/{m.name}.ko" for m in modules]

    return run_target(vfs, "modules", f"make -C {tree.srctree} M={mdir} modules", body)


def make_external_modules_install(tree: KernelTree, mdir: str, install_mod_dir_: str | None
                                  = None, install_mod_path: str = "") -> TargetResult:
    """`make -C <tree> M=<mdir> modules_install`: to $(MODLIB)/$(INSTALL_MOD_DIR)."""
    vfs = tree.vfs
    modlib = f"{install_mod_path.rstrip('/')}/lib/modules/{tree.release}"
    dest = install_mod_dir_ or install_mod_dir(tree.version)

    def body():
        order = vfs.text(posixpath.join(mdir, "modules.order")).split()
        for ko in sorted(order):
            vfs.copy(ko, f"{modlib}/{dest}/{posixpath.basename(ko)}")
        return ([f"  INSTALL {modlib}/{dest}/{posixpath.basename(k)}" for k in sorted(order)]
                + depmod_step(vfs, modlib, tree.src("System.map")))

    return run_target(vfs, "modules_install", f"make -C {tree.srctree} M={mdir} modules_install",
                body)
