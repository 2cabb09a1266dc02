"""Module parameters the way kernel/params.c (6.1) parses, stores and shows them.

- next_arg (lib/cmdline.c) splits "a=1 b=\\"x y\\" c" into (param, value|None), quotes removed;
- parse_args/parse_one look each name up (parameq: '-' and '_' are the same), call the
  type's set(); an unknown name goes to load_module's unknown_module_param_cb, which prints
  "<mod>: unknown parameter '<p>' ignored" and carries on (kernel/module/main.c);
- a failing set() prints "<mod>: `<val>' invalid for parameter `<p>'" (or "too large" for
  -ENOSPC), parsing continues, and the last error fails the load;
- integer types use kstrto*() (lib/kstrtox.c): base auto-detected (0x.., 0..), one trailing
  newline allowed, out of range is -ERANGE; bool takes y/Y/t/T/1/n/N/f/F/0/on/off (kstrtobool)
  and "no value" means yes; charp is limited to 1024 bytes (strlen);
- get() formats: %hhu %hi %hu %i %u %li %lu %llu, hexint "%#08x", bool Y/N, invbool inverted,
  arrays comma-joined.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kcourse.kernel.errno import EINVAL, ENOENT, ENOSPC

ERANGE = 34
CHARP_MAX = 1024  # param_set_charp: maxlen

# type -> (min, max, signed); kstrtou8/s16/u16/int/uint/long/ulong/ull
_INT_RANGES = {
    "byte": (0, 0xFF), "short": (-(1 << 15), (1 << 15) - 1), "ushort": (0, 0xFFFF),
    "int": (-(1 << 31), (1 << 31) - 1), "uint": (0, 0xFFFFFFFF), "hexint": (0, 0xFFFFFFFF),
    "long": (-(1 << 63), (1 << 63) - 1), "ulong": (0, (1 << 64) - 1),
    "ullong": (0, (1 << 64) - 1),
}
_SIGNED = {"short", "int", "long"}
NOARG_TYPES = {"bool", "bint", "bool_enable_only"}  # KERNEL_PARAM_OPS_FL_NOARG


def next_arg(args: str) -> tuple[str, str | None, str]:
    """lib/cmdline.c next_arg: (param, val or None, rest of args with leading spaces eaten).

    A NUL ends the string, as it ends the C string the kernel walks."""
    param, val, pos = _next_arg_at(args, 0)
    return param, val, args[pos:]


def _next_arg_at(args: str, a: int) -> tuple[str, str | None, int]:
    """next_arg from offset `a`; returns the offset of the rest instead of a copy of it.

    The kernel edits its buffer in place and hands back a pointer, so parse_args is linear in
    the length of the string; slicing the rest off at every step would make it quadratic."""
    n = args.find("\0", a)
    n = len(args) if n < 0 else n  # the C string ends at the first NUL (strndup_user)
    in_quote = quoted = False
    if a < n and args[a] == '"':
        a, in_quote, quoted = a + 1, True, True
    i = a
    equals = -1
    while i < n:
        ch = args[i]
        if ch.isspace() and not in_quote:
            break
        if equals < 0 and ch == "=" and i > a:  # `if (equals == 0 && ...)`: never at i == 0
            equals = i
        if ch == '"':
            in_quote = not in_quote
        i += 1
    end = i  # args[end] is the space (replaced by NUL) or the end of the string
    # Closing quotes the kernel overwrites with NUL (lib/cmdline.c next_arg)
    val_start = val_end = None
    param_end = end
    if equals >= 0:
        param_end = equals
        val_start, val_end = equals + 1, end
        if val_start < n and args[val_start] == '"':
            val_start += 1
            if end > a and args[end - 1] == '"':
                val_end = end - 1
    if quoted and end > a and args[end - 1] == '"':
        if val_end is not None:
            val_end = min(val_end, end - 1)
        else:
            param_end = min(param_end, end - 1)
    rest = end + 1 if end < n else end
    while rest < n and args[rest].isspace():  # skip_spaces
        rest += 1
    if rest >= n:
        rest = len(args)  # nothing after the NUL is seen
    param = args[a:param_end]
    val = None if val_start is None else args[val_start:max(val_start, val_end)]
    return param, val, rest


def c_string(text: str) -> str:
    """What the kernel sees of a user string: everything up to the first NUL.

    kernel/module/main.c load_module: `mod->args = strndup_user(uargs, ~0UL >> 1)` copies a
    C string, so a NUL ends the parameters (the rest is never read)."""
    end = text.find("\0")
    return text if end < 0 else text[:end]


def c_strlen(text: str) -> int:
    """strlen() of the UTF-8 bytes user space passed: a length in bytes, not characters."""
    return len(text.encode("utf-8", "surrogateescape"))


def kstrtoull(s: str, base: int = 0) -> int:
    """lib/kstrtox.c _kstrtoull (after an optional '+'); raises ValueError(errno)."""
    if s.startswith("+"):
        s = s[1:]
    return _parse_unsigned(s, base)


def _parse_unsigned(s: str, base: int) -> int:
    if base == 0:
        if s[:1] == "0":
            base = 16 if s[1:2].lower() == "x" and s[2:3] in "0123456789abcdefABCDEF" \
                and s[2:3] != "" else 8
        else:
            base = 10
    if base == 16 and s[:2].lower() == "0x":
        s = s[2:]
    digits = 0
    value = 0
    for ch in s:
        lc = ch.lower()
        if "0" <= ch <= "9":
            v = ord(ch) - 48
        elif "a" <= lc <= "f":
            v = ord(lc) - 87
        else:
            break
        if v >= base:
            break
        value = value * base + v
        digits += 1
    if value >= 1 << 64:
        raise ValueError(ERANGE)
    if digits == 0:
        raise ValueError(EINVAL)
    tail = s[digits:]
    if tail.startswith("\n"):
        tail = tail[1:]
    if tail:
        raise ValueError(EINVAL)
    return value


def kstrtoll(s: str, base: int = 0) -> int:
    if s.startswith("-"):
        tmp = _parse_unsigned(s[1:], base)
        if tmp > 1 << 63:
            raise ValueError(ERANGE)
        return -tmp
    tmp = kstrtoull(s, base)
    if tmp >= 1 << 63:
        raise ValueError(ERANGE)
    return tmp


def kstrtobool(s: str | None) -> bool:
    if not s:
        raise ValueError(EINVAL)
    if s[0] in "yYtT1":
        return True
    if s[0] in "nNfF0":
        return False
    if s[0] in "oO" and len(s) > 1:
        if s[1] in "nN":
            return True
        if s[1] in "fF":
            return False
    raise ValueError(EINVAL)


def set_value(ptype: str, val: str | None):
    """param_set_<type>: the stored value, or ValueError(errno)."""
    if ptype in ("bool", "bint", "bool_enable_only"):
        return kstrtobool("1" if val is None else val)
    if val is None:
        raise ValueError(EINVAL)
    if ptype == "invbool":
        return not kstrtobool(val)
    if ptype == "charp":
        # 6.1 kernel/params.c:271-274 param_set_charp: strnlen(val, 1025) == 1025 -> -ENOSPC
        if c_strlen(val) > CHARP_MAX:
            raise ValueError(ENOSPC)
        return val
    if ptype in _INT_RANGES:
        lo, hi = _INT_RANGES[ptype]
        number = kstrtoll(val) if ptype in _SIGNED else kstrtoull(val)
        if not lo <= number <= hi:
            raise ValueError(ERANGE)
        return number
    raise ValueError(EINVAL)


def format_value(ptype: str, value) -> str:
    """param_get_<type> without the trailing newline."""
    if ptype in ("bool", "bool_enable_only"):
        return "Y" if value else "N"
    if ptype == "invbool":
        return "N" if value else "Y"
    if ptype == "bint":
        return str(int(value))
    if ptype == "hexint":
        return f"{int(value):#08x}"
    if ptype in ("charp", "string"):
        return "(null)" if value is None else str(value)
    return str(int(value))


def parse_text(ptype: str, text: str):
    """The stored value behind a default text (inverse of format_value, for defaults)."""
    if ptype in ("charp", "string"):
        return None if text == "(null)" else text
    if ptype in ("bool", "bool_enable_only"):
        return text == "Y"
    if ptype == "invbool":
        return text == "N"
    try:
        return kstrtoll(text) if not text.startswith("0x") else int(text, 16)
    except ValueError:
        return 0


@dataclass
class Param:
    """A module's kernel_param with its current value (what /sys/.../parameters/<p> shows)."""

    name: str
    type: str
    perm: int
    value: object = None
    values: list = field(default_factory=list)  # arrays
    max_count: int = 1
    maxlen: int = 0
    # module_param_cb with the module's own kernel_param_ops: its set/get run the module's
    # code (kcourse.kapi.params.bind_custom_ops); set returns 0 or -errno, get the text
    custom_set: object = field(default=None, repr=False, compare=False)
    custom_get: object = field(default=None, repr=False, compare=False)

    @property
    def is_array(self) -> bool:
        return self.type.startswith("array of ")

    @property
    def elem_type(self) -> str:
        return self.type[len("array of "):] if self.is_array else self.type

    @classmethod
    def from_spec(cls, spec) -> Param:
        p = cls(spec.name, spec.type, spec.perm, max_count=spec.max_count, maxlen=spec.maxlen)
        if p.is_array:
            p.values = [parse_text(p.elem_type, t) for t in spec.default]
        else:
            p.value = parse_text(p.type, spec.default[0]) if spec.default else \
                (None if p.type in ("charp", "string") else 0)
        return p

    def set(self, val: str | None) -> None:
        """ops->set; raises ValueError(errno). Arrays: param_array (comma list, max count)."""
        if self.custom_set is not None:
            err = self.custom_set(val)
            if err < 0:
                raise ValueError(-err)
            return
        if self.is_array:
            if val is None:
                raise ValueError(EINVAL)
            items = val.split(",")
            out = []
            for item in items:
                if len(out) == self.max_count:
                    raise ValueError(EINVAL)  # "%s: can only take %i arguments"
                out.append(set_value(self.elem_type, item))
            self.values = out
            return
        if self.type == "string":
            if val is None:
                raise ValueError(EINVAL)
            if self.maxlen and c_strlen(val) >= self.maxlen:  # param_set_copystring
                raise ValueError(ENOSPC)
            self.value = val
            return
        self.value = set_value(self.type, val)

    def array_overflow(self, val: str | None) -> bool:
        return self.is_array and val is not None and len(val.split(",")) > self.max_count

    def show(self) -> str:
        """ops->get: the text of /sys/module/<m>/parameters/<p> (with its newline)."""
        if self.custom_get is not None:
            return self.custom_get()
        if self.is_array:
            return ",".join(format_value(self.elem_type, v) for v in self.values) + "\n"
        return format_value(self.type, self.value) + "\n"

    def snapshot(self):
        return (self.name, self.value, tuple(self.values))


def parameq(a: str, b: str) -> bool:
    return a.replace("-", "_") == b.replace("-", "_")


def parse_args(modname: str, args: str, params: dict[str, Param], printk) -> int:
    """kernel/params.c parse_args with load_module's unknown_module_param_cb.

    `printk(text)` receives complete KERN_* lines. Returns 0 or the last -errno (positive).
    """
    err = 0
    args = c_string(args)
    pos = len(args) - len(args.lstrip())  # skip_spaces
    by_name = {p.name.replace("-", "_"): p for p in reversed(params.values())}  # parameq
    while pos < len(args):
        param, val, pos = _next_arg_at(args, pos)
        if val is None and param == "--":
            # parse_args returns `err ?: args`; load_module warns about what follows "--"
            if not err:
                printk(f"\0014{modname}: parameters '{args[pos:]}' after `--' ignored\n")
            return err
        target = by_name.get(param.replace("-", "_"))
        if target is None:
            # main.c unknown_module_param_cb: async_probe and dyndbg are accepted silently
            if param != "async_probe" and not parameq(param, "dyndbg") and \
                    not param.endswith(".dyndbg"):
                printk(f"\0014{modname}: unknown parameter '{param}' ignored\n")
            continue
        if val is None and target.type not in NOARG_TYPES:
            ret = EINVAL
        else:
            ret = 0
            if target.array_overflow(val):
                printk(f"\0013{target.name}: can only take {target.max_count} arguments\n")
            elif target.type == "charp" and val is not None and c_strlen(val) > CHARP_MAX:
                printk(f"\0013{target.name}: string parameter too long\n")
            try:
                target.set(val)
            except ValueError as exc:
                ret = exc.args[0]
        if ret == 0:
            continue
        if ret == ENOENT:
            printk(f"\0013{modname}: Unknown parameter `{param}'\n")
        elif ret == ENOSPC:
            printk(f"\0013{modname}: `{val or ''}' too large for parameter `{param}'\n")
        else:
            printk(f"\0013{modname}: `{val or ''}' invalid for parameter `{param}'\n")
        err = ret
    return err
