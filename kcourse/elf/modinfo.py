"""`kcourse modinfo`: kmod 30's modinfo, byte for byte, for module files.

Output rules, all from kmod's tools/modinfo.c (modinfo_do) and libkmod-module.c
(kmod_module_get_info):

- `filename:` first, the path made absolute the way path_make_absolute_cwd() does it
  ($PWD or getcwd, "/", the argument as given; no normalisation).
- Then every .modinfo string in section order as `key:` padded by printf("%s:%-*s", key,
  15 - len(key), "") (a negative width pads to its absolute value), then the signature
  fields sig_id, signer, sig_key, sig_hashalgo, signature (hex, 20 bytes a line).
- `parm` and `parmtype` entries are merged per parameter name and printed last, newest
  parameter first (kmod prepends to a linked list).
- `-F field` prints only values; `-F parm` prints `name:desc (type)`; `-0` ends records with
  NUL and prints `key=value`.

Reading is kcourse.elf.modinfo_read (a pread fast path without pyelftools), so thousands of
files in one invocation run as fast as kmod (benchmarks/modinfo_speed.py).
"""

from __future__ import annotations

import binascii
import os
import sys

from kcourse.elf.cliutil import ByteOut, getopt_long, write_err
from kcourse.elf.modinfo_read import read_module, split_modinfo  # noqa: F401 (re-exported)
from kcourse.errors import KoFormatError

# Only small modules are imported at start-up: pyelftools, dataclasses, json and the
# decompressors load only when a file needs them.

KMOD_EXTENSIONS = (".ko", ".ko.gz", ".ko.xz", ".ko.zst")
_SHORT_OPTS = "adlpn0mF:k:b:Vh"
_LONG_OPTS = {"author": "a", "description": "d", "license": "l", "parameters": "p",
              "filename": "n", "null": "0", "modname": "m", "field": "F", "set-version": "k",
              "basedir": "b", "version": "V", "help": "h", "json": "J"}
_FIELD_OF = {"a": "author", "d": "description", "l": "license", "p": "parm", "n": "filename"}
USAGE = """Usage:
\t{prog} [options] <modulename|filename> [args]
Options:
\t-a, --author                Print only 'author'
\t-d, --description           Print only 'description'
\t-l, --license               Print only 'license'
\t-p, --parameters            Print only 'parm'
\t-n, --filename              Print only 'filename'
\t-0, --null                  Use \\0 instead of \\n
\t-m, --modname               Handle argument as module name instead of alias or filename
\t-F, --field=FIELD           Print only provided FIELD
\t-k, --set-version=VERSION   Use VERSION instead of `uname -r`
\t-b, --basedir=DIR           Use DIR as filesystem root for /lib/modules
\t-V, --version               Show version
\t-h, --help                  Show this help
\t    --json                  Print a JSON list, one object per module (kcourse only)
"""


# ---------------------------------------------------------------------- formatting


def _hex(data: bytes) -> bytes:
    """kmod_module_hex_to_str: XX:XX:..., a newline and two tabs after every 20 bytes."""
    text = binascii.hexlify(data, b":").upper()
    return b"\n\t\t".join([text[i : i + 60] for i in range(0, len(text), 60)])


_PREFIX: dict[bytes, bytes] = {}  # key -> b"key:" + padding, as printf("%s:%-*s", ...)
_HEX_CACHE: dict[bytes, bytes] = {}


def _prefix(key: bytes) -> bytes:
    prefix = _PREFIX.get(key)
    if prefix is None:
        prefix = _PREFIX[key] = key + b":" + b" " * abs(15 - len(key))
    return prefix


def format_plain(strings: list[bytes], sig: tuple | None, err: list[bytes]) -> bytes:
    """format_module(None, info_items(...), None, b"\n", err), fused for bulk speed."""
    lines = []
    params = None
    prefixes = _PREFIX
    for item in strings:
        key, _, value = item.partition(b"=")
        if key == b"parm" or key == b"parmtype":
            if params is None:
                params = []
            params.append((key, value))
            continue
        lines.append((prefixes.get(key) or _prefix(key)) + value)
    if sig is not None:
        id_type, signer, key_id, hsh, sig_bytes = sig
        key_hex = _HEX_CACHE.get(key_id)
        if key_hex is None:
            key_hex = _HEX_CACHE[key_id] = _hex(key_id) if key_id else b"(null)"
        lines += (b"sig_id:         " + id_type.encode(),
                  b"signer:         " + signer.encode("utf-8", "surrogateescape"),
                  b"sig_key:        " + key_hex,
                  b"sig_hashalgo:   " + hsh.encode(),
                  b"signature:      " + (_hex(sig_bytes) if sig_bytes else b"(null)"))
    if params:
        for name, desc, typ in _params(params, err):
            if desc is None:
                lines.append(b"parm:           %s:%s" % (name, typ))
            elif typ is not None:
                lines.append(b"parm:           %s:%s (%s)" % (name, desc, typ))
            else:
                lines.append(b"parm:           %s:%s" % (name, desc))
    lines.append(b"")
    return b"\n".join(lines)


def info_items(strings: list[bytes], sig: tuple | None) -> list[tuple[bytes, bytes]]:
    """kmod_module_get_info's list: .modinfo key/values, then the signature fields."""
    items = []
    for item in strings:
        key, eq, value = item.partition(b"=")
        items.append((key, value))  # no '=': the value is empty (valuelen 0)
    if sig is not None:
        id_type, signer, key_id, hsh, sig_bytes = sig
        items += [(b"sig_id", id_type.encode()),
                  (b"signer", signer.encode("utf-8", "surrogateescape")),
                  (b"sig_key", _hex(key_id) if key_id else b"(null)"),
                  (b"sig_hashalgo", hsh.encode()),
                  (b"signature", _hex(sig_bytes) if sig_bytes else b"(null)")]
    return items


def _params(items, err: list[bytes]) -> list[tuple[bytes, bytes | None, bytes | None]]:
    """(name, description, type) per parameter, newest name first (kmod's add_param)."""
    params: dict[bytes, list] = {}
    for key, value in items:
        if key != b"parm" and key != b"parmtype":
            continue
        name, colon, rest = value.partition(b":")
        if not colon:
            err.append(b'modinfo: ERROR: Found invalid "%s=%s": missing \':\'\n' % (key, value))
            continue
        entry = params.setdefault(name, [name, None, None])
        entry[1 if key == b"parm" else 2] = rest
    return [tuple(e) for e in reversed(params.values())]


def format_module(filename: bytes | None, items, field: str | None, sep: bytes,
                  err: list[bytes]) -> bytes:
    """What modinfo_do() prints for one module (the filename line only if filename given)."""
    out = []
    if field is not None:
        fkey = field.encode("utf-8", "surrogateescape")
        if fkey == b"parm":
            for name, desc, typ in _params(items, err):
                if desc is None:
                    out.append(b"%s: (%s)%s" % (name, typ, sep))
                elif typ is not None:
                    out.append(b"%s:%s (%s)%s" % (name, desc, typ, sep))
                else:
                    out.append(b"%s:%s%s" % (name, desc, sep))
        else:
            out += [value + sep for key, value in items if key == fkey]
        return b"".join(out)
    if filename is not None:
        out.append(b"filename:       " + filename + sep)
    for key, value in items:
        if key == b"parm" or key == b"parmtype":
            continue
        if sep == b"\0":
            out.append(b"%s=%s\0" % (key, value))
        else:
            out.append(b"%s:%s%s\n" % (key, b" " * abs(15 - len(key)), value))
    for name, desc, typ in _params(items, err):
        if desc is None:
            out.append(b"parm:           %s:%s%s" % (name, typ, sep))
        elif typ is not None:
            out.append(b"parm:           %s:%s (%s)%s" % (name, desc, typ, sep))
        else:
            out.append(b"parm:           %s:%s%s" % (name, desc, sep))
    return b"".join(out)


def absolute(path: str, cwd: str | None = None) -> str:
    """kmod's path_make_absolute_cwd(): get_current_dir_name() + '/' + path, unnormalised."""
    if path.startswith("/"):
        return path
    return f"{cwd or current_dir_name()}/{path}"


def current_dir_name() -> str:
    """glibc get_current_dir_name(): $PWD when it names the working directory, else getcwd."""
    cwd = os.getcwd()
    pwd = os.environ.get("PWD")
    if pwd and pwd.startswith("/"):
        try:
            if os.path.samestat(os.stat(pwd), os.stat(cwd)):
                cwd = pwd
        except OSError:
            pass
    return cwd


def is_module_filename(path: str) -> bool:
    """tools/modinfo.c is_module_filename(): a regular file with a module extension."""
    try:
        import stat

        return stat.S_ISREG(os.stat(path).st_mode) and path.endswith(KMOD_EXTENSIONS)
    except (OSError, ValueError):
        return False


# ---------------------------------------------------------------------- Python API


def modinfo_text(path, field: str | None = None, null: bool = False,
                 filename: str | None = None) -> str:
    """The text `modinfo [-F field] [-0] PATH` prints; `filename` replaces the shown path
    (notebooks show paths relative to the data directory)."""
    strings, sig = read_module(str(path))
    shown = filename if filename is not None else absolute(str(path))
    out = format_module(shown.encode("utf-8", "surrogateescape"), info_items(strings, sig),
                        field, b"\0" if null else b"\n", [])
    return out.decode("utf-8", "surrogateescape")


def modinfo_json(path, filename: str | None = None) -> dict:
    """One module's modinfo as a JSON-able dict (ours; kmod has no JSON output)."""
    strings, sig = read_module(str(path))
    items = info_items(strings, sig)

    def text(b):
        return None if b is None else b.decode("utf-8", "surrogateescape")

    return {
        "filename": filename if filename is not None else absolute(str(path)),
        "info": [[text(k), text(v)] for k, v in items if k not in (b"parm", b"parmtype")],
        "parm": [{"name": text(n), "description": text(d), "type": text(t)}
                 for n, d, t in _params(items, [])],
    }


# ---------------------------------------------------------------------- command line


def _course_module(name: str) -> str | None:
    """`kcourse modinfo hello` finds the course's data/modules/hello/hello.ko (kmod would
    look the name up under /lib/modules/$(uname -r), which the course does not touch)."""
    from kcourse.paths import modules_dir

    base = name.replace("-", "_")
    for candidate in (name, base):
        path = modules_dir() / candidate / f"{candidate}.ko"
        if path.is_file():
            return str(path)
    return None


def main(argv: list[str]) -> int:
    parsed = getopt_long(argv, "modinfo", _SHORT_OPTS, _LONG_OPTS,
                         {k: ("F", v) for k, v in _FIELD_OF.items()})
    if isinstance(parsed, int):
        return parsed
    opts, files = parsed
    if opts.get("h"):
        sys.stdout.write(USAGE.format(prog="modinfo"))
        return 0
    if opts.get("V"):
        from kcourse import __version__

        sys.stdout.write(f"kcourse version {__version__} (modinfo compatible with kmod 30)\n"
                         "+ZSTD +XZ +ZLIB +LIBCRYPTO -EXPERIMENTAL\n")
        return 0
    if not files:
        sys.stderr.write("modinfo: ERROR: missing module or filename.\n")
        return 1
    field = opts.get("F")
    field = field if isinstance(field, str) else None
    sep = b"\0" if opts.get("0") else b"\n"
    as_json = bool(opts.get("J"))
    out = ByteOut(sys.stdout)
    cwd = current_dir_name()
    failed = False
    records = []
    for name in files:
        if opts.get("m"):
            path = _course_module(name)
            if path is None:
                out.flush()
                sys.stderr.write(f"modinfo: ERROR: Module name {name} not found.\n")
                failed = True
                continue
        elif is_module_filename(name):
            path = name
        else:
            path = _course_module(name)
            if path is None:
                out.flush()
                sys.stderr.write(f"modinfo: ERROR: Module {name} not found.\n")
                failed = True
                continue
        filename = absolute(path, cwd).encode("utf-8", "surrogateescape")
        if field == "filename" and not as_json:
            out.write(filename + sep)
            continue
        if not as_json and field is None:
            out.write(b"filename:       " + filename + sep)
        try:
            strings, sig = read_module(path)
        except KoFormatError as err:
            out.flush()
            sys.stderr.write(f"modinfo: ERROR: {err}\n")
            failed = True
            continue
        if field is None and sep == b"\n" and not as_json:
            errors: list[bytes] = []
            out.write(format_plain(strings, sig, errors))
            if errors:
                out.flush()
                write_err(errors)
            continue
        items = info_items(strings, sig)
        if as_json:
            records.append(modinfo_json(path, filename.decode("utf-8", "surrogateescape")))
            continue
        errors = []
        out.write(format_module(None, items, field, sep, errors))
        if errors:
            out.flush()
            write_err(errors)
    if as_json:
        import json

        out.write(json.dumps(records, indent=2).encode() + b"\n")
    out.flush()
    return 1 if failed else 0
