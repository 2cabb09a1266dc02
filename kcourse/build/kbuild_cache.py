"""A cache of kbuild runs, kept as ccache keeps compilations: the same inputs give the same
files and the same output, so a lesson run again (Restart & Run All, nbgrader's autograde, the
tests) does not wait for make a second time.

What decides a hit, as kbuild itself decides whether to rebuild (scripts/Kbuild.include
if_changed, scripts/basic/fixdep.c):
- the key: the make command line, the name and bytes of every source in the module's folder,
  the build tree's identity (its Makefile, Module.symvers, include/config/auto.conf,
  include/generated/autoconf.h and utsrelease.h), the make and gcc programs on PATH (path,
  size, mtime) and the environment variables kbuild reads;
- then the files the last build read: every dependency fixdep wrote into the folder's .*.cmd
  files (the headers each object included) and every Module.symvers modpost was given (-i),
  each with its sha256. One changed byte in any of them and make runs again.
A hit writes back every file that build generated, byte for byte, and returns make's output
as make printed it (a failed build's errors too). KCOURSE_BUILD_CACHE=0 turns the cache off.
Entries live in ~/.cache/kcourse/kbuild (XDG_CACHE_HOME), the newest 200.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

KEEP = 200  # about 0.6 MB each for a module built with Debian's -g
TREE_FILES = ("Makefile", "Module.symvers", "include/config/auto.conf",
              "include/generated/autoconf.h", "include/generated/utsrelease.h")
TREE_PROGRAMS = ("scripts/mod/modpost", "tools/objtool/objtool", "scripts/basic/fixdep")
# what kbuild reads from the environment (Documentation/kbuild/kbuild.rst); KBUILD_* and
# MAKEFLAGS are dropped before make runs (kcourse.build.kbuild.build_module)
ENV = ("PATH", "ARCH", "CROSS_COMPILE", "CC", "LLVM", "KCFLAGS", "KCPPFLAGS", "KAFLAGS",
       "KRUSTFLAGS", "INSTALL_MOD_PATH", "LC_ALL", "LANG", "LC_MESSAGES")
DEPS = re.compile(r"^deps_\S+ := \\\n((?:.*\\\n)*.*)$", re.M)
SOURCE = re.compile(r"^source_\S+ := (\S+)$", re.M)


def enabled() -> bool:
    return os.environ.get("KCOURSE_BUILD_CACHE", "1") != "0"


def cache_root() -> Path:
    from kcourse.paths import cache_dir

    return cache_dir() / "kbuild"


def _sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _program(name: str, found: str | None = None) -> str:
    found = found or shutil.which(name)
    try:
        real = os.path.realpath(found or "")
        st = os.stat(real)
    except OSError:
        return f"{name}: none"
    return f"{name}: {real} {st.st_size} {st.st_mtime_ns}"


def key(command: list[str], out: Path, sources: list[str], kdir: Path) -> str:
    """The first half of the check: what make is asked to do, and with what."""
    h = hashlib.sha256()

    def add(*parts: str | bytes) -> None:
        for part in parts:
            data = part if isinstance(part, bytes) else part.encode("utf-8", "surrogateescape")
            h.update(len(data).to_bytes(8, "little") + data)

    add("kcourse-kbuild-1", *command, str(out.resolve()), str(kdir.resolve()))
    for name in sorted(sources):
        add(name, (out / name).read_bytes())
    for rel in TREE_FILES:
        add(rel, _sha(kdir / rel) or "absent")
    add(*(_program(name) for name in ("make", "gcc", "gcc-12", "ld", "sed")))
    add(*(_program(rel, str(kdir / rel)) for rel in TREE_PROGRAMS))
    for name in ENV:
        add(name, os.environ.get(name, "\0unset"))
    return h.hexdigest()


def dependencies(out: Path, kdir: Path) -> list[Path]:
    """The files the build read besides its sources: fixdep's deps_ lists and the source_
    lines of the folder's .*.cmd files (relative paths are kdir's: make -C runs there), and
    the Module.symvers files modpost read (`-i FILE` in .Module.symvers.cmd)."""
    found: set[Path] = set()
    for cmd in out.glob(".*.cmd"):
        text = cmd.read_text(errors="surrogateescape")
        for block in DEPS.findall(text):
            for word in block.replace("\\\n", " ").split():
                if word.startswith("$(wildcard"):  # a config option's file: auto.conf decides
                    continue
                if word.endswith(")"):
                    continue
                found.add(Path(word) if word.startswith("/") else kdir / word)
        for word in SOURCE.findall(text):
            found.add(Path(word) if word.startswith("/") else kdir / word)
        if cmd.name == ".Module.symvers.cmd":
            words = text.split()
            found.update(Path(words[i + 1]) if words[i + 1].startswith("/") else
                         kdir / words[i + 1] for i, w in enumerate(words[:-1]) if w == "-i")
    return sorted(found)


def lookup(entry_key: str, out: Path) -> tuple[int, str, list[str]] | None:
    """(returncode, output, generated names) written back into `out`, or None (a miss)."""
    folder = cache_root() / entry_key
    try:
        meta = json.loads((folder / "entry.json").read_text())
    except (OSError, ValueError):
        return None
    for path, digest in meta["deps"].items():
        if _sha(Path(path)) != digest:
            return None
    try:
        for name in meta["generated"]:
            shutil.copyfile(folder / "files" / name, out / name)
        os.utime(folder)  # the newest entries are the ones kept
    except OSError:
        return None
    return meta["returncode"], meta["output"], meta["generated"]


def store(entry_key: str, out: Path, kdir: Path, returncode: int, output: str,
          generated: list[str]) -> None:
    """Keep this build (if every generated thing is a plain file); never fails the build."""
    if any(not (out / name).is_file() for name in generated):
        return
    try:
        deps = {}
        folder = out.resolve()
        for path in dependencies(out, kdir):
            if path.resolve().parent == folder:  # the sources: in the key already
                continue
            digest = _sha(path)
            if digest is None:
                return  # read then gone: nothing to check a hit against
            deps[str(path)] = digest
        root = cache_root()
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".new-", dir=root))
    except OSError:
        return
    try:
        (staging / "files").mkdir()
        for name in generated:
            shutil.copyfile(out / name, staging / "files" / name)
        (staging / "entry.json").write_text(json.dumps(
            {"returncode": returncode, "output": output, "generated": generated, "deps": deps}))
        final = root / entry_key
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)
        _prune(root)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)


def _prune(root: Path) -> None:
    entries = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
