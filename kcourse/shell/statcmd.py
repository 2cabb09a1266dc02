"""stat -c FORMAT (coreutils 9.1), over the shell's file system.

Only the format form: the default output has times and device numbers the simulated
machine does not keep. Directives: %n (name as given), %s (size), %a (octal permissions),
%A (ls-style mode), %u/%g (ids), %U/%G (names: root; another id has no name here), %F
(file type: "regular file", "regular empty file", "directory", "character special file",
"symbolic link"), %t/%T (a device node's major/minor, in hex), %% (a percent). Anything
else stops with one kshell line. Like stat(1), a path that cannot be stat()ed is
"stat: cannot statx 'x': <error>" and status 1.
"""

from __future__ import annotations

from kcourse.shell.coreutils import _getopt, _mode_string
from kcourse.shell.fs import Entry, FsError

TYPES = {"dir": "directory", "chr": "character special file", "blk": "block special file",
         "link": "symbolic link"}
NAMES = {0: "root"}


def _field(code: str, shown: str, entry: Entry) -> str:
    if code == "n":
        return shown
    if code == "s":
        return str(entry.size)
    if code == "a":
        return f"{entry.mode & 0o7777:o}"
    if code == "A":
        return _mode_string(entry)
    if code in "ug":
        return str(entry.uid if code == "u" else entry.gid)
    if code in "UG":
        ident = entry.uid if code == "U" else entry.gid
        if ident not in NAMES:
            raise ValueError(f"kshell: stat: no name for {'uid' if code == 'U' else 'gid'} "
                             f"{ident} on the simulated machine")
        return NAMES[ident]
    if code == "F":
        if entry.kind == "file":
            return "regular empty file" if entry.size == 0 else "regular file"
        return TYPES[entry.kind]
    if code in "tT":  # major and minor of a device node, in hex (coreutils stat.c)
        return f"{entry.major if code == 't' else entry.minor:x}"
    if code == "%":
        return "%"
    raise ValueError(f"kshell: stat: the directive %{code} is not supported")


def format_entry(fmt: str, shown: str, entry: Entry) -> str:
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            out.append(_field(fmt[i + 1], shown, entry))
            i += 2
        else:
            out.append(fmt[i])
            i += 1
    return "".join(out)


def stat(ctx, argv: list[str]) -> int:
    parsed = _getopt(ctx, argv, "Lc:", {"format": (True, "-c"), "dereference": (False, "-L")})
    if parsed is None:
        return 1
    opts, names = parsed
    formats = [v for k, v in opts if k == "-c"]
    if not names:
        ctx.err("stat: missing operand\nTry 'stat --help' for more information.\n")
        return 1
    if not formats:
        ctx.err("kshell: stat without -c FORMAT is not supported (its times and device "
                "numbers are not kept)\n")
        return 1
    rc = 0
    for name in names:
        try:
            entry = ctx.fs.stat(ctx.path(name))
            ctx.out(format_entry(formats[-1], name, entry) + "\n")
        except FsError as err:
            ctx.err(f"stat: cannot statx '{name}': {err.strerror}\n")
            rc = 1
        except ValueError as err:
            ctx.err(f"{err}\n")
            return 1
    return rc
