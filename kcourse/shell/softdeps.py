"""Soft dependencies as kmod 30 reads and follows them (`MODULE_SOFTDEP("pre: ...")`).

depmod writes each module's `softdep=` tag to modules.softdep as a config line
(`softdep xt_TRACE pre: nf_log_syslog`); libkmod reads that file as its first configuration
file (libkmod-config.c kmod_config_new), before any /etc/modprobe.d file. The simulated
machine has no /etc/modprobe.d, so modules.softdep is the whole configuration here.

- parse(): libkmod-config.c kmod_config_parse + kmod_config_add_softdep: words split on
  whitespace; `pre:` and `post:` switch the list the following words go to; words before the
  first of them are dropped (so `softdep cifs gcm` names nothing).
- Config.softdeps(): libkmod-module.c kmod_module_get_softdeps: the FIRST line whose module
  name matches (fnmatch) is used, and only it, "as modprobe from module-init-tools does";
  each name is looked up (kmod_module_new_from_lookup: name, symbol, alias) and names that
  find nothing are skipped (lookup_softdep).
- probe_list(): libkmod-module.c kmod_module_get_probe_list, __kmod_module_get_probe_list
  and __kmod_module_fill_softdep: the order modprobe inserts a module in. For each
  dependency (modules.dep, loaded first) and then the module itself: its pre softdeps (each
  with its own dependencies and softdeps, depth first), the module, its post softdeps. A
  module is expanded once (`visited`), but a dependency met again is listed again, as kmod
  lists it (`modprobe -D ipmi_msghandler` shows ipmi_msghandler twice). Only the module and
  its dependencies are `required`: a softdep that fails to load is not an error.
"""

from __future__ import annotations

import fnmatch
import functools
from dataclasses import dataclass, field

from kcourse.shell.moddir import ModuleTree, alias_normalize, modname


@dataclass
class Softdep:
    name: str  # a module name or an fnmatch pattern, '-' already '_' (underscores())
    pre: list[str] = field(default_factory=list)
    post: list[str] = field(default_factory=list)


def parse(text: str) -> list[Softdep]:
    """The `softdep` lines of a modprobe config file, in file order."""
    out = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 3 or words[0] != "softdep" or line.lstrip().startswith("#"):
            continue  # kmod_config_parse: `softdep MODNAME` with nothing after is an error
        dep, mode = Softdep(alias_normalize(words[1])), None
        for word in words[2:]:
            if word in ("pre:", "post:"):
                mode = word
            elif mode == "pre:":
                dep.pre.append(word)
            elif mode == "post:":
                dep.post.append(word)
        out.append(dep)
    return out


BUILTIN = "(builtin)/"  # prefix of a probe-list entry for a module built into the kernel


def is_builtin(entry: str) -> bool:
    return entry.startswith(BUILTIN)


def name_of(entry: str) -> str:
    """The module name of a probe-list entry (a relative path, or BUILTIN + name)."""
    return entry[len(BUILTIN):] if is_builtin(entry) else modname(entry)


class Config:
    """The softdep configuration of a module tree (its modules.softdep), and lookups."""

    def __init__(self, tree: ModuleTree):
        self.tree = tree
        self.lines = parse(tree.index_files.get("modules.softdep", ""))

    def softdeps(self, name: str) -> tuple[list[str], list[str]]:
        """(pre, post) entries of module `name`: kmod_module_get_softdeps."""
        for dep in self.lines:
            if fnmatch.fnmatchcase(name, dep.name):
                return self._lookup(dep.pre), self._lookup(dep.post)
        return [], []

    def _lookup(self, names: list[str]) -> list[str]:
        found: list[str] = []
        for depname in names:
            found += self.lookup(depname)
        return found

    def lookup(self, alias: str) -> list[str]:
        """kmod_module_new_from_lookup: the tree's lookups (name, symbol, alias), then a
        module built into the kernel by name (modules.builtin), then by one of its aliases
        (modules.builtin.modinfo: libkmod.c kmod_lookup_alias_from_kernel_builtin_file)."""
        found = self.tree.lookup(alias)
        if found:
            return found
        key = alias_normalize(alias)
        if key in self._builtin[0]:
            return [BUILTIN + key]
        return [BUILTIN + name for pattern, name in self._builtin[1]
                if fnmatch.fnmatchcase(key, pattern)]

    @functools.cached_property
    def _builtin(self) -> tuple[set[str], list[tuple[str, str]]]:
        names, aliases = set(), []
        path = self.tree.copied.get("modules.builtin")
        if path is not None:
            names = {modname(line) for line in path.read_text().split()}
        path = self.tree.copied.get("modules.builtin.modinfo")
        if path is not None:
            for entry in path.read_bytes().split(b"\0"):
                key, eq, value = entry.decode("utf-8", "replace").partition("=")
                if eq and key.endswith(".alias"):
                    aliases.append((alias_normalize(value), key.removesuffix(".alias")))
        return names, aliases

    def dependencies(self, entry: str) -> list[str]:
        """kmod_module_get_dependencies: modules.dep's list, in load order."""
        return [] if is_builtin(entry) else list(reversed(self.tree.all_deps(entry)))


def probe_list(config: Config, rel: str, ignorecmd: bool = False) -> list[tuple[str, bool]]:
    """(relpath, required) in insertion order for module `rel` (modprobe -i: ignorecmd,
    the module's own softdeps are skipped, its dependencies' still followed)."""
    visited: set[str] = set()
    required: set[str] = set()
    order: list[str] = []

    def fill_softdep(m: str) -> None:
        pre, post = config.softdeps(name_of(m))
        for p in pre:
            probe(p, False, False)
        order.append(m)
        for p in post:
            probe(p, False, False)

    def probe(m: str, is_required: bool, ignore: bool) -> None:
        if m in visited:
            return
        visited.add(m)
        deps = config.dependencies(m)
        if is_required:
            required.update([m, *deps])
        for d in deps:
            fill_softdep(d)
        if ignore:
            order.append(m)
        else:
            fill_softdep(m)

    probe(rel, True, ignorecmd)
    return [(m, m in required) for m in order]
