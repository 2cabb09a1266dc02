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
depmod for a system you boot). Module facts come from kcourse.elf.depmod_facts: a pread fast
path over plain .ko files (scan_file), the validated reader for everything else
(facts_from_image), both reading what libkmod-elf.c reads. Nothing is cached between runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
import sys
from itertools import repeat
from pathlib import Path

from kcourse.elf.depmod_facts import ModuleFacts, facts_from_image
from kcourse.elf.depmod_scan import scan_files
from kcourse.errors import KcourseError

__all__ = ["ModuleFacts", "facts_from_image", "facts_from_ko", "facts_from_path", "compute",
           "run", "search_tree", "main"]

EXTENSIONS = (".ko", ".ko.xz", ".ko.zst")   # Debian 12's kmod 30: +XZ +ZSTD -ZLIB
DEFAULT_SEARCH = ("updates",)               # cfg_load: "updates" when no `search` line
INT32_MAX = 2**31 - 1
_MAJOR = ("char-major-", "block-major-")                  # output_devname's sscanf formats
_MAJOR_MINOR = re.compile(r"(char|block)-major-(\d+)-(\d+)")
_M32 = 0xFFFFFFFF
_iter_pairs = struct.Struct("<HH").iter_unpack
_SIGN_EXTEND = bytes([0] * 128 + [255] * 128)      # a C `char` byte -> its sign-extension byte


def hash_superfast(key: bytes) -> int:
    """shared/hash.c: hash_superfast (Paul Hsieh), 32-bit, little-endian 16-bit reads.

    The main loop masks once per 4 bytes: only the low 32 bits of `h` ever feed the next
    step (a sum mod 2**32, a shift left that the mask cuts), so the C result is unchanged."""
    m = _M32
    rem = len(key) & 3
    body = len(key) - rem
    h = len(key)
    for lo, hi in _iter_pairs(key[:body]):
        h += lo
        h = ((h << 16) ^ (hi << 11) ^ h) & m
        h += h >> 11
    h &= m
    if rem == 3:
        h = (h + (key[body] | key[body + 1] << 8)) & m
        h ^= (h << 16) & m
        c = key[body + 2]                                  # C `char` is signed
        h ^= ((c - 256 if c > 127 else c) << 18) & m
        h = (h + (h >> 11)) & m
    elif rem == 2:
        h = (h + (key[body] | key[body + 1] << 8)) & m
        h ^= (h << 11) & m
        h = (h + (h >> 17)) & m
    elif rem == 1:
        c = key[body]
        h = (h + (c - 256 if c > 127 else c)) & m
        h ^= (h << 10) & m
        h = (h + (h >> 1)) & m
    h ^= (h << 3) & m                                      # force "avalanching" of bits
    h = (h + (h >> 5)) & m
    h ^= (h << 4) & m
    h = (h + (h >> 17)) & m
    h ^= (h << 25) & m
    return (h + (h >> 6)) & m


def superfast_hashes(keys: list[bytes]) -> list[int]:
    """hash_superfast of every key, with all the keys of one length hashed at once: each
    key's 32-bit state is a 64-bit lane of one Python integer, and every step of the C code
    is a handful of big-integer operations on all the lanes (a mask after each shift keeps
    the lanes apart). The same results as hash_superfast, far fewer Python operations."""
    out = [0] * len(keys)
    groups: dict[int, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(len(key), []).append(i)
    for length, where in groups.items():
        n = len(where)
        blob = b"".join([keys[i] for i in where])       # byte j of every key: blob[j::length]

        def lanes(*columns: bytes, n=n) -> int:          # byte columns -> little-endian lanes
            buf = bytearray(8 * n)
            for j, column in enumerate(columns):
                buf[j::8] = column
            return int.from_bytes(buf, "little")

        m = int.from_bytes(b"\xff\xff\xff\xff\0\0\0\0" * n, "little")
        h = length * int.from_bytes(b"\1\0\0\0\0\0\0\0" * n, "little")
        rem = length & 3
        body = length - rem
        for j in range(0, body, 4):
            h += lanes(blob[j::length], blob[j + 1 :: length])
            h = ((h << 16) ^ (lanes(blob[j + 2 :: length], blob[j + 3 :: length]) << 11) ^ h) & m
            h += (h >> 11) & m
        h &= m
        if rem == 1:
            c = blob[body::length]
            sign = c.translate(_SIGN_EXTEND)
            h = (h + lanes(c, sign, sign, sign)) & m
            h ^= (h << 10) & m
            h = (h + ((h >> 1) & m)) & m
        elif rem:
            h = (h + lanes(blob[body::length], blob[body + 1 :: length])) & m
            if rem == 2:
                h ^= (h << 11) & m
                h = (h + ((h >> 17) & m)) & m
            else:
                c = blob[body + 2 :: length]
                sign = c.translate(_SIGN_EXTEND)
                h ^= (h << 16) & m
                h ^= (lanes(c, sign, sign, sign) << 18) & m
                h = (h + ((h >> 11) & m)) & m
        for shift, xor in ((3, True), (5, False), (4, True), (17, False), (25, True), (6, False)):
            h = h ^ ((h << shift) & m) if xor else (h + ((h >> shift) & m)) & m
        for i, value in zip(where, memoryview(h.to_bytes(8 * n, "little")).cast("Q").tolist(),
                            strict=True):
            out[i] = value
    return out


def hash_order(keys, n_buckets: int) -> list[str]:
    """The order kmod's hash_iter visits `keys`: by bucket, then strcmp order in a bucket."""
    raw = [key.encode("utf-8", "surrogateescape") for key in keys]
    buckets = [value & (n_buckets - 1) for value in superfast_hashes(raw)]
    return [key for _bucket, _raw, key in sorted(zip(buckets, raw, keys, strict=True))]


def path_to_modname(path: str) -> str:
    """libkmod-util.c path_to_modname: the basename up to its first '.', '-' -> '_'."""
    return os.path.basename(path).split(".", 1)[0].replace("-", "_")


def facts_from_ko(ko) -> ModuleFacts:
    """The facts of a KoFile (its image already read and decompressed)."""
    return facts_from_image(ko.path, ko.raw)


def facts_from_path(path) -> ModuleFacts:
    """Read one module file: .ko, or .ko.xz/.zst/.gz (decompressed by kcourse.elf.image)."""
    from kcourse.elf import image

    raw, _compression = image.load(path)
    return facts_from_image(path, raw)


class Mod:
    """struct mod of depmod.c (identity matters: compared by `is`, never by value)."""

    __slots__ = ("relpath", "modname", "facts", "sort_idx", "idx", "dep_sort_idx", "dep_loop",
                 "users", "deps")

    def __init__(self, relpath: str, modname: str, facts) -> None:
        self.relpath, self.modname, self.facts = relpath, modname, facts
        self.sort_idx = 1        # depmod_module_add: modules.count + 1 (0 while searching)
        self.idx, self.dep_sort_idx, self.dep_loop, self.users = 0, INT32_MAX, False, 0
        self.deps: list[Mod] = []


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
    return {name: (rel, Path(path))
            for name, (rel, path) in _search(str(dirname), extensions, searches).items()}


def _search(dirname: str, extensions, searches) -> dict[str, tuple[str, str]]:
    """search_tree with the paths as strings (no Path object per file)."""
    found: dict[str, tuple[str, str]] = {}
    seen: set[tuple[int, int]] = set()   # (st_dev, st_ino) of the folders walked

    def walk(folder: str, rel: str) -> None:
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
            name = entry.name
            if name == "build" or name == "source":
                continue
            try:
                is_dir = entry.is_dir()            # follows links, like depmod's fstatat
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue     # a dangling or looping link: depmod's fstatat fails, it goes on
            if is_dir:
                walk(entry.path, rel + name + "/")
            elif is_file and name.endswith(extensions):
                modname = name.split(".", 1)[0].replace("-", "_")    # path_to_modname
                relpath = rel + name
                if modname in found and is_higher_priority(found[modname][0], relpath,
                                                           searches):
                    continue
                found[modname] = (relpath, entry.path)

    walk(dirname, "")
    return found


def _uncompressed(relpath: str) -> str:
    return re.sub(r"\.ko\.(xz|zst|gz)$", ".ko", relpath)


class DepmodResult:
    """depmod's answer: the modules in depmod->modules.array order, and (symbol, owner) in
    modules.symbols order."""

    def __init__(self, modules: list[Mod], symbol_owners: list[tuple[str, Mod]]) -> None:
        self.modules, self.symbol_owners = modules, symbol_owners

    def modules_dep(self) -> str:
        """output_deps: each module and all it needs, transitively, in dep_cmp order."""
        closures: dict[Mod, set[Mod]] = {}
        # dep_sort_idx puts a module before what it needs, so walking it backwards meets
        # every dependency's closure before its users'; a module in or behind a dependency
        # loop is walked on its own (mod_fill_all_unique_dependencies)
        for mod in sorted(self.modules, key=_dep_key, reverse=True):
            if not mod.deps:
                closures[mod] = set()
            elif not mod.dep_loop and not any(dep not in closures for dep in mod.deps):
                closures[mod] = set(mod.deps).union(*(closures[dep] for dep in mod.deps))
        out = []
        for mod in self.modules:
            if mod.dep_loop:
                continue
            closure = closures.get(mod)
            if closure is None:
                closure = _reachable(mod)
            deps = sorted(closure, key=_dep_key) if len(closure) > 1 else closure
            out.append(" ".join([mod.relpath + ":"] + [d.relpath for d in deps
                                                       if not d.dep_loop]) + "\n")
        return "".join(out)

    def modules_alias(self) -> str:
        out = ["# Aliases extracted from modules themselves.\n"]
        for mod in self.modules:
            aliases = mod.facts.aliases
            if aliases:
                tail = f" {mod.modname}\n"
                out.append("alias " + (tail + "alias ").join(aliases) + tail)
        return "".join(out)

    def modules_softdep(self) -> str:
        lines = ["# Soft dependencies extracted from modules themselves.\n"]   # kmod 30
        lines += [f"softdep {m.modname} {v}\n" for m in self.modules for v in m.facts.softdeps]
        return "".join(lines)

    def modules_symbols(self) -> str:
        names = [name for name, _owner in self.symbol_owners]
        owners = [owner.modname for _name, owner in self.symbol_owners]
        return "".join(["# Aliases for symbols, used by symbol_request().\n"]
                       + [f"alias symbol:{pair}\n" for pair in map(" ".join, zip(
                           names, owners, strict=True))])

    def modules_devname(self) -> str:
        lines = []      # kmod 30 writes the header only above the first entry
        for mod in self.modules:
            aliases = mod.facts.aliases
            if not aliases or not any(map(_is_devname, aliases)):
                continue             # no devname: alias, no line (output_devname)
            devname, kind, major, minor = None, "", 0, 0
            for value in aliases:
                if value.startswith("devname:"):
                    devname = value[len("devname:"):]
                elif value.startswith(_MAJOR) and (m := _MAJOR_MINOR.match(value)):
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


def _is_devname(alias: str) -> bool:
    return alias.startswith("devname:")


def _reachable(mod: Mod) -> list[Mod]:
    """Every module `mod` needs, directly or not (a walk that stops at modules seen)."""
    seen: set[Mod] = set()
    stack = list(mod.deps)
    while stack:
        dep = stack.pop()
        if dep not in seen:
            seen.add(dep)
            stack.extend(dep.deps)
    return list(seen)


def compute(entries: dict[str, tuple[str, ModuleFacts]], modules_order: str | None
            ) -> DepmodResult:
    """depmod's calculation over modname -> (relpath, facts).

    facts: a ModuleFacts, or anything with its `exports`, `dep_names`, `aliases`, `softdeps`.
    modules_order: the text of modules.order (None when the file is missing).
    """
    modules = [Mod(entries[name][0], name, entries[name][1])
               for name in _array_order(entries, modules_order)]
    for idx, mod in enumerate(modules):
        mod.idx = idx
    symbols: dict[str, Mod] = {}                                # depmod_load_modules
    for mod in modules:
        symbols.update(zip(mod.facts.exports, repeat(mod)))     # hash_add replaces
    find = symbols.get
    for mod in modules:                                         # depmod_load_dependencies
        names = mod.facts.dep_names
        if not names:
            continue
        if min(names)[:1] <= ".":        # depmod_symbol_find: ".foo" is foo (PPC64)
            names = [name[1:] if name[:1] == "." else name for name in names]
        owners = dict.fromkeys(map(find, names))    # array_append_unique, in symbol order
        owners.pop(None, None)
        mod.deps = list(owners)
        for owner in mod.deps:
            owner.users += 1
    _topological_sort(modules)
    owners = [(name, symbols[name]) for name in hash_order(symbols, 2048)]
    return DepmodResult(modules, owners)


def _array_order(entries: dict, modules_order: str | None) -> list[str]:
    """depmod_modules_build_array + depmod_modules_sort: the module names in hash order,
    stably sorted so that those in modules.order come first, in its order (sort_idx =
    line - total, distinct and negative; 1 for the rest). Only the modules not listed keep
    the hash order, so only their names are hashed."""
    if modules_order is None:
        return hash_order(entries, 512)
    by_path = {(rel if rel.endswith(".ko") else _uncompressed(rel)): name
               for name, (rel, _facts) in entries.items()}
    lines = modules_order.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    position: dict[str, int] = {}
    for idx, line in enumerate(lines):
        name = by_path.get(line)
        if name is not None:
            position[name] = idx                                # the last line wins
    listed = sorted(position, key=position.__getitem__)
    return listed + hash_order([name for name in entries if name not in position], 512)


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
    for mod in modules:                                         # depmod_sort_dependencies
        if len(mod.deps) > 1:
            mod.deps.sort(key=_dep_key)


def _dep_key(mod: Mod) -> tuple[bool, int]:
    """dep_cmp: modules in a dependency loop last, the rest by dep_sort_idx."""
    return (mod.dep_loop, mod.dep_sort_idx)


def run(basedir: str | Path, release: str, loader=None, jobs: int = 1) -> DepmodResult:
    """depmod -b BASEDIR RELEASE, without writing anything. loader(path) -> facts; by
    default the fast path (kcourse.elf.depmod_scan, shared by `jobs` processes), falling
    back to the validated reader for the files it leaves."""
    dirname = Path(basedir) / "lib" / "modules" / release
    found = _search(str(dirname), EXTENSIONS, DEFAULT_SEARCH)
    if loader is None:
        paths = [path for _rel, path in found.values()]
        facts = [scan or facts_from_path(path)
                 for scan, path in zip(scan_files(paths, jobs), paths, strict=True)]
    else:
        facts = [loader(path) for _rel, path in found.values()]
    entries = {name: (rel, fact) for (name, (rel, _path)), fact
               in zip(found.items(), facts, strict=True)}
    try:
        order_text = (dirname / "modules.order").read_bytes().decode("utf-8", "surrogateescape")
    except OSError:
        order_text = None        # depmod: "WARNING: could not open modules.order" and goes on
    return compute(entries, order_text)


def default_jobs() -> int:
    """Processes for reading a tree: the CPUs this process may run on, at most 4."""
    try:
        return max(1, min(4, len(os.sched_getaffinity(0))))
    except (AttributeError, OSError):
        return max(1, min(4, os.cpu_count() or 1))


USAGE = "usage: kcourse depmod [-n] [-b BASEDIR] [-j JOBS] RELEASE"


def main(argv: list[str]) -> int:
    """kcourse depmod [-n] [-b BASEDIR] [-j JOBS] RELEASE: write (or with -n print) the text
    files. -j (not a kmod option): processes reading the modules, by default one per CPU."""
    basedir, show, rest, jobs = "/", False, [], default_jobs()
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-b", "--basedir", "-j", "--jobs"):
            if not args:
                what = "a directory" if arg in ("-b", "--basedir") else "a number of jobs"
                raise KcourseError(f"{arg} needs {what} ({USAGE})")
            value = args.pop(0)
            if arg in ("-b", "--basedir"):
                basedir = value
            elif value.isdigit() and 0 < int(value) <= 64:
                jobs = int(value)
            else:
                raise KcourseError(f"{arg} needs a number of processes, 1 to 64 ({USAGE})")
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
    result = run(basedir, rest[0], jobs=jobs)
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
