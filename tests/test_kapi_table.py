"""docs/kapi.md is what the code declares (regenerate: python -m kcourse.kapi.table)."""

from pathlib import Path

from kcourse.kapi import registry, table

ROOT = Path(__file__).resolve().parents[1]


def test_docs_table_is_current():
    assert (ROOT / "docs" / "kapi.md").read_text() == table.render()


def test_every_function_names_its_kernel_file_and_prototype():
    registry.load_all()
    for name, fn in registry.FUNCTIONS.items():
        assert fn.source.split("/")[0] in ("kernel", "mm", "lib", "fs", "drivers", "arch",
                                           "net", "block", "include", "crypto"), name
        assert name in fn.prototype, name


def test_prototypes_parse_as_c():
    assert registry.parse_prototype("int _printk(const char *fmt, ...)")[1:] == (
        "_printk", (registry.Param("const char *", "fmt"),), True)
    returns, name, params, variadic = registry.parse_prototype(
        "ssize_t simple_read_from_buffer(void *to, size_t count, loff_t *ppos, "
        "const void *from, size_t available)")
    assert (returns, name, len(params), variadic) == ("ssize_t", "simple_read_from_buffer", 5,
                                                      False)
    assert params[1].width_signed == (64, False) and params[2].width_signed == (64, False)
    int_param = registry.Param("int", "x")
    assert int_param.width_signed == (32, True)
