"""load_module() and delete_module() of kernel/module/main.c (6.1), step by step.

Each step below is named after the kernel function it models and runs in the kernel's order;
a failing step unwinds what the earlier ones did, exactly as load_module's goto ladder does,
so a refused load leaves only what the real kernel leaves: its dmesg lines and the global
taint bits already set (check_modinfo taints before the duplicate-name check, for example).
The kernel's messages are printed with their real levels and texts. Kernel.last_trace lists
the steps of the last call, for lessons.
"""

from __future__ import annotations

import os

from kcourse.errors import KoFormatError
from kcourse.kernel import errno as E
from kcourse.kernel import layout as L
from kcourse.kernel.elfcheck import elf_validity_check
from kcourse.kernel.image import (
    SHN_ABS,
    SHN_COMMON,
    SHN_UNDEF,
    STB_WEAK,
    ModuleImage,
    parse_image_cached,
    signature_status,
)
from kcourse.kernel.module import (
    MODULE_NAME_LEN,
    MODULE_REF_BASE,
    TAINT_CRAP,
    TAINT_FORCED_MODULE,
    TAINT_FORCED_RMMOD,
    TAINT_LIVEPATCH,
    TAINT_OOT_MODULE,
    TAINT_PROPRIETARY_MODULE,
    TAINT_TEST,
    TAINT_UNSIGNED_MODULE,
    LoadedSection,
    Module,
)
from kcourse.kernel.params import Param, parse_args
from kcourse.kernel.states import ModuleState
from kcourse.machine.relocate import RelocationError

MODULE_INIT_IGNORE_MODVERSIONS, MODULE_INIT_IGNORE_VERMAGIC = 1, 2
MODULE_INIT_COMPRESSED_FILE = 4
GPL_COMPATIBLE = ("GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL",
                  "Dual MPL/GPL")  # include/linux/license.h
ERR, WARN, NOTICE, INFO = "\0013", "\0014", "\0015", "\0016"


class LoadError(Exception):
    def __init__(self, errno: int):
        super().__init__(errno)
        self.errno = errno


def _is_oops(exc: BaseException) -> bool:
    """The modelled death of the calling task (kernel.TaskKilled): not a simulator failure."""
    from kcourse.kernel.kernel import SimulatorLimit, TaskKilled

    return isinstance(exc, TaskKilled) and not isinstance(exc, SimulatorLimit)


def same_magic(amagic: str, bmagic: str, has_crcs: bool) -> bool:
    """kernel/module/version.c: the release part is ignored when the module has CRCs."""
    if has_crcs:
        amagic = amagic[len(amagic.split(" ", 1)[0]):]
        bmagic = bmagic[len(bmagic.split(" ", 1)[0]):]
    return amagic == bmagic


class Loader:
    """The load and unload paths; state lives in the Kernel it is given."""

    def __init__(self, kernel):
        self.k = kernel

    # ================================================================ helpers
    def pr(self, text: str) -> None:
        self.k.log.printk(text)

    def trace(self, step: str) -> None:
        self.k.last_trace.append(step)

    def test_taint(self, flag: int) -> bool:
        return bool(self.k.tainted >> flag & 1)

    def add_taint(self, flag: int, unreliable: bool = False) -> None:
        """kernel/panic.c add_taint; LOCKDEP_NOW_UNRELIABLE turns lock debugging off once."""
        if unreliable and self.k.debug_locks:
            self.k.debug_locks = False
            self.pr(WARN + "Disabling lock debugging due to kernel taint\n")
        self.k.tainted |= 1 << flag

    def add_taint_module(self, taints: list, flag: int, unreliable: bool = False) -> None:
        self.add_taint(flag, unreliable)
        taints[0] |= 1 << flag

    def try_to_force_load(self, taints: list, modname: str, reason: str) -> int:
        """CONFIG_MODULE_FORCE_LOAD=y: allowed, taints F (message only the first time)."""
        if not self.test_taint(TAINT_FORCED_MODULE):
            self.pr(f"{WARN}{modname}: {reason}: kernel tainted.\n")
        self.add_taint_module(taints, TAINT_FORCED_MODULE, True)
        return 0

    # ================================================================ load_module
    def load_module(self, source: str, raw: bytes, uargs: str, flags: int,
                    image: ModuleImage | None = None) -> int:
        k = self.k
        k.last_trace = []
        self.trace("module_sig_check")
        elf_len, sig_ok = self.module_sig_check(raw, flags, image)
        self.trace("elf_validity_check")
        if image is None:
            msg = elf_validity_check(raw[:elf_len])
            if msg is not None:
                self.pr(ERR + msg + "\n")
                raise LoadError(E.ENOEXEC)
            try:
                status = "ok" if sig_ok else "unsigned"
                image = parse_image_cached(str(source), bytes(raw), elf_len, status)
            except (KoFormatError, ValueError, IndexError, UnicodeError):
                raise LoadError(E.ENOEXEC) from None
        self.trace("setup_load_info")
        name = image.name or "(missing .modinfo section or name field)"
        if not image.symtab_index:
            self.pr(f"{WARN}{name}: module has no symbols (stripped?)\n")
            raise LoadError(E.ENOEXEC)
        if not image.this_module_index:
            self.pr(f"{WARN}{name}: No module found in object\n")
            raise LoadError(E.ENOEXEC)
        has_vers = bool(image.versions) and not flags & MODULE_INIT_IGNORE_MODVERSIONS
        taints = [0]  # bits set on the temporary struct module (info->mod)
        modname = image.mod_name
        self.trace("check_modstruct_version")
        if not self.check_version(image, has_vers, taints, "module_layout",
                                  k.module_layout_crc, modname):
            raise LoadError(E.ENOEXEC)
        self.trace("layout_and_allocate")
        self.check_modinfo(image, flags, taints, has_vers)
        for s in image.sections:
            if s.flags & 0x5 == 0x5:  # strict_rwx.c module_enforce_rwx_sections
                self.pr(f"{ERR}{modname}: section {s.name} (index {s.index}) has invalid "
                        "WRITE|EXEC flags\n")
                raise LoadError(E.ENOEXEC)
        lay = L.compute(image, ignore_modversions=bool(flags & MODULE_INIT_IGNORE_MODVERSIONS))
        mod = Module(name=modname, image=image, taints=taints[0], layout=lay,
                     core_layout=lay.core, init_layout=lay.init, raw=raw[:elf_len])
        k.vm.alloc_module(mod)
        try:  # load_module's free_module label: the allocation goes with any failure
            self.trace("add_unformed_module")
            old = k.find_module_all(modname)
            if old is not None:
                raise LoadError(E.EEXIST if old.state == ModuleState.LIVE else E.EBUSY)
            k.link_module(mod)
        except BaseException:
            if mod not in k.modules:
                k.vm.free_module(mod)
            else:
                self._unwind(mod, "unlink_mod")
            raise
        self._formed_part(mod, image, sig_ok, uargs, has_vers)
        return self.do_init_module(mod)

    def _formed_part(self, mod: Module, image: ModuleImage, sig_ok: bool, uargs: str,
                     has_vers: bool) -> None:
        """From the module's place in the list to sysfs; unwinds on failure."""
        k = self.k
        stage = "unlink_mod"
        try:
            mod.sig_ok = sig_ok
            if not sig_ok:  # CONFIG_MODULE_SIG
                k.log.once("module_sig", f"{NOTICE}{mod.name}: module verification failed: "
                           "signature and/or required key missing - tainting kernel\n")
                self._mod_taint(mod, TAINT_UNSIGNED_MODULE)
            self.trace("module_unload_init")
            mod.refcnt = MODULE_REF_BASE + 1  # "Hold reference count during initialization."
            stage = "free_unload"
            self.trace("check_module_license_and_versions")
            self.check_module_license_and_versions(mod)
            self.trace("setup_modinfo")
            stage = "free_modinfo"
            self.trace("simplify_symbols")
            err = self.simplify_symbols(mod, image, has_vers)
            if err:
                raise LoadError(err)
            self.trace("post_relocation")
            self._place_sections(mod)
            if k.runs_code(mod):
                try:
                    k.place_code(mod)  # move_module, simplify_symbols, apply_relocations
                except RelocationError as err:
                    for line in err.lines:
                        self.pr(ERR + line + "\n")
                    raise LoadError(E.ENOEXEC) from None
            mod.args = uargs
            stage = "ddebug_cleanup"
            self.trace("complete_formation")
            for exp in mod.exports:  # verify_exported_symbols
                hit = k.symbols.find(exp.name, gplok=True)
                if hit is not None:
                    owner = hit.owner.name if hit.owner is not None else "kernel"
                    self.pr(f"{ERR}{mod.name}: exports duplicate symbol {exp.name} "
                            f"(owned by {owner})\n")
                    raise LoadError(E.ENOEXEC)
            k.set_state(mod, ModuleState.COMING)
            stage = "coming_cleanup"  # from here on the ladder starts with GOING
            k.symbols.add_module(mod)
            self.trace("parse_args")
            mod.params = {p.name: Param.from_spec(p) for p in image.params}
            k.bind_param_ops(mod)
            err = parse_args(mod.name, uargs, mod.params, self.pr)
            if err:
                raise LoadError(err)
            k.write_params(mod)
            self.trace("mod_sysfs_setup")
            k.sysfs_add(mod)
        except BaseException:
            # Not only LoadError: whatever escapes (a bug, a bad argument, Ctrl-C) must not
            # leave a half-loaded module behind, so every exception takes the error ladder.
            self._unwind(mod, stage)
            raise

    def _mod_taint(self, mod: Module, flag: int, unreliable: bool = False) -> None:
        box = [mod.taints]
        self.add_taint_module(box, flag, unreliable)
        mod.taints = box[0]

    def _unwind(self, mod: Module, stage: str) -> None:
        """The tail of load_module's error ladder, from `stage` down."""
        k = self.k
        order = ["coming_cleanup", "ddebug_cleanup", "free_modinfo", "free_unload", "unlink_mod"]
        for step in order[order.index(stage):]:
            if step == "coming_cleanup":
                k.set_state(mod, ModuleState.GOING)
            elif step == "free_unload":
                self.module_unload_free(mod)
            elif step == "unlink_mod":
                k.drop_code(mod)
                k.symbols.remove_module(mod)
                k.sysfs_remove(mod)
                k.unlink_module(mod)
                k.vm.free_module(mod)

    # ---------------------------------------------------------------- steps
    def module_sig_check(self, raw: bytes, flags: int, image: ModuleImage | None):
        """signing.c module_sig_check: (length of the ELF part, sig_ok)."""
        mangled = flags & (MODULE_INIT_IGNORE_MODVERSIONS | MODULE_INIT_IGNORE_VERMAGIC)
        if image is not None:
            status, elf_len = image.sig_status, image.elf_len
        else:
            elf_len, status, _signer = signature_status(raw)
        if mangled and status != "unsigned":
            status, elf_len = "mangled", len(raw)
        if status == "ok":
            return elf_len, True
        if status == "badmsg":
            raise LoadError(E.EBADMSG)
        reason = "module with unavailable key" if status == "nokey" else "unsigned module"
        if self.k.sig_enforce:
            self.pr(f"{NOTICE}Loading of {reason} is rejected\n")
            raise LoadError(E.EKEYREJECTED)
        return elf_len, False

    def check_version(self, image, has_vers: bool, taints: list, symname: str,
                      crc: int | None, modname: str) -> bool:
        """version.c check_version."""
        if crc is None:
            return True  # "Exporting module didn't supply crcs?  OK, we're already tainted."
        if not has_vers:
            return self.try_to_force_load(taints, modname, symname) == 0
        vcrc = image.versions_map.get(symname)
        if vcrc is not None:
            if vcrc == crc:
                return True
            self.pr(f"{WARN}{image.name}: disagrees about version of symbol {symname}\n")
            return False
        self.pr(f"{WARN}{image.name}: no symbol version for {symname}\n")
        return False

    def check_modinfo(self, image: ModuleImage, flags: int, taints: list,
                      has_vers: bool) -> None:
        modname = image.mod_name
        modmagic = image.get_modinfo("vermagic")
        if flags & MODULE_INIT_IGNORE_VERMAGIC:
            modmagic = None
        if modmagic is None:
            self.try_to_force_load(taints, modname, "bad vermagic")
        elif not same_magic(modmagic, self.k.vermagic, has_vers):
            self.pr(f"{ERR}{image.name}: version magic '{modmagic}' should be "
                    f"'{self.k.vermagic}'\n")
            raise LoadError(E.ENOEXEC)
        if image.get_modinfo("intree") is None:
            if not self.test_taint(TAINT_OOT_MODULE):
                self.pr(f"{WARN}{modname}: loading out-of-tree module taints kernel.\n")
            self.add_taint_module(taints, TAINT_OOT_MODULE)
        if image.get_modinfo("retpoline") is None:  # arch/x86/kernel/cpu/bugs.c
            self.pr(ERR + "System may be vulnerable to spectre v2\n")
            self.pr(f"{WARN}{modname}: loading module not compiled with retpoline compiler.\n")
        if image.get_modinfo("staging") is not None:
            self.add_taint_module(taints, TAINT_CRAP)
            self.pr(f"{WARN}{modname}: module is from the staging directory, the quality is "
                    "unknown, you have been warned.\n")
        if image.get_modinfo("livepatch") is not None:  # CONFIG_LIVEPATCH=y in Debian
            self.add_taint_module(taints, TAINT_LIVEPATCH)
            self.k.log.once("livepatch", f"{NOTICE}{modname}: tainting kernel with "
                            "TAINT_LIVEPATCH\n")
        license_ = image.get_modinfo("license") or "unspecified"  # set_license
        if license_ not in GPL_COMPATIBLE:
            if not self.test_taint(TAINT_PROPRIETARY_MODULE):
                self.pr(f"{WARN}{modname}: module license '{license_}' taints kernel.\n")
            self.add_taint_module(taints, TAINT_PROPRIETARY_MODULE, True)
        if image.get_modinfo("test") is not None:
            if not self.test_taint(TAINT_TEST):
                self.pr(f"{WARN}{modname}: loading test module taints kernel.\n")
            self.add_taint_module(taints, TAINT_TEST)

    def check_module_license_and_versions(self, mod: Module) -> None:
        prev = self.test_taint(TAINT_PROPRIETARY_MODULE)
        if mod.name == "ndiswrapper":
            self.add_taint(TAINT_PROPRIETARY_MODULE, True)
        if mod.name in ("driverloader", "lve"):
            self._mod_taint(mod, TAINT_PROPRIETARY_MODULE, True)
        if not prev and self.test_taint(TAINT_PROPRIETARY_MODULE):
            self.pr(f"{WARN}{mod.name}: module license taints kernel.\n")
        if any(e.crc is None for e in mod.exports):  # CONFIG_MODVERSIONS
            box = [mod.taints]
            self.try_to_force_load(box, mod.name, "no versions for exported symbols")
            mod.taints = box[0]

    def simplify_symbols(self, mod: Module, image: ModuleImage, has_vers: bool) -> int:
        ret = 0
        nsec = len(image.sections)
        for i, (name, _value, info, shndx) in enumerate(image.symbols):
            if i == 0:
                continue
            if shndx == SHN_COMMON:
                if not name.startswith("__gnu_lto"):
                    self.pr(f"{WARN}{mod.name}: please compile with -fno-common\n")
                    ret = E.ENOEXEC
            elif shndx == SHN_ABS or shndx == 0xFF20:  # SHN_LIVEPATCH
                continue
            elif shndx == SHN_UNDEF:
                found, err = self.resolve_symbol(mod, image, name, has_vers)
                if found:
                    continue
                if err == 0 and (info >> 4 == STB_WEAK or name == "_GLOBAL_OFFSET_TABLE_"):
                    continue
                ret = err or E.ENOENT
                self.pr(f"{WARN}{mod.name}: Unknown symbol {name} (err -{ret})\n")
            elif shndx >= nsec:
                self.pr(f"{ERR}{mod.name}: Symbol {name} has an invalid section index {shndx} "
                        f"(max {nsec - 1})\n")
                ret = E.ENOEXEC
        return ret

    def resolve_symbol(self, mod: Module, image: ModuleImage, name: str,
                       has_vers: bool) -> tuple[bool, int]:
        """main.c resolve_symbol: (resolved, errno or 0 when simply not found)."""
        k = self.k
        gplok = not mod.taints >> TAINT_PROPRIETARY_MODULE & 1
        hit = k.symbols.find(name, gplok=gplok)
        if hit is None:
            return False, 0
        if hit.gpl_only:
            mod.using_gplonly_symbols = True
        owner = hit.owner
        if owner is not None and owner.taints >> TAINT_PROPRIETARY_MODULE & 1:  # inherit_taint
            if mod.using_gplonly_symbols:
                self.pr(f"{ERR}{mod.name}: module using GPL-only symbols uses symbols {name} "
                        f"from proprietary module {owner.name}.\n")
                return False, 0
            if not mod.taints >> TAINT_PROPRIETARY_MODULE & 1:
                self.pr(f"{WARN}{mod.name}: module uses symbols {name} from proprietary module "
                        f"{owner.name}, inheriting taint.\n")
                mod.taints |= 1 << TAINT_PROPRIETARY_MODULE
        box = [mod.taints]
        ok = self.check_version(image, has_vers, box, name, hit.crc, mod.name)
        mod.taints = box[0]
        if not ok:
            return False, E.EINVAL
        if hit.namespace:  # verify_namespace_is_imported
            if hit.namespace not in image.all_modinfo("import_ns"):
                self.pr(f"{ERR}{mod.name}: module uses symbol ({name}) from namespace "
                        f"{hit.namespace}, but does not import it.\n")
                return False, E.EINVAL
        if owner is not None:
            err = self.ref_module(mod, owner)
            if err:
                return False, err
        return True, 0

    def ref_module(self, a: Module, b: Module) -> int:
        if a.name in b.source_list:  # already_uses
            return 0
        if b.state == ModuleState.COMING:  # strong_try_module_get
            return E.EBUSY
        if not self.k.try_module_get(b, why=f"used by {a.name}"):
            return E.ENOENT
        b.source_list.insert(0, a.name)  # add_module_usage: list_add at the head
        a.target_list.insert(0, b.name)
        return 0

    def module_unload_free(self, mod: Module) -> None:
        for target in list(mod.target_list):
            t = self.k.find_module_all(target)
            if t is not None:
                self.k.module_put(t, why=f"{mod.name} gone")
                if mod.name in t.source_list:
                    t.source_list.remove(mod.name)
        mod.target_list.clear()

    def _place_sections(self, mod: Module) -> None:
        lay = mod.layout
        mod.sections = []
        for index in sorted(lay.placements):
            p = lay.placements[index]
            base = mod.init_layout.base if p.init else mod.core_layout.base
            mod.sections.append(LoadedSection(p.name, index, p.flags, p.type, p.size, p.init,
                                              base + p.offset))

    # ================================================================ do_init_module
    def do_init_module(self, mod: Module) -> int:
        k = self.k
        try:
            self.trace("do_init_module")
            ret = k.run_init(mod)
            if not isinstance(ret, int):
                raise TypeError(f"{mod.name}: init returned {ret!r}, not an int")
        except BaseException as exc:
            if _is_oops(exc):
                raise  # an oops in init leaves the module COMING for good, as on Linux
            # a simulator failure: take do_init_module's fail_free_freeinit path, and take
            # away what init made so far (its /proc files, device numbers...)
            k.forget_objects(mod)
            k.set_state(mod, ModuleState.GOING)
            k.module_put(mod, why="init failed")
            self.free_module(mod)
            raise
        if ret < 0:
            k.set_state(mod, ModuleState.GOING)
            k.module_put(mod, why="init failed")
            self.free_module(mod)
            raise LoadError(-ret)
        if ret > 0:
            self.pr(f"{WARN}do_init_module: '{mod.name}'->init suspiciously returned {ret}, "
                    "it should follow 0/-E convention\n")
            self.pr(f"{WARN}do_init_module: loading module anyway...\n")
        k.set_state(mod, ModuleState.LIVE)
        k.module_put(mod, why="init done")  # "Drop initial reference."
        k.drop_code(mod, init_only=True)
        k.vm.free_init(mod)  # do_free_init, queued on a workqueue
        return 0

    def free_module(self, mod: Module) -> None:
        k = self.k
        k.sysfs_remove(mod)
        k.symbols.remove_module(mod)
        k.set_state(mod, ModuleState.UNFORMED)  # "leave it in list to prevent duplicate loads"
        self.module_unload_free(mod)
        k.drop_code(mod)
        k.unlink_module(mod)
        k.vm.free_module(mod)

    # ================================================================ delete_module
    def delete_module(self, name: str, flags: int) -> int:
        k = self.k
        k.last_trace = ["delete_module"]
        if k.modules_disabled:
            raise LoadError(E.EPERM)
        if len(name) == 0 or len(name) >= MODULE_NAME_LEN:
            raise LoadError(E.ENOENT)
        mod = k.find_module(name)
        if mod is None:
            raise LoadError(E.ENOENT)
        if mod.source_list:  # "Other modules depend on us: get rid of them first."
            raise LoadError(E.EWOULDBLOCK)
        if mod.state != ModuleState.LIVE:
            raise LoadError(E.EBUSY)
        forced = False
        if mod.init and not mod.exit:
            forced = self.try_force_unload(flags)
            if not forced:
                raise LoadError(E.EBUSY)
        self.trace("try_stop_module")
        if mod.refcnt - MODULE_REF_BASE != 0:  # try_release_module_ref failed
            forced = self.try_force_unload(flags)
            if not forced:
                raise LoadError(E.EWOULDBLOCK)
        else:
            mod.refcnt -= MODULE_REF_BASE
        k.set_state(mod, ModuleState.GOING)
        if mod.exit:
            self.trace("mod->exit")
            k.run_exit(mod)
        self.trace("free_module")
        self.free_module(mod)
        return 0

    def try_force_unload(self, flags: int) -> bool:
        if flags & os.O_TRUNC:  # CONFIG_MODULE_FORCE_UNLOAD=y
            self.add_taint(TAINT_FORCED_RMMOD, True)
            return True
        return False
