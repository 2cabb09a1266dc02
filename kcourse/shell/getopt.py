"""GNU getopt_long, as kmod's tools and coreutils use it (glibc 2.36, Debian 12).

Options and operands may be mixed (GNU permutes them), `--` ends the options, a lone `-` is
an operand. The error texts are glibc's (posix/getopt.c), printed with the program name as
typed (argv[0]), e.g. `rmmod: invalid option -- 'x'`.
"""

from __future__ import annotations

from kcourse.errors import KcourseError


class GetoptError(KcourseError):
    """A bad option; the message is glibc's line (without the trailing newline)."""


def getopt_long(argv: list[str], shortopts: str,
                longopts: dict[str, tuple[bool, str]] | None = None
                ) -> tuple[list[tuple[str, str | None]], list[str]]:
    """Parse argv[1:]. shortopts like "F:0a"; longopts: name -> (takes_arg, option key).

    Returns ([(key, value)], operands). Short options are keyed "-x", long ones by their key.
    """
    prog = argv[0] if argv else "?"
    longopts = longopts or {}
    takes: dict[str, bool] = {}
    i = 0
    while i < len(shortopts):
        ch = shortopts[i]
        arg = i + 1 < len(shortopts) and shortopts[i + 1] == ":"
        takes[ch] = arg
        i += 2 if arg else 1

    opts: list[tuple[str, str | None]] = []
    operands: list[str] = []
    args = argv[1:]
    k = 0
    while k < len(args):
        a = args[k]
        k += 1
        if a == "--":
            operands += args[k:]
            break
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            matches = [n for n in longopts if n == name] or [n for n in longopts
                                                              if n.startswith(name)]
            if len({longopts[n] for n in matches}) > 1:
                choices = " ".join(f"'--{n}'" for n in matches)
                raise GetoptError(f"{prog}: option '--{name}' is ambiguous; possibilities: "
                                  f"{choices}")
            if not matches:
                raise GetoptError(f"{prog}: unrecognized option '{a}'")
            full = matches[0]
            needs, key = longopts[full]
            if needs:
                if not eq:
                    if k >= len(args):
                        raise GetoptError(f"{prog}: option '--{full}' requires an argument")
                    value = args[k]
                    k += 1
                opts.append((key, value))
            else:
                if eq:
                    raise GetoptError(f"{prog}: option '--{full}' doesn't allow an argument")
                opts.append((key, None))
            continue
        if a.startswith("-") and a != "-":
            j = 1
            while j < len(a):
                ch = a[j]
                if ch not in takes:
                    raise GetoptError(f"{prog}: invalid option -- '{ch}'")
                if takes[ch]:
                    value = a[j + 1:]
                    if not value:
                        if k >= len(args):
                            raise GetoptError(f"{prog}: option requires an argument -- '{ch}'")
                        value = args[k]
                        k += 1
                    opts.append(("-" + ch, value))
                    break
                opts.append(("-" + ch, None))
                j += 1
            continue
        operands.append(a)
    return opts, operands
