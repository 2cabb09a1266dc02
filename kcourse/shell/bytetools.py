"""Tools that read bytes: head (lines and -c bytes), od and dd, as coreutils 9.1 has them
(Debian 12), with its messages in the lab's locale (LANG=C.UTF-8: gnulib's quote() prints
‘x’, quoteaf() 'x').

A file a module serves (a /proc, /sys or /dev entry its code made, or a node made with mknod)
is opened, read with read(2) calls of the sizes the tool makes, and closed, so the module's
open, read and release run as on the real kernel: `head -c 4 /dev/ioctltest` reads 4 bytes
(coreutils head.c head_bytes: read(fd, buf, MIN(BUFSIZ, left))), dd reads ibs bytes at a time.
Any other file is read whole and cut as the tool would cut it.

What these tools do not model (od's c/a/f types, dd's conversions other than sync, ...)
they refuse in one line starting `kshell:`.
"""

from __future__ import annotations

import os
import re

from kcourse.errors import KcourseError
from kcourse.shell.context import Ctx, TaskKilled
from kcourse.shell.fs import FsError
from kcourse.shell.getopt import GetoptError, getopt_long

BUFSIZ = 8192  # glibc's stdio.h: head_bytes and head_lines read this much at a time
# gnulib xstrtol suffixes (head, od -j/-N, dd): with a B, powers of 1000; alone or with
# iB, powers of 1024; b is 512 blocks (dd also takes c = 1 and w = 2).
_POWERS = "KMGTPEZY"


def quote(text: str) -> str:
    """gnulib quote() in a UTF-8 locale."""
    return f"\u2018{text}\u2019"


def parse_size(text: str, extra: dict[str, int] | None = None) -> int | None:
    """xstrtoumax with suffixes (base 0 as od uses it: 0x.. hex, 0.. octal): None if bad."""
    match = re.fullmatch(r"(0[xX][0-9a-fA-F]+|[0-9]+)([A-Za-z]*)", text)
    if match is None:
        return None
    digits, suffix = match.groups()
    value = int(digits, 16) if digits[:2].lower() == "0x" else int(digits, 10)
    if not suffix:
        return value
    table = {"b": 512, **(extra or {})}
    if suffix in table:
        return value * table[suffix]
    letter = suffix[0].upper() if suffix[0] in "kgmt" else suffix[0]  # xstrtol.c's cases
    if letter not in _POWERS:
        return None
    power = _POWERS.index(letter) + 1
    rest = suffix[1:]
    if rest in ("", "iB"):
        return value * 1024 ** power
    if rest == "B":
        return value * 1000 ** power
    return None


# ---------------------------------------------------------------- opening and reading
class Source:
    """One input of a tool: read(n) is one read(2) of at most n bytes."""

    def __init__(self, ctx: Ctx, name: str, data: bytes | None = None, fd: int | None = None):
        self.ctx, self.name, self.data, self.fd, self.pos = ctx, name, data, fd, 0
        self.error = 0  # what read(2) fails with (a directory opens, then EISDIR)

    def read(self, count: int) -> bytes:
        if self.error:
            raise FsError(self.error, self.name)
        if self.fd is not None:
            try:
                return self.ctx.kernel.read(self.fd, count)
            except TaskKilled:
                raise
            except KcourseError as err:
                raise FsError(getattr(err, "errno", 5) or 5, self.name) from None
        chunk = self.data[self.pos:self.pos + count]
        self.pos += len(chunk)
        return chunk

    def rest(self) -> bytes:
        """Everything left (read until read(2) gives 0)."""
        if self.fd is None:
            return self.read(len(self.data))
        out = bytearray()
        while chunk := self.read(BUFSIZ):
            out += chunk
            if len(out) > 1 << 20:
                raise FsError(5, self.name)
        return bytes(out)

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            self.ctx.kernel.close(fd)


def open_source(ctx: Ctx, name: str, flags: int = os.O_RDONLY) -> Source:
    """open(2) of a file for reading, as a tool does it; FsError (with `name`) if it fails.
    "-" is standard input."""
    if name == "-":
        return Source(ctx, name, ctx.stdin.encode("utf-8", "surrogateescape"))
    vpath = ctx.path(name)
    kind, _ = ctx.fs.locate(vpath)
    if kind == "kernel" and ctx.shell._module_file(vpath):  # type: ignore[attr-defined]
        try:
            return Source(ctx, name, fd=ctx.kernel.open(vpath, flags))
        except TaskKilled:
            raise
        except KcourseError as err:
            raise FsError(getattr(err, "errno", 5) or 5, name) from None
    try:
        return Source(ctx, name, ctx.fs.read_bytes(vpath))
    except FsError as err:
        if err.errno != 21:
            raise FsError(err.errno, name) from None
    source = Source(ctx, name, b"")  # open(2) of a directory for reading succeeds
    source.error = 21
    return source


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------- head
_HEAD_LONG = {"bytes": (True, "-c"), "lines": (True, "-n"), "quiet": (False, "-q"),
              "silent": (False, "-q"), "verbose": (False, "-v")}


def head(ctx: Ctx, argv: list[str]) -> int:
    """coreutils head: -n [-]N lines (default 10), -c [-]N bytes, -q, -v; a header
    `==> NAME <==` before each file when there are several."""
    args = list(argv)
    if len(args) > 1 and re.fullmatch(r"-\d+", args[1]):  # the obsolete `head -5`
        args[1:2] = ["-n", args[1][1:]]
    try:
        opts, files = getopt_long(args, "c:n:qvz", {**_HEAD_LONG,
                                                      "zero-terminated": (False, "-z")})
    except GetoptError as err:
        ctx.err(f"{err}\nTry 'head --help' for more information.\n")
        return 1
    count, by_bytes, headers, elide, end = 10, False, None, False, b"\n"
    for key, value in opts:
        if key == "-z":
            end = b"\0"
        elif key in ("-c", "-n"):
            by_bytes = key == "-c"
            number = parse_size(value.lstrip("-"))
            if number is None or value.startswith("--"):
                what = "bytes" if by_bytes else "lines"
                ctx.err(f"head: invalid number of {what}: {quote(value)}\n")
                return 1
            count, elide = number, value.startswith("-")
        else:
            headers = key == "-v"
    files = files or ["-"]
    if headers is None:
        headers = len(files) > 1
    rc, shown_one = 0, False
    for name in files:
        try:
            source = open_source(ctx, name)
        except FsError as err:
            ctx.err(f"head: cannot open '{name}' for reading: {err.strerror}\n")
            rc = 1
            continue
        if headers:
            shown = "standard input" if name == "-" else name
            ctx.out(f"{chr(10) if shown_one else ''}==> {shown} <==\n")
            shown_one = True
        try:
            ctx.out(_text(_head_of(source, count, by_bytes, elide, end)))
        except FsError as err:
            ctx.err(f"head: error reading '{name}': {err.strerror}\n")
            rc = 1
        finally:
            source.close()
    return rc


def _head_of(source: Source, count: int, by_bytes: bool, elide: bool = False,
             end: bytes = b"\n") -> bytes:
    """The first `count` bytes or lines; with `elide`, all but the last `count`."""
    if by_bytes and not elide:
        out = bytearray()
        while len(out) < count:  # head_bytes
            chunk = source.read(min(BUFSIZ, count - len(out)))
            if not chunk:
                break
            out += chunk
        return bytes(out)
    data = source.rest()
    if by_bytes:  # -c -N: all but the last N bytes
        return data[:max(len(data) - count, 0)]
    lines = [line + end for line in data.split(end)]
    if lines[-1] == end:  # the text ended with the delimiter: no line after it
        lines.pop()
    else:
        lines[-1] = lines[-1][:-1]
    return b"".join(lines[:max(len(lines) - count, 0)] if elide else lines[:count])


# ---------------------------------------------------------------- od
HEX = {1: 2, 2: 4, 4: 8, 8: 16}  # od.c bytes_to_hex_digits
OCT = {1: 3, 2: 6, 4: 11, 8: 22}  # bytes_to_oct_digits
UNSIGNED = {1: 3, 2: 5, 4: 10, 8: 20}  # bytes_to_unsigned_dec_digits
SIGNED = {1: 4, 2: 6, 4: 11, 8: 20}  # bytes_to_signed_dec_digits
SIZE_LETTERS = {"C": 1, "S": 2, "I": 4, "L": 8}
ADDRESS = {"o": ("o", 7), "d": ("d", 7), "x": ("x", 6), "n": ("", 0)}


class _OdError(Exception):
    pass


def _od_types(spec: str) -> list[tuple[str, int]]:
    """An od -t string: [doux][SIZE]..., several in one string."""
    out, i = [], 0
    while i < len(spec):
        letter = spec[i]
        if letter in "acfz":
            raise _OdError(f"kshell: od: type '{letter}' is not supported here (only d, o, u "
                           "and x)")
        if letter not in "doux":
            raise _OdError(f"od: invalid character '{letter}' in type string {quote(spec)}")
        i += 1
        size = 4
        if i < len(spec) and spec[i] in SIZE_LETTERS:
            size, i = SIZE_LETTERS[spec[i]], i + 1
        elif i < len(spec) and spec[i].isdigit():
            digits = re.match(r"\d+", spec[i:]).group(0)
            size, i = int(digits), i + len(digits)
            if size not in HEX:
                raise _OdError(f"od: invalid type string {quote(spec)};\nthis system doesn't "
                               f"provide a {size}-byte integral type")
        out.append((letter, size))
    return out


def _od_field(letter: str, size: int, raw: bytes) -> str:
    value = int.from_bytes(raw, "little", signed=letter == "d")
    if letter == "x":
        return f"{value:0{HEX[size]}x}"
    if letter == "o":
        return f"{value:0{OCT[size]}o}"
    return str(value)


def _od_width(letter: str, size: int) -> int:
    return {"x": HEX, "o": OCT, "u": UNSIGNED, "d": SIGNED}[letter][size]


def od(ctx: Ctx, argv: list[str]) -> int:
    """coreutils od: -A RADIX, -j SKIP, -N COUNT, -t TYPE (d o u x, sizes 1 2 4 8 or
    C S I L), -v, -w[N], and -b -d -o -s -x; the default is -A o -t o2. Lines of 16 bytes;
    a line equal to the one before is shown as `*` (unless -v); the end address last."""
    longopts = {"address-radix": (True, "-A"), "skip-bytes": (True, "-j"),
                "read-bytes": (True, "-N"), "format": (True, "-t"),
                "output-duplicates": (False, "-v"), "width": (True, "-w")}
    args = [a if not re.fullmatch(r"-w", a) else "-w32" for a in argv]  # -w alone: 32
    try:
        opts, files = getopt_long(args, "A:j:N:t:vw:bdosxacfil", longopts)
    except GetoptError as err:
        ctx.err(f"{err}\nTry 'od --help' for more information.\n")
        return 1
    radix, skip, limit, types, every, width = ADDRESS["o"], 0, None, [], False, 16
    try:
        for key, value in opts:
            if key == "-A":
                if value not in ADDRESS:
                    raise _OdError(f"od: invalid output address radix '{value}'; it must be "
                                   "one character from [doxn]")
                radix = ADDRESS[value]
            elif key in ("-j", "-N", "-w"):
                number = parse_size(value)
                if number is None:
                    raise _OdError(f"od: invalid {key} argument '{value}'")
                if key == "-j":
                    skip = number
                elif key == "-N":
                    limit = number
                else:
                    width = number
            elif key == "-t":
                types += _od_types(value)
            elif key == "-v":
                every = True
            elif key in ("-a", "-c", "-f"):
                _od_types(key[1])  # refused: not modelled
            else:
                types.append({"-b": ("o", 1), "-d": ("u", 2), "-o": ("o", 2), "-s": ("d", 2),
                              "-x": ("x", 2), "-i": ("d", 4), "-l": ("d", 8)}[key])
    except _OdError as err:
        ctx.err(f"{err}\n")
        return 1
    types = types or [("o", 2)]
    lcm = max(size for _, size in types)  # sizes are powers of two: their lcm is the largest
    if width == 0 or width % lcm:
        ctx.err(f"kshell: od: a width of {width} (not a multiple of {lcm}) is not supported\n")
        return 1
    data, rc, opened = bytearray(), 0, 0
    for name in files or ["-"]:
        try:
            source = open_source(ctx, name)
        except FsError as err:
            ctx.err(f"od: {name}: {err.strerror}\n")
            rc = 1
            continue
        opened += 1
        try:
            want = None if limit is None else max(skip + limit - len(data), 0)
            data += _head_of(source, want, True) if want is not None else source.rest()
        except FsError as err:
            ctx.err(f"od: {name}: read error: {err.strerror}\n")
            rc = 1
        finally:
            source.close()
    if not opened:
        return rc
    if skip > len(data):
        ctx.err("od: cannot skip past end of combined input\n")
        return 1
    data = bytes(data[skip:] if limit is None else data[skip:skip + limit])
    ctx.out(_od_dump(data, skip, types, width, radix, every))
    return rc


def _od_dump(data: bytes, offset: int, types, width: int, radix, every: bool) -> str:
    base, address_width = radix

    def address(value: int) -> str:
        return format(value, f"0{address_width}{base}") if base else ""

    # od.c main: every type's fields padded to the widest line, the pad spread over them
    per_block = max((_od_width(t, s) + 1) * (width // s) for t, s in types)
    lines, previous, starred = [], None, False
    for start in range(0, len(data), width):
        block = data[start:start + width]
        if not every and previous == block and len(block) == width:
            if not starred:
                lines.append("*\n")
                starred = True
            continue
        previous, starred = block, False
        for index, (letter, size) in enumerate(types):
            padded = block + bytes(-len(block) % max(s for _, s in types))
            fields = width // size
            pad = per_block - _od_width(letter, size) * fields
            text = address(offset + start) if index == 0 else " " * address_width
            remaining = pad
            for i in range(fields - (width - len(block)) // size):
                next_pad = pad * (fields - i - 1) // fields
                shown = _od_field(letter, size, padded[i * size:(i + 1) * size])
                text += shown.rjust(remaining - next_pad + _od_width(letter, size))
                remaining = next_pad
            lines.append(text + "\n")
    if base:
        lines.append(address(offset + len(data)) + "\n")
    return "".join(lines)


# ---------------------------------------------------------------- dd
DD_CONV = {"sync", "notrunc", "noerror", "fsync", "fdatasync"}
DD_CONV_ALL = DD_CONV | {"ascii", "ebcdic", "ibm", "block", "unblock", "lcase", "ucase",
                         "sparse", "swab", "excl", "nocreat"}
DD_FLAGS = {"nonblock", "fullblock"}
DD_FLAGS_ALL = DD_FLAGS | {"append", "binary", "cio", "count_bytes", "skip_bytes",
                           "seek_bytes", "direct", "directory", "dsync", "noatime", "nocache",
                           "noctty", "nofollow", "nolinks", "sync", "text"}
DD_STATUS = ("none", "noxfer", "progress")
DD_TRY = "Try 'dd --help' for more information.\n"


class _DdError(Exception):
    pass


def _dd_number(text: str, positive: bool = False) -> int:
    """dd.c parse_integer: N, with suffixes (c w b kB K KiB ...), and NxM products."""
    value = 1
    for part in text.split("x"):
        number = parse_size(part, {"c": 1, "w": 2})
        if number is None:
            raise _DdError(f"dd: invalid number: {quote(text)}\n")
        value *= number
    if positive and value == 0:
        raise _DdError(f"dd: invalid number: {quote(text)}\n")
    return value


def _dd_list(value: str, known: set[str], every: set[str], what: str) -> set[str]:
    words = set(value.split(","))
    for word in value.split(","):
        if word not in every:
            raise _DdError(f"dd: invalid {what}: {quote(word)}\n{DD_TRY}")
        if word not in known:
            raise _DdError(f"kshell: dd: {what.split()[-1]} {word} is not supported here\n")
    return words


def dd(ctx: Ctx, argv: list[str]) -> int:
    """coreutils dd: if= of= bs= ibs= obs= count= skip= conv=sync,notrunc,noerror
    iflag=nonblock,fullblock oflag=nonblock status=none|noxfer. It reads ibs bytes at a time
    (count reads), pads a short read with NULs under conv=sync, writes obs-byte blocks and
    says the records read and written on stderr. The time it took is not simulated: where
    dd prints `N bytes copied, T s, R/s`, a kshell line says so."""
    try:
        o = _dd_operands(argv[1:])
    except _DdError as err:
        ctx.err(str(err))
        return 1
    name = o.get("if", "-")
    flags = os.O_RDONLY | (os.O_NONBLOCK if "nonblock" in o["iflag"] else 0)
    try:
        source = open_source(ctx, name, flags)
    except FsError as err:
        ctx.err(f"dd: failed to open '{name}': {err.strerror}\n")
        return 1
    sink = None
    try:
        if "of" in o:
            sink = _DdSink(ctx, o["of"], "notrunc" not in o["conv"])
        full_in = part_in = 0
        out, rc = bytearray(), 0
        for _ in range(o["skip"]):  # skip=N: N reads of ibs thrown away
            if not source.read(o["ibs"]):
                ctx.err(f"dd: '{name}': cannot skip to specified offset\n")
                break
        while o["count"] is None or full_in + part_in < o["count"]:
            try:
                block = source.read(o["ibs"])
                while "fullblock" in o["iflag"] and block and len(block) < o["ibs"]:
                    more = source.read(o["ibs"] - len(block))
                    if not more:
                        break
                    block += more
            except FsError as err:
                ctx.err(f"dd: error reading '{name}': {err.strerror}\n")
                rc = 1
                break
            if not block:
                break
            if len(block) == o["ibs"]:
                full_in += 1
            else:
                part_in += 1
                if "sync" in o["conv"]:
                    block += bytes(o["ibs"] - len(block))
            out += block
        full_out, part_out = divmod(len(out), o["obs"])
        part_out = 1 if part_out else 0
        blocks = [bytes(out[i:i + o["obs"]]) for i in range(0, len(out), o["obs"])]
        if sink is None:
            ctx.out(_text(bytes(out)))
        else:
            written = sink.write(blocks)
            if written < len(blocks):
                full_out = min(full_out, written)
                part_out = 0 if written <= full_out else part_out
                rc = 1
        if o["status"] != "none":
            ctx.err(f"{full_in}+{part_in} records in\n{full_out}+{part_out} records out\n")
        if o["status"] not in ("none", "noxfer"):
            ctx.err(f"kshell: dd: {len(out)} bytes copied (the time it took, which dd "
                    "prints here, is not simulated)\n")
        return rc
    except FsError as err:
        ctx.err(f"dd: failed to open '{err.path}': {err.strerror}\n")
        return 1
    finally:
        source.close()
        if sink is not None:
            sink.close()


def _dd_operands(args: list[str]) -> dict:
    o: dict = {"conv": set(), "iflag": set(), "oflag": set(), "status": "", "skip": 0,
               "count": None}
    sizes: dict[str, int] = {}
    for arg in args:
        key, eq, value = arg.partition("=")
        if not eq or key not in ("if", "of", "bs", "ibs", "obs", "count", "skip", "conv",
                                 "iflag", "oflag", "status", "seek", "cbs", "iseek", "oseek"):
            raise _DdError(f"dd: unrecognized operand {quote(arg)}\n{DD_TRY}")
        if key in ("if", "of"):
            o[key] = value
        elif key in ("bs", "ibs", "obs"):
            sizes[key] = _dd_number(value, positive=True)
        elif key in ("count", "skip"):
            o[key] = _dd_number(value)
        elif key == "conv":
            o["conv"] |= _dd_list(value, DD_CONV, DD_CONV_ALL, "conversion")
        elif key in ("iflag", "oflag"):
            what = "input flag" if key == "iflag" else "output flag"
            known = DD_FLAGS if key == "iflag" else {"nonblock"}
            o[key] |= _dd_list(value, known, DD_FLAGS_ALL, what)
        elif key == "status":
            if value not in DD_STATUS:
                raise _DdError(f"dd: invalid status level: {quote(value)}\n{DD_TRY}")
            o["status"] = value
        else:
            _dd_number(value)
            raise _DdError(f"kshell: dd: {key}= is not supported here\n")
    o["ibs"] = sizes.get("bs", sizes.get("ibs", 512))
    o["obs"] = sizes.get("bs", sizes.get("obs", 512))
    return o


class _DdSink:
    """of=FILE: opened O_WRONLY|O_CREAT (|O_TRUNC unless conv=notrunc); a file a module
    serves gets one write(2) per output block."""

    def __init__(self, ctx: Ctx, name: str, truncate: bool):
        self.ctx, self.name, self.fd, self.text = ctx, name, None, None
        fs, vpath = ctx.fs, ctx.path(name)
        self.vpath = vpath
        kind, _ = fs.locate(vpath)
        if fs.tmp_writable(vpath):
            fs.tmp_open(vpath, append=not truncate)  # conv=notrunc: written over from 0
            self.kind = "tmp"
        elif kind == "kernel" and ctx.shell._module_file(vpath):  # type: ignore[attr-defined]
            self.kind = "fd"
            try:
                flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else 0)
                self.fd = ctx.kernel.open(vpath, flags)
            except TaskKilled:
                raise
            except KcourseError as err:
                raise FsError(getattr(err, "errno", 5) or 5, name) from None
        else:
            ctx.shell._check_writable(vpath, name)  # type: ignore[attr-defined]
            self.kind = "file"

    def write(self, blocks: list[bytes]) -> int:
        """Write the blocks; returns how many went (an error is said on stderr)."""
        done = 0
        try:
            if self.kind == "tmp":
                fs, data = self.ctx.fs, b"".join(blocks)
                old = fs.tmp[fs.tmp_name(self.vpath)]
                fs.tmp[fs.tmp_name(self.vpath)] = data + old[len(data):]
            elif self.kind == "fd":
                for block in blocks:
                    ret = self.ctx.kernel.write(self.fd, _text(block))
                    if ret < 0:
                        raise FsError(-ret, self.name)
                    done += 1
            elif blocks:
                self.ctx.fs.write_text(self.vpath, _text(b"".join(blocks)))
        except TaskKilled:
            raise
        except (FsError, KcourseError) as err:
            code = getattr(err, "errno", 5) or 5
            self.ctx.err(f"dd: error writing '{self.name}': {os.strerror(code)}\n")
            return done if self.kind == "fd" else 0
        return len(blocks)

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            self.ctx.kernel.close(fd)
