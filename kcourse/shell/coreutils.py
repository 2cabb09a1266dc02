"""cat, ls, echo, dmesg, uname and a few text filters, with coreutils 9.1 / util-linux 2.38
messages (Debian 12).

Output is what the tools print when their stdout is not a terminal (as in a script or a
captured transcript): `ls` prints one name per line, dmesg prints no colours. `ls` sorts
names bytewise (LC_ALL=C). `ls -l` shows every file as owned by root with the simulated
machine's fixed clock (LS_DATE) as its time, so output never depends on when it runs.
"""

from __future__ import annotations

import os
import re

from kcourse.shell.context import Ctx
from kcourse.shell.fs import Entry, FsError
from kcourse.shell.getopt import GetoptError, getopt_long

LS_DATE = "Jan  1 00:00"  # the simulated machine's clock, for ls -l


def _getopt(ctx: Ctx, argv: list[str], shortopts: str, longopts=None, usage_hint=True):
    try:
        return getopt_long(argv, shortopts, longopts)
    except GetoptError as err:
        hint = f"Try '{argv[0]} --help' for more information.\n" if usage_hint else ""
        ctx.err(f"{err}\n{hint}")
        return None


# ---------------------------------------------------------------- cat
def cat(ctx: Ctx, argv: list[str]) -> int:
    parsed = _getopt(ctx, argv, "")
    if parsed is None:
        return 1
    _, files = parsed
    if not files:
        ctx.out(ctx.stdin)
        return 0
    rc = 0
    for name in files:
        if name == "-":
            ctx.out(ctx.stdin)
            continue
        try:
            ctx.out(ctx.fs.read_bytes(ctx.path(name)).decode("utf-8", "surrogateescape"))
        except FsError as err:
            ctx.out(err.partial)  # what read(2) gave before it failed is already written
            ctx.err(f"cat: {name}: {err.strerror}\n")
            rc = 1
    return rc


# ---------------------------------------------------------------- ls
_TYPE = {"dir": "d", "link": "l", "chr": "c", "blk": "b", "file": "-"}


def _mode_string(entry: Entry) -> str:
    bits = entry.mode
    out = _TYPE.get(entry.kind, "-")
    for shift in (6, 3, 0):
        part = (bits >> shift) & 7
        out += ("r" if part & 4 else "-") + ("w" if part & 2 else "-") + ("x" if part & 1 else "-")
    return out


def _long_lines(entries: list[tuple[str, Entry]]) -> list[str]:
    """coreutils ls -l: columns padded to the widest value in this listing.

    A device's size column is "major, minor" (ls.c print_long_format), each part padded to
    the widest major and minor among the listing's devices, and the size column as a whole
    to whichever is wider, those or the sizes (ls.c gobble_file's width bookkeeping).
    """
    devices = [e for _shown, e in entries if e.kind in ("chr", "blk")]
    w_major = max((len(str(e.major)) for e in devices), default=0)
    w_minor = max((len(str(e.minor)) for e in devices), default=0)
    rows = [(_mode_string(e), str(e.nlink), str(e.size), shown, e) for shown, e in entries]
    w_link = max((len(r[1]) for r in rows), default=1)
    w_size = max([len(r[2]) for r in rows if r[4].kind not in ("chr", "blk")]
                 + ([w_major + 2 + w_minor] if devices else []), default=1)
    lines = []
    for mode, nlink, size, shown, e in rows:
        if e.kind in ("chr", "blk"):
            size = f"{e.major:>{w_major + max(0, w_size - (w_major + 2 + w_minor))}}, " \
                   f"{e.minor:>{w_minor}}"
        line = f"{mode} {nlink:>{w_link}} root root {size:>{w_size}} {LS_DATE} {shown}"
        if e.kind == "link" and e.target:
            line += f" -> {e.target}"
        lines.append(line + "\n")
    return lines


def ls(ctx: Ctx, argv: list[str]) -> int:
    longopts = {"all": (False, "-a"), "almost-all": (False, "-A"), "directory": (False, "-d")}
    parsed = _getopt(ctx, argv, "laA1d", longopts)
    if parsed is None:
        return 2
    opts, names = parsed
    flags = {k for k, _ in opts}
    long_fmt, show_all, almost = "-l" in flags, "-a" in flags, "-A" in flags
    rc = 0
    files: list[tuple[str, Entry]] = []
    dirs: list[tuple[str, str]] = []
    for name in names or ["."]:
        vpath = ctx.path(name)
        try:
            entry = ctx.fs.stat(vpath)
        except FsError as err:
            ctx.err(f"ls: cannot access '{name}': {err.strerror}\n")
            rc = 2
            continue
        follow = entry.kind == "link" and not long_fmt and ctx.fs.is_dir(vpath)
        if "-d" in flags or not (entry.kind == "dir" or follow):
            files.append((name, entry))
        else:
            dirs.append((name, vpath))
    files.sort(key=lambda item: item[0].encode())
    dirs.sort(key=lambda item: item[0].encode())
    if files:
        ctx.out("".join(_long_lines(files)) if long_fmt else "".join(f"{n}\n" for n, _ in files))
    many = len(files) + len(dirs) > 1 or rc != 0
    for i, (name, vpath) in enumerate(dirs):
        if many:
            ctx.out(("\n" if files or i else "") + f"{name}:\n")
        try:
            entries = ctx.fs.listdir(vpath)
        except FsError as err:
            ctx.err(f"ls: cannot open directory '{name}': {err.strerror}\n")
            rc = 2
            continue
        shown = [(e.name, e) for e in entries
                 if show_all or almost or not e.name.startswith(".")]
        if show_all:
            here = ctx.fs.stat(vpath)
            shown += [(".", here), ("..", here)]
        shown.sort(key=lambda item: item[0].encode())
        if long_fmt:
            ctx.out(f"total {_total_blocks(ctx, vpath)}\n")
            ctx.out("".join(_long_lines(shown)))
        else:
            ctx.out("".join(f"{n}\n" for n, _ in shown))
    return rc


def _total_blocks(ctx: Ctx, vpath: str) -> int:
    """`total`: 1 KiB blocks in use. sysfs, procfs and devtmpfs entries use none."""
    kind, where = ctx.fs.locate(vpath)
    if kind != "host":
        return 0
    total = 0
    for entry in os.scandir(str(where)):
        try:
            total += entry.stat(follow_symlinks=False).st_blocks // 2
        except OSError:
            pass
    return total


# ---------------------------------------------------------------- echo, uname, dmesg
def echo(ctx: Ctx, argv: list[str]) -> int:
    """bash's builtin echo: -n (no newline) and -e (backslash escapes) flags, then words."""
    args, newline, escapes = argv[1:], True, False
    while args and re.fullmatch(r"-[neE]+", args[0]):
        newline = newline and "n" not in args[0]
        escapes = ("e" in args[0]) if "E" not in args[0] else False
        args = args[1:]
    text = " ".join(args)
    if escapes:
        text = text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    ctx.out(text + ("\n" if newline else ""))
    return 0


_UNAME_LONG = {"all": (False, "-a"), "kernel-name": (False, "-s"), "nodename": (False, "-n"),
               "kernel-release": (False, "-r"), "kernel-version": (False, "-v"),
               "machine": (False, "-m"), "processor": (False, "-p"),
               "hardware-platform": (False, "-i"), "operating-system": (False, "-o")}


def kernel_version_string(release: str) -> str | None:
    """uname -v: "#1 SMP PREEMPT_DYNAMIC Debian <version> (<date>)", from the banner in the
    boot header of Debian's vmlinuz for this release (data/build/bzimage-amd64.json)."""
    from kcourse.build.realimage import load_fixture

    try:
        fixture = load_fixture()
    except (OSError, ValueError):
        return None
    banner = str(fixture.get("header", {}).get("kernel_version", ""))
    if fixture.get("release") != release or "#" not in banner:
        return None
    return banner[banner.index("#"):]


def uname(ctx: Ctx, argv: list[str]) -> int:
    """GNU coreutils uname: fields in the order s n r v m p i o; -a leaves out -p and -i
    when they are "unknown", as on Debian (seen under QEMU)."""
    parsed = _getopt(ctx, argv, "asnrvmpio", _UNAME_LONG)
    if parsed is None:
        return 1
    opts, rest = parsed
    if rest:
        ctx.err(f"uname: extra operand '{rest[0]}'\nTry 'uname --help' for more information.\n")
        return 1
    keys = {k for k, _ in opts}
    if "-a" in keys:
        keys |= {"-s", "-n", "-r", "-v", "-m", "-o"}
    values = {"-s": "Linux", "-n": "debian", "-r": ctx.shell.release, "-m": "x86_64",
              "-p": "unknown", "-i": "unknown", "-o": "GNU/Linux"}
    if "-v" in keys:
        version = kernel_version_string(ctx.shell.release)
        if version is None:
            ctx.err("kshell: uname -v: the build banner of this kernel is not known\n")
            return 1
        values["-v"] = version
    order = ("-s", "-n", "-r", "-v", "-m", "-p", "-i", "-o")
    wanted = [k for k in order if k in keys] or ["-s"]
    ctx.out(" ".join(values[k] for k in wanted) + "\n")
    return 0


def dmesg_safe(text: str) -> str:
    """util-linux dmesg.c safe_fwrite: a character that neither prints nor is white space,
    and a byte that is not valid UTF-8, is written as \\xNN (the kernel's ELFMAG "\\177ELF"
    shows as "\\x7fELF", as on the real kernel)."""
    if text.isprintable():
        return text
    out = []
    for c in text:
        if 0xDC80 <= ord(c) <= 0xDCFF or not (c.isprintable() or c.isspace()):
            out += [f"\\x{b:02x}" for b in c.encode("utf-8", "surrogateescape")]
        else:
            out.append(c)
    return "".join(out)


def dmesg(ctx: Ctx, argv: list[str]) -> int:
    """util-linux dmesg: every record as "[%5lu.%06lu] text"; -c prints then clears, -C clears."""
    parsed = _getopt(ctx, argv, "cC", {"read-clear": (False, "-c"), "clear": (False, "-C")})
    if parsed is None:
        return 1
    opts, rest = parsed
    if rest:
        ctx.err(f"dmesg: bad usage\nTry '{argv[0]} --help' for more information.\n")
        return 1
    keys = {k for k, _ in opts}
    if "-C" not in keys:
        ctx.out("".join(f"{dmesg_safe(line)}\n" for line in ctx.kernel.dmesg_lines()))
    if keys & {"-c", "-C"}:
        ctx.kernel.log.clear()
    return 0


# ---------------------------------------------------------------- filters
def _inputs(ctx: Ctx, prog: str, files: list[str]) -> tuple[list[tuple[str, str]], int]:
    if not files:
        return [("(standard input)", ctx.stdin)], 0
    out, rc = [], 0
    for name in files:
        try:
            out.append((name, ctx.fs.read_bytes(ctx.path(name)).decode("utf-8", "replace")))
        except FsError as err:
            ctx.err(f"{prog}: {name}: {err.strerror}\n")
            rc = 2
    return out, rc


def _bre_to_python(pattern: str) -> str:
    """POSIX basic regular expression -> Python: \\( \\) \\| \\{ \\} \\+ \\? are the operators."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            n = pattern[i + 1]
            out.append(n if n in "(){}|+?" else "\\" + n)
            i += 2
            continue
        out.append("\\" + c if c in "(){}|+?" else c)
        i += 1
    return "".join(out)


def grep(ctx: Ctx, argv: list[str]) -> int:
    parsed = _getopt(ctx, argv, "ivcwEFnoqe:")
    if parsed is None:
        return 2
    opts, rest = parsed
    flags = {k for k, _ in opts}
    patterns = [v for k, v in opts if k == "-e"]
    if not patterns:
        if not rest:
            ctx.err("Usage: grep [OPTION]... PATTERNS [FILE]...\n"
                    "Try 'grep --help' for more information.\n")
            return 2
        patterns, rest = [rest[0]], rest[1:]
    alts = []
    for p in patterns:
        if "-F" in flags:
            alts.append(re.escape(p))
        else:
            alts.append(p if "-E" in flags else _bre_to_python(p))
    expr = "|".join(f"(?:{a})" for a in alts)
    if "-w" in flags:
        expr = rf"(?<!\w)(?:{expr})(?!\w)"
    try:
        regex = re.compile(expr, re.IGNORECASE if "-i" in flags else 0)
    except re.error as err:
        ctx.err(f"grep: {err}\n")
        return 2
    inputs, rc = _inputs(ctx, "grep", rest)
    found = False
    for name, text in inputs:
        count = 0
        for n, line in enumerate(text.splitlines(), 1):
            if bool(regex.search(line)) != ("-v" in flags):
                count += 1
                found = True
                if "-q" in flags or "-c" in flags:
                    continue
                prefix = (f"{name}:" if len(inputs) > 1 else "") + (f"{n}:" if "-n" in flags
                                                                     else "")
                if "-o" in flags and "-v" not in flags:
                    # -o: each non-empty match on its own line (GNU grep: -v -o prints nothing)
                    for match in regex.finditer(line):
                        if match.group(0):
                            ctx.out(f"{prefix}{match.group(0)}\n")
                elif "-o" not in flags:
                    ctx.out(f"{prefix}{line}\n")
        if "-c" in flags and "-q" not in flags:
            ctx.out((f"{name}:" if len(inputs) > 1 else "") + f"{count}\n")
    if rc:
        return rc
    return 0 if found else 1


def _count_opt(ctx: Ctx, argv: list[str]) -> tuple[int, list[str]] | None:
    args = list(argv)
    if len(args) > 1 and re.fullmatch(r"-\d+", args[1]):
        args[1:2] = ["-n", args[1][1:]]
    parsed = _getopt(ctx, args, "n:")
    if parsed is None:
        return None
    opts, rest = parsed
    n = 10
    for _, value in opts:
        if not (value or "").lstrip("+-").isdigit():
            ctx.err(f"{argv[0]}: invalid number of lines: '{value}'\n")
            return None
        n = int(value)
    return n, rest


def head(ctx: Ctx, argv: list[str]) -> int:
    parsed = _count_opt(ctx, argv)
    if parsed is None:
        return 1
    n, rest = parsed
    inputs, rc = _inputs(ctx, "head", rest)
    for _, text in inputs:
        ctx.out("".join(text.splitlines(keepends=True)[:n]))
    return 1 if rc else 0


def tail(ctx: Ctx, argv: list[str]) -> int:
    parsed = _count_opt(ctx, argv)
    if parsed is None:
        return 1
    n, rest = parsed
    inputs, rc = _inputs(ctx, "tail", rest)
    for _, text in inputs:
        lines = text.splitlines(keepends=True)
        ctx.out("".join(lines[-n:] if n else []))
    return 1 if rc else 0


def wc(ctx: Ctx, argv: list[str]) -> int:
    parsed = _getopt(ctx, argv, "lwc")
    if parsed is None:
        return 1
    opts, rest = parsed
    keys = [k for k in ("-l", "-w", "-c") if any(k == o for o, _ in opts)] or ["-l", "-w", "-c"]
    inputs, rc = _inputs(ctx, "wc", rest)
    for name, text in inputs:
        counts = {"-l": text.count("\n"), "-w": len(text.split()),
                  "-c": len(text.encode("utf-8", "surrogateescape"))}
        values = [str(counts[k]) for k in keys]
        if len(keys) > 1 or rest:
            width = max(len(v) for v in values) if not rest else 7
            values = [v.rjust(width) for v in values]
        ctx.out(" ".join(values) + (f" {name}" if rest else "") + "\n")
    return 1 if rc else 0


def sort(ctx: Ctx, argv: list[str]) -> int:
    parsed = _getopt(ctx, argv, "rnu")
    if parsed is None:
        return 2
    opts, rest = parsed
    keys = {k for k, _ in opts}
    inputs, rc = _inputs(ctx, "sort", rest)
    lines = [line for _, text in inputs for line in text.splitlines()]
    if "-n" in keys:
        def num(line: str) -> float:
            m = re.match(r"\s*(-?\d+(\.\d+)?)", line)
            return float(m.group(1)) if m else 0.0
        lines.sort(key=lambda s: (num(s), s.encode()))
    else:
        lines.sort(key=lambda s: s.encode())
    if "-r" in keys:
        lines.reverse()
    if "-u" in keys:
        lines = list(dict.fromkeys(lines))
    ctx.out("".join(f"{line}\n" for line in lines))
    return 2 if rc else 0
