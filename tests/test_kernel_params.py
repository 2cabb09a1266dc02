"""Module parameter parsing against the rules of kernel/params.c, lib/kstrtox.c, lib/cmdline.c
(Debian linux-source-6.1)."""

import pytest

from kcourse.kernel.params import (
    ERANGE,
    Param,
    format_value,
    kstrtobool,
    kstrtoll,
    kstrtoull,
    next_arg,
    parse_args,
    set_value,
)


@pytest.mark.parametrize("text,value", [
    ("10", 10), ("0x1f", 31), ("0X1F", 31), ("017", 15), ("0", 0), ("+5", 5), ("7\n", 7),
])
def test_kstrtoull_bases(text, value):
    # kstrtox.c _parse_integer_fixup_radix: 0x -> 16, leading 0 -> 8; one trailing \n allowed
    assert kstrtoull(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1 2", "08", "-1", "0x", "5\n\n"])
def test_kstrtoull_rejects(text):
    with pytest.raises(ValueError) as err:
        kstrtoull(text)
    assert err.value.args[0] == 22


def test_ranges_are_erange():
    with pytest.raises(ValueError) as err:
        set_value("int", "2147483648")  # kstrtoint: tmp != (int)tmp -> -ERANGE
    assert err.value.args[0] == ERANGE
    assert set_value("int", "-2147483648") == -(1 << 31)
    with pytest.raises(ValueError):
        set_value("byte", "256")
    with pytest.raises(ValueError):
        set_value("uint", "-1")  # kstrtou*: no minus sign
    assert set_value("short", "-0x10") == -16
    assert kstrtoll("-9223372036854775808") == -(1 << 63)


@pytest.mark.parametrize("text,value", [("y", True), ("Y", True), ("1", True), ("on", True),
                                        ("t", True), ("n", False), ("0", False), ("off", False),
                                        ("Fx", False)])
def test_kstrtobool(text, value):
    assert kstrtobool(text) is value


def test_bool_without_value_means_yes_and_invbool_needs_one():
    assert set_value("bool", None) is True  # param_set_bool: "No equals means set"
    with pytest.raises(ValueError):
        set_value("invbool", None)  # param_ops_invbool has no KERNEL_PARAM_OPS_FL_NOARG
    assert set_value("invbool", "y") is False


def test_formats():
    # params.c STANDARD_PARAM_DEF formats; hexint "%#08x" (vsprintf: 0x counts in the width)
    assert format_value("hexint", 16) == "0x000010"
    assert format_value("hexint", 0) == "0x000000"
    assert format_value("bool", True) == "Y" and format_value("invbool", True) == "N"
    assert format_value("charp", None) == "(null)"


def test_next_arg_quotes_and_spaces():
    # lib/cmdline.c next_arg
    assert next_arg('whom="big world" count=3') == ("whom", "big world", "count=3")
    assert next_arg("flag   rest") == ("flag", None, "rest")
    assert next_arg('"a=b c"') == ("a", "b c", "")
    assert next_arg("x=") == ("x", "", "")


def test_array_max_count():
    p = Param("arr", "array of int", 0o444, max_count=3)
    p.set("1,2,3")
    assert p.show() == "1,2,3\n"
    with pytest.raises(ValueError):
        p.set("1,2,3,4")  # param_array: "can only take 3 arguments" -> -EINVAL


def test_parse_args_messages_and_last_error():
    lines = []
    params = {"count": Param("count", "int", 0o444, 1),
              "whom": Param("whom", "charp", 0o644, "world"),
              "debug-level": Param("debug_level", "uint", 0, 0)}
    err = parse_args("hello", "count=x colour=1 whom=me debug-level=2 count=7", params,
                     lines.append)
    assert err == 22
    assert lines == ["\0013hello: `x' invalid for parameter `count'\n",
                     "\0014hello: unknown parameter 'colour' ignored\n"]
    assert params["whom"].value == "me" and params["count"].value == 7  # parsing went on
    assert params["debug-level"].value == 2  # parameq: '-' and '_' are the same


def test_param_without_value_is_einval():
    lines = []
    params = {"count": Param("count", "int", 0o444, 1)}
    assert parse_args("hello", "count", params, lines.append) == 22
    assert lines == ["\0013hello: `' invalid for parameter `count'\n"]  # val ?: ""


def test_a_nul_ends_the_string():
    # load_module copies uargs with strndup_user (kernel/module/main.c): a C string, so
    # next_arg/parse_args never see what follows the first NUL
    assert next_arg("a=b\0c d") == ("a", "b", "")
    lines = []
    params = {"count": Param("count", "int", 0o444, 1)}
    assert parse_args("hello", "count=5\0count=x", params, lines.append) == 0
    assert params["count"].value == 5 and lines == []


def test_charp_and_string_lengths_are_bytes():
    # kernel/params.c param_set_charp: strlen(val) > 1024 -> -ENOSPC;
    # param_set_copystring: strlen(val)+1 > maxlen -> -ENOSPC. strlen counts bytes.
    p = Param("whom", "charp", 0o644)
    p.set("é" * 512)
    with pytest.raises(ValueError):
        p.set("é" * 512 + "x")
    s = Param("name", "string", 0o644, maxlen=4)
    s.set("aé")  # 3 bytes + NUL
    with pytest.raises(ValueError):
        s.set("éé")  # 4 bytes + NUL
