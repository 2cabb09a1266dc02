"""Command-line plumbing shared by `kcourse modinfo` and `kcourse objdump`: glibc's
getopt_long behaviour (permuted operands, abbreviated long options, the same messages) and
a byte writer that gathers output and writes it in large pieces.
"""

from __future__ import annotations

import sys


def write_err(lines: list[bytes]) -> None:
    err = ByteOut(sys.stderr)
    err.write(b"".join(lines))
    err.flush()


class ByteOut:
    """Bytes to a text stream: its .buffer when it has one (a terminal, a pipe, pytest),
    otherwise decoded (Jupyter's OutStream has no .buffer)."""

    def __init__(self, stream):
        self.stream = stream
        self.buffer = getattr(stream, "buffer", None)
        self.pending: list[bytes] = []  # gathered and written in ~1 MiB pieces: fewer calls
        self.size = 0

    def write(self, data: bytes) -> None:
        self.pending.append(data)
        self.size += len(data)
        if self.size > 1 << 20:
            self.flush()

    def flush(self) -> None:
        data = b"".join(self.pending)
        self.pending, self.size = [], 0
        if self.buffer is not None:
            self.buffer.write(data)
        else:
            self.stream.write(data.decode("utf-8", "surrogateescape"))
        self.stream.flush()


def getopt_long(argv: list[str], prog: str, short: str, longs: dict[str, str],
                implied: dict[str, tuple[str, str]] | None = None):
    """glibc getopt_long with GNU permutation: (opts, operands), or 1 after printing glibc's
    message. `short` is getopt's string ("F:" takes an argument); `longs` maps long names to
    letters; `implied` maps a letter to another (letter, value) it also sets."""
    takes_arg = {c for i, c in enumerate(short) if short[i + 1 : i + 2] == ":"}
    opts: dict[str, str | bool] = {}
    files: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            files += argv[i:]
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            matches = [k for k in longs if k.startswith(name)]
            if name in longs:
                matches = [name]
            if not matches:
                sys.stderr.write(f"{prog}: unrecognized option '--{name}'\n")
                return 1
            if len(matches) > 1:  # glibc getopt_long's wording
                listed = " ".join(f"'--{m}'" for m in matches)
                sys.stderr.write(f"{prog}: option '--{name}' is ambiguous; "
                                 f"possibilities: {listed}\n")
                return 1
            letter = longs[matches[0]]
            if eq and letter not in takes_arg:
                sys.stderr.write(f"{prog}: option '--{matches[0]}' doesn't allow an argument\n")
                return 1
            if letter in takes_arg:
                if not eq:
                    if i >= len(argv):
                        sys.stderr.write(f"{prog}: option '--{matches[0]}' requires an "
                                         "argument\n")
                        return 1
                    value = argv[i]
                    i += 1
                opts[letter] = value
            else:
                opts[letter] = True
            continue
        if arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                letter = arg[j]
                j += 1
                if letter not in short or letter == ":":
                    sys.stderr.write(f"{prog}: invalid option -- '{letter}'\n")
                    return 1
                if letter in takes_arg:
                    value = arg[j:]
                    if not value:
                        if i >= len(argv):
                            sys.stderr.write(f"{prog}: option requires an argument -- "
                                             f"'{letter}'\n")
                            return 1
                        value = argv[i]
                        i += 1
                    opts[letter] = value
                    break
                opts[letter] = True
                if implied and letter in implied:
                    key, value = implied[letter]
                    opts[key] = value
            continue
        files.append(arg)
    return opts, files
