"""What each file kbuild generates for an external module means, line by line.

The explanations follow kernel 6.1's scripts/mod/modpost.c (which writes <module>.mod.c and
Module.symvers), scripts/Makefile.build (<module>.mod, modules.order, the .cmd files) and
scripts/Kbuild.include (if_changed, which reads the .cmd files back). Run them over the real
files committed in data/modules/<name>/ (built against Debian's 6.1 headers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kcourse.errors import KcourseError


class KbuildFileError(KcourseError, ValueError):
    """Text that is not the kbuild file it should be (one line; still a ValueError)."""


def _text(text, what: str) -> str:
    if not isinstance(text, str):
        raise KbuildFileError(f"{what} takes the file's text (Path(...).read_text()), "
                              f"not {type(text).__name__}")
    return text

GENERATED = {
    "<m>.o": "the compiled C source (one per source file); for a one-file module the only "
             "object in <m>.ko",
    "<m>.mod": "the list of objects that make up <m>.ko (scripts/Makefile.build: cmd_mod)",
    "<m>.mod.c": "C source modpost writes: the module's struct module, vermagic and "
                 "symbol versions (scripts/mod/modpost.c: add_header, add_versions)",
    "<m>.mod.o": "<m>.mod.c compiled",
    "<m>.ko": "the loadable module: `ld -r` of <m>.o and <m>.mod.o with "
              "arch/x86/module.lds (scripts/Makefile.modfinal)",
    "Module.symvers": "the symbols this directory's modules export, with CRCs; give it to "
                      "other external modules through KBUILD_EXTRA_SYMBOLS",
    "modules.order": "the modules built here, in Makefile order (modprobe uses the order to "
                     "resolve aliases deterministically)",
    ".<target>.cmd": "the exact command that built <target> and, for objects, every header it "
                     "included: make rebuilds when either changes (if_changed, fixdep)",
}

# (regex on a stripped line of <m>.mod.c, explanation); first match wins
MOD_C_RULES: list[tuple[str, str]] = [
    (r"^#include <linux/module\.h>$", "struct module, MODULE_INFO() and the modversion_info "
     "type used below"),
    (r"^#define INCLUDE_VERMAGIC$", "allow <linux/vermagic.h>, which refuses to be included "
     "anywhere else (#error) so that only this file embeds the vermagic string"),
    (r"^#include <linux/build-salt\.h>$", "BUILD_SALT: an ELF note with CONFIG_BUILD_SALT"),
    (r"^#include <linux/elfnote-lto\.h>$", "BUILD_LTO_INFO: an ELF note saying whether the "
     "kernel was built with LTO"),
    (r"^#include <linux/export-internal\.h>$", "SYMBOL_CRC() and the KSYMTAB macros"),
    (r"^#include <linux/vermagic\.h>$", "VERMAGIC_STRING: UTS_RELEASE \" SMP preempt "
     "mod_unload modversions \" built from this kernel's .config"),
    (r"^#include <linux/compiler\.h>$", "__visible, __section() and __used"),
    (r"^BUILD_SALT;$", "emit the build-salt note (.note.Linux)"),
    (r"^BUILD_LTO_INFO;$", "emit the LTO note (.note.Linux)"),
    (r"^MODULE_INFO\(vermagic, VERMAGIC_STRING\);$", "a \"vermagic=...\" string in .modinfo: "
     "the kernel compares it with its own when loading (kernel/module/version.c: same_magic)"),
    (r"^MODULE_INFO\(name, KBUILD_MODNAME\);$", "\"name=<m>\" in .modinfo: the module's name "
     "(KBUILD_MODNAME comes from -DKBUILD_MODNAME on the compiler command line)"),
    (r"^__visible struct module __this_module$", "the module's struct module: the kernel "
     "fills in the rest at load time (THIS_MODULE is &__this_module)"),
    (r"^__section\(\"\.gnu\.linkonce\.this_module\"\) = \{$", "placed in its own section "
     "so the loader can find it (kernel/module/main.c: setup_load_info)"),
    (r"^\.name = KBUILD_MODNAME,$", "the name lsmod shows"),
    (r"^\.init = init_module,$", "init_module is the alias module_init() creates for your "
     "init function: the loader calls it (do_init_module)"),
    (r"^#ifdef CONFIG_MODULE_UNLOAD$", "the exit function exists only if the kernel can "
     "unload modules"),
    (r"^\.exit = cleanup_module,$", "cleanup_module is the alias module_exit() creates: "
     "delete_module calls it"),
    (r"^#endif$", "end of the #ifdef"),
    (r"^\.arch = MODULE_ARCH_INIT,$", "architecture-specific part (empty on x86)"),
    (r"^\};$", "end of the initialiser"),
    (r"^#ifdef CONFIG_RETPOLINE$", "only for kernels built with retpolines (Spectre v2)"),
    (r"^MODULE_INFO\(retpoline, \"Y\"\);$", "\"retpoline=Y\" in .modinfo: without it, a kernel "
     "with a Spectre v2 mitigation on warns 'loading module not compiled with retpoline "
     "compiler.' (kernel/module/main.c check_modinfo_retpoline, x86 retpoline_module_ok)"),
    (r"^SYMBOL_CRC\((\w+), (0x[0-9a-f]+), \"(_gpl)?\"\);$", "the CRC of an exported symbol "
     "(a __kcrctab entry): modules that use it carry the same CRC"),
    (r"^static const struct modversion_info ____versions\[\]$", "the symbol versions this "
     "module expects: one {CRC, name} per symbol it imports (CONFIG_MODVERSIONS)"),
    (r"^__used __section\(\"__versions\"\) = \{$", "kept (__used) in the __versions section, "
     "which the loader checks (kernel/module/version.c: check_version)"),
    (r"^\{ (0x[0-9a-f]+), \"module_layout\" \},$", "module_layout's CRC versions struct module "
     "itself: it differs between kernels whose module ABI differs"),
    (r"^\{ (0x[0-9a-f]+), \"(\w+)\" \},$", "the CRC this module was built against for an "
     "imported symbol (from the kernel's or KBUILD_EXTRA_SYMBOLS' Module.symvers)"),
    (r"^MODULE_INFO\(depends, \"([^\"]*)\"\);$", "\"depends=\" in .modinfo: the modules whose "
     "exports this one uses (empty: only the kernel's)"),
    (r"^MODULE_INFO\(srcversion, \"([0-9A-F]+)\"\);$", "\"srcversion=\": a checksum of the "
     "sources, added because the module has MODULE_VERSION (or CONFIG_MODULE_SRCVERSION_ALL)"),
    (r"^MODULE_INFO\(intree, \"Y\"\);$", "in-tree modules only: marks the module as shipped "
     "with the kernel (external ones taint the kernel with O)"),
]


def explain_mod_c(text: str) -> list[tuple[str, str]]:
    """(line, meaning) for each non-empty line of a <module>.mod.c; unknown lines get ''."""
    rows = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        meaning = ""
        for pattern, text_ in MOD_C_RULES:
            if re.match(pattern, stripped):
                meaning = text_
                break
        rows.append((line.rstrip(), meaning))
    return rows


def mod_c_versions(text: str) -> dict[str, int]:
    """The {CRC, name} pairs of ____versions in a <module>.mod.c."""
    body = text.split("____versions", 1)[-1] if "____versions" in text else ""
    return {name: int(crc, 16) for crc, name in
            re.findall(r"\{ (0x[0-9a-f]+), \"([^\"]+)\" \}", body)}


@dataclass(frozen=True)
class SymversLine:
    """One line of Module.symvers (Documentation/kbuild/modules.rst: "Symbols and External
    Modules"): <CRC> <Symbol> <Module> <Export Type> <Namespace>, tab separated."""

    crc: int
    symbol: str
    module: str
    export_type: str
    namespace: str


def parse_symvers(text: str) -> list[SymversLine]:
    rows = []
    for number, line in enumerate(_text(text, "parse_symvers").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        fields += [""] * (5 - len(fields))
        try:
            crc = int(fields[0], 16)
        except ValueError:
            raise KbuildFileError(f"Module.symvers line {number}: {fields[0][:20]!r} is not a "
                                  "hexadecimal CRC") from None
        rows.append(SymversLine(crc, fields[1], fields[2], fields[3], fields[4]))
    return rows


@dataclass(frozen=True)
class CmdFile:
    """A .<target>.cmd file: the saved command, and for objects the source and dependencies."""

    target: str
    command: str
    source: str | None
    deps: list[str]


def parse_cmd(text: str) -> CmdFile:
    """Parse a kbuild .cmd file (6.1 writes cmd_<target>; 6.3+ writes savedcmd_<target>)."""
    match = re.search(r"^(?:saved)?cmd_(\S+) := (.*)$", _text(text, "parse_cmd"), re.M)
    if match is None:
        raise KbuildFileError("not a kbuild .cmd file (no cmd_<target> := line)")
    target, command = match.group(1), match.group(2).strip()
    source = re.search(r"^source_\S+ := (.*)$", text, re.M)
    deps_block = re.search(r"^deps_\S+ := \\\n((?:.*\\\n)*.*)$", text, re.M)
    deps = []
    if deps_block:
        deps = [d.strip().rstrip("\\").strip() for d in deps_block.group(1).splitlines()]
        deps = [d for d in deps if d]
    return CmdFile(target, command, source.group(1).strip() if source else None, deps)
