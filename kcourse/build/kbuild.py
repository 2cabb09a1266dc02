"""kbuild for out-of-tree modules: read a module's Kbuild/Makefile, explain the make command,
and run a real build against installed kernel headers.

An external module is built by the kernel's own build system:

    make -C <kernel build tree> M=<module dir> modules

-C enters the build tree (a full kernel tree, or the linux-headers package that
`/lib/modules/<release>/build` points to); M= names the module directory (KBUILD_EXTMOD), whose
Kbuild (or Makefile) kbuild reads with KERNELRELEASE set. Documentation/kbuild/modules.rst
describes the variables parsed here (obj-m, <module>-y / <module>-objs, ccflags-y).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kcourse.build import kbuild_cache
from kcourse.errors import KcourseError

SOURCE_SUFFIXES = (".c", ".h", ".S")
SOURCE_NAMES = ("Kbuild", "Makefile")


@dataclass
class ModuleSpec:
    """One module kbuild will link: <name>.ko from its objects."""

    name: str
    objects: list[str]          # the .o files linked into <name>.ko
    composite: bool             # True when <name>-y / <name>-objs lists its parts
    condition: str = "m"        # obj-m, or obj-$(CONFIG_FOO)

    @property
    def sources(self) -> list[str]:
        return [obj[:-2] + ".c" for obj in self.objects]


@dataclass
class KbuildSpec:
    """What a module Kbuild/Makefile asks kbuild for."""

    modules: list[ModuleSpec]
    ccflags: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    kernelrelease_guard: bool = False   # the ifneq ($(KERNELRELEASE),) two-part Makefile
    outer_commands: list[str] = field(default_factory=list)  # recipes of the non-kbuild part


_ASSIGN = re.compile(r"^([A-Za-z0-9_$().-]+)\s*(:=|\+=|\?=|=)\s*(.*)$")


def _logical_lines(text: str) -> list[str]:
    """Join backslash continuations, drop comments (make's rules: '#' to end of line)."""
    lines, current = [], ""
    for raw in text.splitlines():
        if raw.startswith("\t"):               # a recipe line: keep as is
            if current:
                lines.append(current)
                current = ""
            lines.append(raw)
            continue
        line = raw.split("#", 1)[0].rstrip()
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        lines.append(current)
        current = ""
    if current:
        lines.append(current)
    return lines


def parse_kbuild(text: str) -> KbuildSpec:
    """Parse the kbuild part of a module's Kbuild or Makefile.

    Understands obj-m / obj-$(CONFIG_X), <mod>-y / <mod>-objs (composite modules), ccflags-y
    (and the old EXTRA_CFLAGS), and the `ifneq ($(KERNELRELEASE),) ... else ... endif`
    wrapper that lets one Makefile serve both kbuild and a plain `make`.
    """
    if not isinstance(text, str):
        raise KcourseError("parse_kbuild takes the file's text (Path(...).read_text()), "
                           f"not {type(text).__name__}")
    values: dict[str, list[str]] = {}
    order: list[tuple[str, str]] = []          # (variable, condition) for obj-*
    guard = False
    section = "kbuild"                         # or "outer" (the else-branch of the guard)
    depth = 0
    outer: list[str] = []
    for line in _logical_lines(text):
        stripped = line.strip()
        if not stripped:
            continue
        cond = re.match(r"^(ifneq|ifeq)\s*\(\s*\$\(KERNELRELEASE\)\s*,\s*\)", stripped)
        if cond:
            guard, depth = True, 1
            section = "kbuild" if cond.group(1) == "ifneq" else "outer"
            continue
        if guard and depth == 1 and stripped == "else":
            section = "outer" if section == "kbuild" else "kbuild"
            continue
        if guard and stripped.startswith(("ifeq", "ifneq", "ifdef", "ifndef")):
            depth += 1
        elif guard and stripped == "endif":
            depth -= 1
            if depth == 0:
                section = "outer"
                continue
        if section == "outer":
            if line.startswith("\t"):
                outer.append(stripped)
            continue
        match = _ASSIGN.match(stripped)
        if not match:
            continue
        name, op, value = match.groups()
        words = value.split()
        if op in (":=", "=") or (op == "?=" and name not in values):
            values[name] = words
        elif op == "+=":
            values.setdefault(name, []).extend(words)
        obj = re.match(r"^obj-(m|y|\$\((CONFIG_[A-Za-z0-9_]+)\))$", name)
        if obj and name not in [n for n, _ in order]:
            order.append((name, obj.group(2) or obj.group(1)))
    modules = []
    for var, condition in order:
        for obj in values.get(var, []):
            if not obj.endswith(".o"):
                continue          # a directory (obj-m += sub/) or something kbuild ignores
            stem = obj[:-2]
            parts = values.get(f"{stem}-y", []) + values.get(f"{stem}-objs", [])
            if parts and obj in parts:
                raise KcourseError(f"{stem}.o cannot be both the module and one of its parts "
                                   f"({stem}-y lists {obj}): rename the module or the file")
            modules.append(ModuleSpec(stem, parts or [obj], bool(parts), condition))
    ccflags = values.get("ccflags-y", []) + values.get("EXTRA_CFLAGS", [])
    flat = {k: " ".join(v) for k, v in values.items()}
    return KbuildSpec(modules, ccflags, flat, guard, outer)


def explain_make_command(command: str) -> list[tuple[str, str]]:
    """Split a kbuild make command line into its parts, each with what it does."""
    words, meanings, i = _words(command), [], 0
    while i < len(words):
        word = words[i]
        if word in ("make", "$(MAKE)"):
            meanings.append((word, "GNU make"))
        elif word == "-C" and i + 1 < len(words):
            i += 1
            meanings.append((f"-C {words[i]}", "change into the kernel build tree first and "
                             "read its Makefile: the tree the module is built against (its "
                             ".config, headers, Module.symvers and scripts such as modpost)"))
        elif word.startswith("M="):
            meanings.append((word, "the external module's directory (KBUILD_EXTMOD): kbuild "
                             "reads its Kbuild/Makefile and writes every output there"))
        elif word in _TARGETS:
            meanings.append((word, _TARGETS[word]))
        elif "=" in word:
            name = word.split("=", 1)[0]
            meanings.append((word, f"set the make variable {name} for the whole build"))
        else:
            meanings.append((word, "argument"))
        i += 1
    return meanings


def _words(command: str) -> list[str]:
    """Split on blanks outside $(...), so `$(uname -r)` stays one word."""
    words, current, depth = [], "", 0
    for char in command:
        if char.isspace() and depth == 0:
            if current:
                words.append(current)
            current = ""
            continue
        depth += char == "("
        depth -= char == ")"
        current += char
    return [*words, current] if current else words


_TARGETS = {
    "modules": "the target: compile, run modpost, link the .ko files",
    "modules_install": "copy the .ko files to /lib/modules/<release>/extra (updates since "
                       "6.3), then run depmod",
    "clean": "remove what the build generated",
}


def missing_headers_message(release: str) -> str:
    """What make says for `make -C /lib/modules/<release>/build` when that directory is
    absent (GNU make: "make: *** <dir>: No such file or directory.  Stop.")."""
    return f"make: *** /lib/modules/{release}/build: No such file or directory.  Stop."


def find_build_tree(release: str) -> Path:
    """The kernel build tree for a release: /lib/modules/<release>/build, else Debian's
    /usr/src/linux-headers-<release>; for the pinned course kernel, else Debian's packages
    fetched into the cache without root (kcourse.build.headers). KcourseError (one line)
    when there is none."""
    from kcourse import pin
    from kcourse.build import headers

    if not isinstance(release, str) or not release or "/" in release or \
            any(c.isspace() or c == "\0" for c in release):
        raise KcourseError(f"not a kernel release: {release!r}")
    found = headers.installed_tree(release)
    if found is not None:
        return found
    if release == pin.release():
        return headers.fetch_tree(release)
    raise KcourseError(f"no kernel headers for {release}: /lib/modules/{release}/build does "
                       f"not exist (install linux-headers-{release})")


def installed_releases() -> list[str]:
    """Releases with a usable build tree (Makefile and Module.symvers) on this machine."""
    found = set()
    for path in Path("/usr/src").glob("linux-headers-*"):
        if (path / "Makefile").is_file() and (path / "Module.symvers").is_file():
            found.add(path.name.removeprefix("linux-headers-"))
    modules = Path("/lib/modules")
    if modules.is_dir():
        for path in modules.iterdir():
            if (path / "build" / "Module.symvers").is_file():
                found.add(path.name)
    return sorted(found)


@dataclass
class BuildResult:
    """A finished kbuild run."""

    command: list[str]
    out_dir: Path
    returncode: int
    output: str                     # stdout + stderr, as make printed them
    generated: list[str]            # files the build created in out_dir (sorted)

    @property
    def modules(self) -> list[Path]:
        return sorted(self.out_dir.glob("*.ko"))


class KbuildError(KcourseError):
    """kbuild failed; the message is make's first error line, the result has everything."""

    def __init__(self, message: str, result: BuildResult):
        super().__init__(message)
        self.result = result


def build_module(src_dir: str | Path, release: str | None = None, *, kdir: str | Path | None =
                 None, extra_symbols: list[str | Path] | None = None,
                 out_dir: str | Path | None = None, timeout: int = 600,
                 cache: bool = False) -> BuildResult:
    """Build the module(s) in src_dir with kbuild: `make -C KDIR M=OUT modules`.

    The sources (Kbuild, Makefile, *.c, *.h, *.S) are copied to out_dir (a new temporary
    folder by default), so src_dir is never written. The kernel is named explicitly: a
    release (its headers must be installed) or a build tree `kdir`. Never runs sudo.
    extra_symbols: Module.symvers files of other external modules (KBUILD_EXTRA_SYMBOLS).
    cache: reuse an identical earlier build (kcourse.build.kbuild_cache: the notebooks' cells).
    """
    if kdir is None:
        if release is None:
            raise KcourseError("name the kernel to build for: build_module(dir, release) "
                               "(not uname -r: the running kernel may have no headers)")
        kdir = find_build_tree(release)
    kdir = Path(kdir)
    if not (kdir / "Makefile").is_file():
        raise KcourseError(f"{kdir} is not a kernel build tree (no Makefile)")
    src = Path(src_dir)
    if not any((src / name).is_file() for name in SOURCE_NAMES):
        raise KcourseError(f"{src} has no Kbuild or Makefile")
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="kcourse-kb-"))
    copied = set()
    try:
        out.mkdir(parents=True, exist_ok=True)
        for path in sorted(src.iterdir()):
            if path.name.endswith(".mod.c"):          # modpost's output, not a source
                continue
            if path.is_file() and (path.name in SOURCE_NAMES or path.suffix in SOURCE_SUFFIXES):
                if path.resolve() != (out / path.name).resolve():
                    shutil.copy2(path, out / path.name)
                copied.add(path.name)
    except OSError as err:  # out_dir is a file, a disk is full, a source vanished
        raise KcourseError(f"cannot prepare the build in {out}: {err.strerror}"
                           + (f": {err.filename}" if err.filename else "")) from None
    command = ["make", "-C", str(kdir), f"M={out.resolve()}", "modules"]
    if extra_symbols:
        command.append("KBUILD_EXTRA_SYMBOLS=" + " ".join(str(Path(p).resolve())
                                                          for p in extra_symbols))
    if shutil.which("make") is None:
        raise KcourseError("make is not installed (apt-get install build-essential)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KBUILD_", "MAKEFLAGS"))}
    entry = kbuild_cache.key(command, out, sorted(copied), kdir) \
        if cache and kbuild_cache.enabled() else None
    hit = kbuild_cache.lookup(entry, out) if entry else None
    if hit is not None:
        returncode, output, generated = hit
        result = BuildResult(command, out, returncode, output, generated)
        if returncode != 0:
            raise KbuildError(first_error(output), result)
        return result
    try:
        # one pipe for both streams: make's lines and gcc's errors in the order make ran
        # them, as a terminal shows them (not all of stderr after all of stdout)
        proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise KcourseError(f"kbuild did not finish in {timeout} s") from None
    generated = sorted(p.name for p in out.iterdir() if p.name not in copied)
    result = BuildResult(command, out, proc.returncode, proc.stdout, generated)
    if entry:
        kbuild_cache.store(entry, out, kdir, proc.returncode, proc.stdout, generated)
    if proc.returncode != 0:
        raise KbuildError(first_error(result.output), result)
    return result


def first_error(output: str) -> str:
    """The most telling line of a failed build: modpost's ERROR, else gcc's, else make's."""
    lines = output.splitlines()
    for pattern in (r"^ERROR: ", r": error: ", r"^make.*\*\*\* "):
        for line in lines:
            if re.search(pattern, line):
                return line.strip()
    return lines[-1].strip() if lines else "kbuild failed"
