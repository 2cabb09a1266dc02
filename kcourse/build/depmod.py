"""depmod: modules.dep, modules.alias, modules.softdep, modules.symbols, modules.devname.

A re-implementation of kmod 30's depmod (tools/depmod.c) over a module tree, written so that
its text files are byte for byte what kmod writes. The order of every line follows kmod:

- Modules are collected by walking /lib/modules/<release> in readdir order (skipping `build`
  and `source`); two files with the same module name keep the one in the higher-priority
  search directory (`updates` first, by default: depmod.c cfg_load / _is_higher_priority).
- The module list is kmod's hash of module names iterated bucket by bucket (shared/hash.c:
  512 buckets, Paul Hsieh's superfast hash, keys sorted inside a bucket), then stably sorted
  so that the modules listed in modules.order come first, in that order
  (depmod_modules_sort). External modules (extra/, updates/) are not in modules.order.
- A module's dependencies are the owners of the symbols it leaves undefined; each line of
  modules.dep lists all of them transitively, sorted by a topological order that puts a
  module before what it needs (depmod_calculate_dependencies).
- modules.symbols iterates the symbol hash (2048 buckets) the same way.

The .bin indexes are not written (modprobe falls back to nothing without them: run the real
depmod for a system you boot). Module facts come from the module's image (facts_from_image),
read the way libkmod-elf.c reads them (kmod_elf_get_symbols,
kmod_elf_get_dependency_symbols), touching only the sections depmod needs.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from kcourse.elf import elf64
from kcourse.elf.modinfo_read import split_modinfo
from kcourse.errors import KcourseError

EXTENSIONS = (".ko", ".ko.xz", ".ko.zst")   # Debian 12's kmod 30: +XZ +ZSTD -ZLIB
DEFAULT_SEARCH = ("updates",)               # cfg_load: "updates" when no `search` line
INT32_MAX = 2**31 - 1


def hash_superfast(key: bytes) -> int:
    """shared/hash.c: hash_superfast (Paul Hsieh), 32-bit, little-endian 16-bit reads."""
    m = 0xFFFFFFFF
    h, rem, i = len(key), len(key) & 3, 0
    signed = lambda b: b - 256 if b > 127 else b          # noqa: E731 (C `char` is signed)
    for _ in range(len(key) >> 2):
        h = (h + (key[i] | key[i + 1] << 8)) & m
        tmp = (((key[i + 2] | key[i + 3] << 8) << 11) ^ h) & m
        h = ((h << 16) ^ tmp) & m
        i += 4
        h = (h + (h >> 11)) & m
    if rem == 3:
        h = (h + (key[i] | key[i + 1] << 8)) & m
        h ^= (h << 16) & m
        h ^= (signed(key[i + 2]) << 18) & m
        h = (h + (h >> 11)) & m
    elif rem == 2:
        h = (h + (key[i] | key[i + 1] << 8)) & m
        h ^= (h << 11) & m
        h = (h + (h >> 17)) & m
    elif rem == 1:
        h = (h + signed(key[i])) & m
        h ^= (h << 10) & m
        h = (h + (h >> 1)) & m
    for shift, op in ((3, "x"), (5, "a"), (4, "x"), (17, "a"), (25, "x"), (6, "a")):
        h = (h ^ (h << shift)) & m if op == "x" else (h + (h >> shift)) & m
    return h


def hash_order(keys, n_buckets: int) -> list[str]:
    """The order kmod's hash_iter visits `keys`: by bucket, then strcmp order in a bucket."""
    def position(key: str):
        raw = key.encode("utf-8", "surrogateescape")
        return (hash_superfast(raw) & (n_buckets - 1), raw)
    return sorted(keys, key=position)


def path_to_modname(path: str) -> str:
    """libkmod-util.c path_to_modname: the basename up to its first '.', '-' -> '_'."""
    return os.path.basename(path).split(".", 1)[0].replace("-", "_")


@dataclass
class ModuleFacts:
    """What depmod reads from one module file."""

    exports: list[str]                 # symbols it provides (kmod_elf_get_symbols order)
    dep_symbols: list[tuple[str, bool]]  # (symbol, weak) it needs, in kmod's order
    info: list[tuple[str, str]]        # .modinfo key/value pairs in section order


def _first_named(rows: list[tuple], names: bytes, name: bytes) -> tuple | None:
    """The first section called `name` (names may share a tail: `__versions` can be the end
    of `.rela__versions`, so the match is on the string at each sh_name)."""
    wanted = name + b"\0"
    return next((row for row in rows if names.startswith(wanted, row[0])), None)


def facts_from_image(path, raw: bytes) -> ModuleFacts:
    """Read an ELF image as libkmod-elf.c does, touching only what depmod needs: the symbol
    table (kmod_elf_get_symbols, kmod_elf_get_dependency_symbols), __versions, .modinfo.

    The symbol table is read column-wise (a memoryview of its 24-byte Elf64_Sym entries), so
    only the symbols depmod keeps are decoded: `__crc_*` (exports, with CONFIG_MODVERSIONS)
    and the undefined ones (SHN_UNDEF), each list in symbol-table order."""
    rows, names = elf64.section_rows(path, raw, elf64.parse_header(path, raw))
    exports: list[str] = []
    deps: list[tuple[str, bool]] = []
    symtab = next((row for row in rows if row[1] == elf64.SHT_SYMTAB), None)
    if symtab is not None:
        strtab = elf64.row_bytes(raw, rows[symtab[6]])
        data = elf64.row_bytes(raw, symtab)
        count = len(data) // 24
        table = memoryview(data[: count * 24])
        st_name = table.cast("I")[::6].tolist()
        st_shndx = table.cast("H")[3::12].tolist()
        st_info = data[4 : count * 24 : 24]
        limit = len(strtab)
        crc_at = {m.start() for m in re.finditer(rb"__crc_", strtab)}

        def text(start: int) -> str:
            end = strtab.find(b"\0", start)
            return strtab[start : end if end >= 0 else limit].decode("utf-8", "surrogateescape")

        # index 0 is the null symbol; a name 0 or outside .strtab is skipped (libkmod-elf.c)
        exports = [text(n + 6) for n in st_name[1:] if n and n in crc_at]
        deps = [(text(n), st_info[i] >> 4 == 2)                      # STB_WEAK
                for i, n in enumerate(st_name) if st_shndx[i] == 0 and i and 0 < n < limit
                and n not in crc_at]
    if not exports:
        # no __crc_ symbols (no CONFIG_MODVERSIONS): kmod_elf_get_symbols_symtab
        ksymtab = _first_named(rows, names, b"__ksymtab_strings")
        if ksymtab is not None:
            exports = [s.decode("utf-8", "surrogateescape")
                       for s in elf64.row_bytes(raw, ksymtab).split(b"\0") if s]
    versions = _first_named(rows, names, b"__versions")
    if versions is not None:  # module_layout: needed, though no symbol names it
        named = {name for name, _ in deps}
        table = elf64.row_bytes(raw, versions)
        for start in range(0, len(table) // 64 * 64, 64):            # struct modversion_info
            sym = table[start + 8 : start + 64].split(b"\0", 1)[0].decode(
                "utf-8", "surrogateescape")
            if sym not in named:
                named.add(sym)
                deps.append((sym, False))
    modinfo = _first_named(rows, names, b".modinfo")
    info = []
    for item in split_modinfo(elf64.row_bytes(raw, modinfo) if modinfo else b""):
        key, _, value = item.partition(b"=")
        info.append((key.decode("utf-8", "surrogateescape"),
                     value.decode("utf-8", "surrogateescape")))
    return ModuleFacts(exports, deps, info)


def facts_from_ko(ko) -> ModuleFacts:
    """The facts of a KoFile (its image already read and decompressed)."""
    return facts_from_image(ko.path, ko.raw)


def facts_from_path(path) -> ModuleFacts:
    """Read one module file: .ko, or .ko.xz/.zst/.gz (decompressed by kcourse.elf.image)."""
    from kcourse.elf import image

    raw, _compression = image.load(path)
    return facts_from_image(path, raw)


@dataclass(eq=False)
class Mod:
    """struct mod of depmod.c."""

    relpath: str
    modname: str
    facts: ModuleFacts
    sort_idx: int = 1            # depmod_module_add: modules.count + 1 (0 while searching)
    idx: int = 0
    dep_sort_idx: int = INT32_MAX
    dep_loop: bool = False
    users: int = 0
    deps: list[Mod] = field(default_factory=list)


def is_higher_priority(old: str, new: str, searches: tuple[str, ...]) -> bool:
    """depmod_module_is_higher_priority: True when the module already found (`old`) wins.

    Each search entry is a path prefix (or 'built-in'); entries are numbered in list order,
    an `if/else if` chain gives `new` precedence when both match the same entry."""
    bprio = oldprio = newprio = -1
    for i, entry in enumerate(searches):
        if entry == "built-in":
            bprio = i
        elif new.startswith(entry):
            newprio = i
        elif old.startswith(entry):
            oldprio = i
    newprio = bprio if newprio < 0 else newprio
    oldprio = bprio if oldprio < 0 else oldprio
    return newprio <= oldprio


def search_tree(dirname: Path, extensions=EXTENSIONS,
                searches: tuple[str, ...] = DEFAULT_SEARCH) -> dict[str, tuple[str, Path]]:
    """depmod_modules_search: modname -> (relpath, path), walking in readdir order."""
    found: dict[str, tuple[str, Path]] = {}

    seen: set[tuple[int, int]] = set()   # (st_dev, st_ino) of the folders walked

    def walk(folder: Path, rel: str) -> None:
        try:
            info = os.stat(folder)
            entries = list(os.scandir(folder))
        except OSError as err:
            if rel == "":
                raise KcourseError(f"could not open directory {folder}: {err.strerror}") \
                    from None
            return
        if (info.st_dev, info.st_ino) in seen:
            return   # a symlink back up the tree: kmod recurses until ELOOP; we stop here
        seen.add((info.st_dev, info.st_ino))
        for entry in entries:
            if entry.name in ("build", "source"):
                continue
            relpath = rel + entry.name
            try:
                is_dir, is_file = entry.is_dir(), entry.is_file()  # follow links, like fstatat
            except OSError:
                continue     # a dangling or looping link: depmod's fstatat fails, it goes on
            if is_dir:
                walk(Path(entry.path), relpath + "/")
            elif is_file and entry.name.endswith(extensions):
                modname = path_to_modname(entry.name)
                if modname in found and is_higher_priority(found[modname][0], relpath,
                                                           searches):
                    continue
                found[modname] = (relpath, Path(entry.path))

    walk(dirname, "")
    return found


def _uncompressed(relpath: str) -> str:
    return re.sub(r"\.ko\.(xz|zst|gz)$", ".ko", relpath)


@dataclass
class DepmodResult:
    modules: list[Mod]                   # depmod->modules.array order
    symbol_owners: list[tuple[str, Mod]]  # modules.symbols order

    def modules_dep(self) -> str:
        out = []
        for mod in self.modules:
            if mod.dep_loop:
                continue
            closure: list[Mod] = []
            seen: set[int] = set()
            stack = list(reversed(mod.deps))
            while stack:
                dep = stack.pop()
                if id(dep) in seen:
                    continue
                seen.add(id(dep))
                closure.append(dep)
                stack.extend(reversed(dep.deps))
            closure.sort(key=lambda d: (d.dep_loop, d.dep_sort_idx))
            out.append(f"{mod.relpath}:" + "".join(f" {d.relpath}" for d in closure
                                                   if not d.dep_loop) + "\n")
        return "".join(out)

    def modules_alias(self) -> str:
        lines = ["# Aliases extracted from modules themselves.\n"]
        lines += [f"alias {v} {m.modname}\n" for m in self.modules for k, v in m.facts.info
                  if k == "alias"]
        return "".join(lines)

    def modules_softdep(self) -> str:
        lines = ["# Soft dependencies extracted from modules themselves.\n"]   # kmod 30
        lines += [f"softdep {m.modname} {v}\n" for m in self.modules for k, v in m.facts.info
                  if k == "softdep"]
        return "".join(lines)

    def modules_symbols(self) -> str:
        lines = ["# Aliases for symbols, used by symbol_request().\n"]
        lines += [f"alias symbol:{name} {owner.modname}\n" for name, owner in self.symbol_owners]
        return "".join(lines)

    def modules_devname(self) -> str:
        lines = []      # kmod 30 writes the header only above the first entry
        for mod in self.modules:
            devname, kind, major, minor = None, "", 0, 0
            for key, value in mod.facts.info:
                if key != "alias":
                    continue
                if value.startswith("devname:"):
                    devname = value[len("devname:"):]
                elif m := re.match(r"(char|block)-major-(\d+)-(\d+)", value):
                    kind, major, minor = m.group(1)[0], int(m.group(2)), int(m.group(3))
                if kind and devname is not None:
                    lines.append(f"{mod.modname} {devname} {kind}{major}:{minor}\n")
                    break
        if lines:
            lines.insert(0, "# Device nodes to trigger on-demand module loading.\n")
        return "".join(lines)

    def files(self) -> dict[str, str]:
        """The text files, in the order depmod writes them (depmod_output)."""
        return {"modules.dep": self.modules_dep(), "modules.alias": self.modules_alias(),
                "modules.softdep": self.modules_softdep(),
                "modules.symbols": self.modules_symbols(),
                "modules.devname": self.modules_devname()}


def compute(entries: dict[str, tuple[str, ModuleFacts]], modules_order: str | None
            ) -> DepmodResult:
    """depmod's calculation over modname -> (relpath, facts).

    modules_order: the text of modules.order (None when the file is missing).
    """
    modules = [Mod(entries[name][0], name, entries[name][1])
               for name in hash_order(entries, 512)]            # depmod_modules_build_array
    if modules_order is not None:                               # depmod_modules_sort
        by_path = {_uncompressed(m.relpath): m for m in modules}
        lines = modules_order.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        total = len(lines) + 1
        for idx, line in enumerate(lines, start=1):
            if line in by_path:
                by_path[line].sort_idx = idx - total
        modules.sort(key=lambda m: m.sort_idx)                  # stable, like glibc's msort
    for idx, mod in enumerate(modules):
        mod.idx = idx
    symbols: dict[str, Mod] = {}                                # depmod_load_modules
    for mod in modules:
        for name in mod.facts.exports:
            symbols[name] = mod                                 # hash_add replaces
    for mod in modules:                                         # depmod_load_dependencies
        for name, _weak in mod.facts.dep_symbols:
            owner = symbols.get(name[1:] if name.startswith(".") else name)
            if owner is not None and owner not in mod.deps:
                mod.deps.append(owner)
                owner.users += 1
    _topological_sort(modules)
    owners = [(name, symbols[name]) for name in hash_order(symbols, 2048)]
    return DepmodResult(modules, owners)


def _topological_sort(modules: list[Mod]) -> None:
    """depmod_calculate_dependencies: Kahn's algorithm with a LIFO of roots."""
    users = [m.users for m in modules]
    roots = [i for i, n in enumerate(users) if n == 0]
    n_sorted = 0
    while roots:
        src = modules[roots.pop()]
        src.dep_sort_idx = n_sorted
        n_sorted += 1
        for dst in src.deps:
            users[dst.idx] -= 1
            if users[dst.idx] == 0:
                roots.append(dst.idx)
    for i, mod in enumerate(modules):
        if users[i] > 0:
            mod.dep_loop, mod.dep_sort_idx = True, INT32_MAX
    for mod in modules:
        mod.deps.sort(key=lambda d: (d.dep_loop, d.dep_sort_idx))


def run(basedir: str | Path, release: str, loader=None) -> DepmodResult:
    """depmod -b BASEDIR RELEASE, without writing anything."""

    dirname = Path(basedir) / "lib" / "modules" / release
    loader = loader or facts_from_path
    found = search_tree(dirname)
    entries = {name: (rel, loader(path)) for name, (rel, path) in found.items()}
    order = dirname / "modules.order"
    try:
        order_text = order.read_bytes().decode("utf-8", "surrogateescape")
    except OSError:
        order_text = None        # depmod: "WARNING: could not open modules.order" and goes on
    return compute(entries, order_text)


USAGE = "usage: kcourse depmod [-n] [-b BASEDIR] RELEASE"


def main(argv: list[str]) -> int:
    """kcourse depmod [-n] [-b BASEDIR] RELEASE: write (or with -n print) the text files."""
    basedir, show, rest = "/", False, []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-b", "--basedir"):
            if not args:
                raise KcourseError(f"-b needs a directory ({USAGE})")
            basedir = args.pop(0)
        elif arg.startswith("--basedir="):
            basedir = arg.split("=", 1)[1]
        elif arg in ("-n", "--show", "--dry-run"):
            show = True
        elif arg in ("-h", "--help"):
            print(USAGE)
            return 0
        elif arg.startswith("-"):
            raise KcourseError(f"unknown option {arg} ({USAGE})")
        else:
            rest.append(arg)
    if len(rest) != 1 or not re.match(r"^\d+\.\d+", rest[0]):
        raise KcourseError(f"name one kernel release, e.g. 6.1.0-56-amd64 ({USAGE})")
    result = run(basedir, rest[0])
    files = result.files()
    if show:
        sys.stdout.write("".join(files.values()))
        return 0
    write_index(Path(basedir) / "lib" / "modules" / rest[0], files)
    return 0


def write_index(dirname: Path, files: dict[str, str]) -> None:
    """Write every file to NAME.tmp, then rename them all into place: a failure (a read-only
    folder, a directory where a file should be) leaves the old files as they were."""
    written: list[Path] = []
    try:
        for name, text in files.items():
            tmp = dirname / f"{name}.tmp"
            written.append(tmp)
            tmp.write_text(text, encoding="utf-8", errors="surrogateescape")
        for name in files:
            target = dirname / name
            if target.is_dir() and not target.is_symlink():
                raise IsADirectoryError(21, "Is a directory", str(target))
    except OSError as err:
        for tmp in written:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        where = err.filename if err.filename is not None else dirname
        raise KcourseError(f"could not write {where}: {err.strerror}") from None
    for name in files:
        (dirname / f"{name}.tmp").replace(dirname / name)
