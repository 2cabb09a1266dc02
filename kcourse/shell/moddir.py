"""The simulated machine's /lib/modules/<release>/: course modules, Debian's, depmod's indexes.

The course modules sit under extra/, where `make modules_install` puts external modules up to
6.2 (scripts/Makefile.modinst: INSTALL_MOD_DIR ?= extra). Debian's own modules (kernel/...)
join them only when asked for - `Shell(debian_tree=True)` for the whole tree of Debian's
linux-image package, `Shell(debian_tree=("8021q", "dummy"))` for some modules and the modules
their `depends=` tags pull in (kcourse.debian.depends_closure: the tree the real-kernel lab
boots) - and only from the cache (kcourse.debian.cached_image_modules_dir; `kcourse
lab-prepare --modules-only` fetches the package there): a Shell never downloads, and the
default tree is the same on every machine, so notebook outputs do not depend on what a
machine happens to hold in its cache. Debian's modules.order, modules.builtin and
modules.builtin.modinfo come along as they are, as the package installs them.

The index files (modules.dep, .alias, .symbols, .softdep, .devname) are kcourse.build.depmod's,
which writes them byte for byte as kmod 30's depmod does (given modules.order, which sorts
Debian's modules first, as on an installed system). Lookups then read those files the way
libkmod does: a modules.dep line lists a module's whole dependency closure, the module to
load first last (libkmod-module.c kmod_module_parse_depline prepends each entry, so modprobe
loads the list from its end); then modules.symbols, then modules.alias (fnmatch patterns).
What depmod reads from each Debian module is kept in the cache (sim/), so the whole tree
(about 4000 modules) is indexed in well under a second after the first time.
"""

from __future__ import annotations

import fnmatch
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kcourse import debian
from kcourse.errors import KcourseError

COPIED = ("modules.order", "modules.builtin", "modules.builtin.modinfo")  # installed as is
FACTS_FORMAT = 1  # bump when ModuleFacts changes shape


class DebianTreeMissing(KcourseError):
    """Debian's module tree for the simulated release is not in the cache."""


def modname(path: str) -> str:
    """kmod's path_to_modname + modname_normalize: basename, cut at the first '.', '-' -> '_'."""
    return normalize(path.rsplit("/", 1)[-1])


def normalize(name: str) -> str:
    """libkmod-util.c modname_normalize: '-' becomes '_', and the name ends at the first '.'."""
    return debian.modname(name)


FETCH_HINT = "`kcourse lab-prepare --modules-only`"


def missing_tree_message(release: str) -> str:
    """One line: Debian's tree for `release` is not cached, and the command that fetches it."""
    return (f"Debian's modules for {release} are not in the cache: fetch them once with "
            f"{FETCH_HINT} (about 70 MB)")


@dataclass
class ModuleTree:
    """A module directory: relative path (e.g. "extra/hello.ko") -> the file on the host."""

    release: str
    files: dict[str, Path] = field(default_factory=dict)
    order: str | None = None  # the text of modules.order (Debian's), None when there is none
    copied: dict[str, Path] = field(default_factory=dict)  # COPIED files -> host file

    @classmethod
    def course(cls, release: str) -> ModuleTree:
        """Every built course module, installed as extra/<name>.ko."""
        from kcourse.paths import modules_dir

        files = {f"extra/{ko.name}": ko for ko in sorted(modules_dir().glob("*/*.ko"))}
        return cls(release, files)

    @classmethod
    def with_debian(cls, release: str, modules: Iterable[str] | None = None) -> ModuleTree:
        """The course modules plus Debian's: all of them (modules=None), or the named ones
        and what their depends= tags pull in, transitively (as kcourse.lab.prepare stages
        the guest's tree). Raises DebianTreeMissing when the cache lacks the package."""
        root = debian.cached_image_modules_dir(release)
        if root is None:
            raise DebianTreeMissing(missing_tree_message(release))
        found, facts = scan(root)
        if modules is not None:
            chosen = debian.depends_closure(
                modules, lambda name: _depends(facts[name]) if name in facts else None)
            found = {name: found[name] for name in chosen}
        tree = cls.course(release)
        for name, rel in found.items():
            tree.files.setdefault(rel, root / rel)
            tree._facts[rel] = facts[name]
        tree.order = (root / "modules.order").read_text() if (root / "modules.order").is_file() \
            else None
        tree.copied = {name: root / name for name in COPIED if (root / name).is_file()}
        return tree

    def __post_init__(self) -> None:
        self._facts: dict = {}  # relpath -> depmod.ModuleFacts already read

    @property
    def root(self) -> str:
        return f"/lib/modules/{self.release}"

    # ------------------------------------------------------------------ depmod
    @functools.cached_property
    def index_files(self) -> dict[str, str]:
        """The text files depmod writes: modules.dep, .alias, .softdep, .symbols, .devname."""
        from kcourse.build import depmod
        from kcourse.elf.kofile import KoFile

        entries: dict = {}
        for rel, path in self.files.items():
            name = depmod.path_to_modname(rel)
            if name in entries:  # the same name twice: the first one found stays
                continue
            facts = self._facts.get(rel) or depmod.facts_from_ko(KoFile(path))
            entries[name] = (rel, facts)
        return depmod.compute(entries, self.order).files()

    @functools.cached_property
    def _dep_lines(self) -> dict[str, list[str]]:
        lines = {}
        for line in self.index_files["modules.dep"].splitlines():
            rel, _, deps = line.partition(":")
            lines[rel] = deps.split()
        return lines

    def all_deps(self, rel: str) -> list[str]:
        """The dependencies on rel's modules.dep line, in file order (load from the end)."""
        return list(self._dep_lines.get(rel, []))

    # ------------------------------------------------------------------ the directory view
    @functools.cached_property
    def directories(self) -> dict[str, list[str]]:
        """Absolute directory path -> its entries, for every directory of the tree."""
        dirs: dict[str, set[str]] = {self.root: {*self.index_files, *self.copied}}
        for rel in self.files:
            parent = self.root
            for part in rel.split("/")[:-1]:
                dirs.setdefault(parent, set()).add(part)
                parent = f"{parent}/{part}"
            dirs.setdefault(parent, set()).add(rel.rsplit("/", 1)[-1])
        return {path: sorted(names) for path, names in dirs.items()}

    def host_path(self, rel: str) -> Path | None:
        """The host file behind a relative path of the tree (a module or a copied file)."""
        return self.files.get(rel) or self.copied.get(rel)

    # ------------------------------------------------------------------ lookups (libkmod)
    @functools.cached_property
    def _by_name(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for rel in sorted(self.files):
            out.setdefault(modname(rel), rel)
        return out

    def by_name(self, name: str) -> str | None:
        """The relpath of module `name` (modules.dep lookup by module name)."""
        return self._by_name.get(normalize(name))

    def lookup(self, alias: str) -> list[str]:
        """kmod_module_new_from_lookup: module name, then symbol alias, then modules.alias
        (both sides alias_normalize()d, as depmod writes modules.alias.bin)."""
        rel = self.by_name(alias)
        if rel:
            return [rel]
        if alias.startswith("symbol:"):
            for line in self.index_files["modules.symbols"].splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[1] == alias:
                    return [r for r in [self.by_name(parts[2])] if r]
        found = []
        key = alias_normalize(alias)
        for line in self.index_files["modules.alias"].splitlines():
            parts = line.split()
            if len(parts) == 3 and fnmatch.fnmatchcase(key, alias_normalize(parts[1])):
                rel = self.by_name(parts[2])
                if rel and rel not in found:
                    found.append(rel)
        return found


def alias_normalize(alias: str) -> str:
    """shared/util.c alias_normalize: '-' becomes '_', except inside [...]."""
    out, in_bracket = [], False
    for c in alias:
        in_bracket = c == "[" or in_bracket and c != "]"
        out.append("_" if c == "-" and not in_bracket else c)
    return "".join(out)


def scan(root: Path) -> tuple[dict[str, str], dict]:
    """(modname -> relpath, modname -> depmod.ModuleFacts) of a Debian tree in the cache: what
    depmod reads from every module, read once per process and unpacking (the stamp is the
    mtime of fetch_package's .unpacked mark, two folders above lib/modules/<release>)."""
    return _scan(root, (root.parents[2] / ".unpacked").stat().st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _scan(root: Path, stamp: int) -> tuple[dict[str, str], dict]:
    from kcourse.build import depmod

    found = {name: rel for name, (rel, _path) in depmod.search_tree(root).items()}
    return found, _debian_facts(root, found)


def _depends(facts) -> str:
    """A module's depends= value from .modinfo ('' when it has none)."""
    return next((v for k, v in facts.info if k == "depends"), "")


def _debian_facts(root: Path, found: dict[str, str]) -> dict:
    """modname -> depmod.ModuleFacts for every module of Debian's tree, through the cache.

    What depmod reads from a module never changes while the file does not, so it is kept in
    cache_dir()/sim/depmod-<release>.json, keyed by each file's size and mtime.
    """
    from kcourse.build import depmod
    from kcourse.elf.kofile import KoFile
    from kcourse.paths import cache_dir

    store = cache_dir() / "sim" / f"depmod-{root.name}.json"
    try:
        saved = json.loads(store.read_text())
        if saved.get("format") != FACTS_FORMAT or saved.get("root") != str(root):
            saved = {}
    except (OSError, ValueError):
        saved = {}
    known: dict = saved.get("modules", {})
    out, fresh, changed = {}, {}, False
    for name, rel in found.items():
        st = (root / rel).stat()
        stamp = [st.st_size, st.st_mtime_ns]
        row = known.get(rel)
        if row is None or row[0] != stamp:
            facts = depmod.facts_from_ko(KoFile(root / rel))
            row = [stamp, facts.exports, facts.dep_symbols, facts.info]
            changed = True
        fresh[rel] = row
        out[name] = depmod.ModuleFacts(list(row[1]), [tuple(d) for d in row[2]],
                                       [tuple(i) for i in row[3]])
    if changed or len(fresh) != len(known):
        store.parent.mkdir(parents=True, exist_ok=True)
        tmp = store.with_suffix(".tmp")
        tmp.write_text(json.dumps({"format": FACTS_FORMAT, "root": str(root), "modules": fresh}))
        tmp.replace(store)
    return out
