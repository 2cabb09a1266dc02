"""Parameter fields: the specs against kmod's modinfo, and the words the panel types against
what bash, kmod's insmod and the kernel's parser make of them."""

import shlex
import subprocess

import pytest

from conftest import course_module_names, need_tool
from kcourse.elf.kofile import KoFile
from kcourse.kernel.params import kstrtobool, next_arg
from kcourse.paths import course_module
from kcourse.ui.params import ParamSpec, command_args, param_specs


@pytest.mark.parametrize("name", course_module_names())
def test_specs_are_modinfos_parmtypes(name):
    path = course_module(name)
    out = subprocess.run([need_tool("modinfo"), "-F", "parmtype", str(path)],
                         capture_output=True, text=True, check=True).stdout
    expected = [tuple(line.split(":", 1)) for line in out.splitlines()]
    specs = param_specs(KoFile(path).modinfo)
    assert sorted((s.name, s.type) for s in specs) == sorted(expected)


def test_field_kinds_follow_the_param_ops():
    # include/linux/moduleparam.h: param_ops_<type>; module_param_array: "array of <type>"
    kinds = {t: ParamSpec("p", t).kind for t in
             ("int", "uint", "byte", "ullong", "bool", "invbool", "charp", "string",
              "array of int", "hexint")}
    assert kinds == {"int": "int", "uint": "int", "byte": "int", "ullong": "int",
                     "bool": "bool", "invbool": "bool", "charp": "text", "string": "text",
                     "array of int": "text", "hexint": "text"}


def kernel_args(words: list[str]) -> list[tuple[str, str | None]]:
    """bash splits the line (shlex), kmod's insmod joins argv[2:] with spaces into one
    options string (tools/insmod.c), and the kernel's parse_args walks it with next_arg
    (lib/cmdline.c)."""
    args = " ".join(shlex.split(" ".join(words)))
    out = []
    while args:
        param, val, args = next_arg(args)
        out.append((param, val))
    return out


def test_values_reach_the_kernel_parser_intact():
    specs = [ParamSpec("whom", "charp"), ParamSpec("count", "int"), ParamSpec("flag", "bool"),
             ParamSpec("ids", "array of int")]
    words = command_args(specs, {"whom": "big world", "count": -3, "flag": True,
                                 "ids": "1,2,3"})
    parsed = dict(kernel_args(words))
    assert parsed == {"whom": "big world", "count": "-3", "flag": "Y", "ids": "1,2,3"}
    assert kstrtobool(parsed["flag"]) is True  # lib/kstrtox.c: 'Y' is true


def test_unset_parameters_are_not_passed():
    specs = [ParamSpec("whom", "charp"), ParamSpec("count", "int")]
    assert command_args(specs, {"count": None}) == []
    assert command_args(specs, {"whom": "x"}) == ["whom=x"]
