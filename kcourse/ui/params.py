"""Module parameters as the panel shows them: one typed field per `parmtype=` entry.

modpost writes `parmtype=<name>:<type>` into .modinfo for every module_param(), and
`parm=<name>:<description>` for every MODULE_PARM_DESC() (include/linux/moduleparam.h:
__MODULE_PARM_TYPE, MODULE_PARM_DESC). The type strings are the names of the param_ops:
byte, short, ushort, int, uint, long, ulong, ullong, hexint, charp, bool, invbool,
"string" (module_param_string) and "array of <type>" (module_param_array).

Nothing here checks values: that is the kernel's job (kernel/params.c: parse_args), and a
wrong value should reach it so the learner sees the kernel's own refusal.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

# The integer param_ops (kernel/params.c: STANDARD_PARAM_DEF lines).
INTEGER_TYPES = frozenset(
    {"byte", "short", "ushort", "int", "uint", "long", "ulong", "ullong", "llong"}
)
BOOL_TYPES = frozenset({"bool", "invbool", "bool_enable_only"})


@dataclass(frozen=True)
class ParamSpec:
    """One parameter a module declares: its name, param_ops type and description."""

    name: str
    type: str
    description: str = ""

    @property
    def kind(self) -> str:
        """Which field shows it: "int" (a number), "bool" (a checkbox) or "text"."""
        if self.type in INTEGER_TYPES:
            return "int"
        if self.type in BOOL_TYPES:
            return "bool"
        return "text"


def param_specs(modinfo: list[tuple[str, str]]) -> list[ParamSpec]:
    """The parameters named by `parmtype=` entries, in .modinfo order, with their `parm=` text."""
    descriptions: dict[str, str] = {}
    types: dict[str, str] = {}
    for key, value in modinfo:
        name, _, rest = value.partition(":")
        if key == "parm":
            descriptions.setdefault(name, rest)
        elif key == "parmtype":
            types.setdefault(name, rest)
    return [ParamSpec(name, kind, descriptions.get(name, "")) for name, kind in types.items()]


def format_value(spec: ParamSpec, value: object) -> str:
    """The text a field's value becomes on the insmod command line."""
    if spec.kind == "bool" and isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)


def command_args(specs: list[ParamSpec], values: dict[str, object]) -> list[str]:
    """`name=value` words for the parameters that were set, quoted for the shell.

    A value with blanks gets double quotes for the kernel's own parser (kernel/params.c:
    next_arg honours "..."), then shell quoting around the whole word, as a user would type
    `insmod hello.ko whom='"big world"'`.
    """
    words = []
    for spec in specs:
        if spec.name not in values or values[spec.name] is None:
            continue
        text = format_value(spec, values[spec.name])
        if any(ch.isspace() for ch in text):
            text = f'"{text}"'
        words.append(shlex.quote(f"{spec.name}={text}"))
    return words



def param_defaults(path) -> dict[str, str]:
    """Each parameter's value at load time, read from the module's data the way the kernel's
    loader model does (kcourse.kernel.image: struct kernel_param in __param); {} if the file
    cannot be read that far. Arrays are shown comma separated, as sysfs shows them."""
    from kcourse.ui.images import module_image

    image = module_image(path)
    return {p.name: ",".join(p.default) for p in image.params} if image is not None else {}
