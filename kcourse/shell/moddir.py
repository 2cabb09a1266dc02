"""The simulated machine's /lib/modules/<release>/: the course modules and depmod's indexes.

The course modules sit under extra/, where `make modules_install` puts external modules up to
6.2 (scripts/Makefile.modinst: INSTALL_MOD_DIR ?= extra). The index files (modules.dep,
.alias, .symbols, .softdep, .devname) are kcourse.build.depmod's, which writes them byte for
byte as kmod 30's depmod does. Lookups then read those files the way libkmod does: a
modules.dep line lists a module's whole dependency closure, the module to load first last
(libkmod-module.c kmod_module_parse_depline prepends each entry, so modprobe loads the list
from its end); then modules.symbols, then modules.alias (fnmatch patterns).
"""

from __future__ import annotations

import fnmatch
import functools
from dataclasses import dataclass, field
from pathlib import Path

from kcourse.elf.kofile import KoFile


def modname(path: str) -> str:
    """kmod's path_to_modname + modname_normalize: basename, cut at the first '.', '-' -> '_'."""
    return normalize(path.rsplit("/", 1)[-1])


def normalize(name: str) -> str:
    """libkmod-util.c modname_normalize: '-' becomes '_', and the name ends at the first '.'."""
    return name.split(".", 1)[0].replace("-", "_")


@dataclass
class ModuleTree:
    """A module directory: relative path (e.g. "extra/hello.ko") -> the file on the host."""

    release: str
    files: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def course(cls, release: str) -> ModuleTree:
        """Every built course module, installed as extra/<name>.ko."""
        from kcourse.paths import modules_dir

        files = {f"extra/{ko.name}": ko for ko in sorted(modules_dir().glob("*/*.ko"))}
        return cls(release, files)

    @property
    def root(self) -> str:
        return f"/lib/modules/{self.release}"

    # ------------------------------------------------------------------ depmod
    @functools.cached_property
    def index_files(self) -> dict[str, str]:
        """The text files depmod writes: modules.dep, .alias, .softdep, .symbols, .devname."""
        from kcourse.build import depmod

        entries = {depmod.path_to_modname(rel): (rel, depmod.facts_from_ko(KoFile(path)))
                   for rel, path in self.files.items()}
        return depmod.compute(entries, None).files()

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

    # ------------------------------------------------------------------ lookups (libkmod)
    def by_name(self, name: str) -> str | None:
        """The relpath of module `name` (modules.dep lookup by module name)."""
        name = normalize(name)
        return next((rel for rel in sorted(self.files) if modname(rel) == name), None)

    def lookup(self, alias: str) -> list[str]:
        """kmod_module_new_from_lookup: module name, then symbol alias, then modules.alias."""
        rel = self.by_name(alias)
        if rel:
            return [rel]
        if alias.startswith("symbol:"):
            for line in self.index_files["modules.symbols"].splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[1] == alias:
                    return [r for r in [self.by_name(parts[2])] if r]
        found = []
        for line in self.index_files["modules.alias"].splitlines():
            parts = line.split()
            if len(parts) == 3 and fnmatch.fnmatchcase(alias, parts[1]):
                rel = self.by_name(parts[2])
                if rel and rel not in found:
                    found.append(rel)
        return found
