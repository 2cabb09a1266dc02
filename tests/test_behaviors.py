"""Every line a course module prints when its code runs is one its C source prints.

The formats are read from data/modules/<name>/<name>.c; the lines come from running the
module's machine code (kcourse.machine), each module exercised as a learner would: loaded,
its device read and written, unloaded.
"""

import re

import pytest

from conftest import course_module_names
from kcourse.kernel import Kernel, KernelErrno, TaskKilled
from kcourse.paths import course_module, modules_dir  # noqa: F401

KERNEL_LINES = re.compile(r"^\w+: (loading out-of-tree module|module verification failed|"
                          r"module license)")
CONV = {"s": ".*", "d": "-?[0-9]+", "i": "-?[0-9]+", "u": "[0-9]+", "lu": "[0-9]+",
        "02x": "[0-9a-f]{2}", "x": "[0-9a-f]+"}


def c_formats(name: str) -> list[re.Pattern]:
    """pr_<level>("...") format strings of a C file as regexes, with the pr_fmt prefix."""
    src = (modules_dir() / name / f"{name}.c").read_text()
    out = []
    for fmt in re.findall(r'pr_(?:info|err|warn|notice|debug|emerg|alert|crit)\(\s*"((?:[^"\\]|'
                          r'\\.)*)"', src):
        fmt = fmt.encode().decode("unicode_escape").rstrip("\n")
        parts = re.split(r"(%(?:02x|lu|[sdiux]))", fmt)
        rx = "".join(CONV[p[1:]] if p.startswith("%") and p[1:] in CONV else re.escape(p)
                     for p in parts)
        out.append(re.compile(f"{name}: {rx}$"))
    return out


def exercise(k: Kernel, name: str) -> None:
    try:
        k.finit_module(course_module(name))
    except TaskKilled:
        return
    except KernelErrno:
        return
    for dev in list(k.devices):
        fd = k.open(f"/dev/{dev}")
        try:
            k.read_file(f"/dev/{dev}")
            k.write_file(f"/dev/{dev}", "1\n")
        except (KernelErrno, TaskKilled):
            pass
        if not k.panicked:
            k.close(fd)
    if not k.panicked and k.find_module(name) is not None:
        try:
            k.delete_module(name)
        except KernelErrno:
            pass


@pytest.mark.parametrize("name", [n for n in course_module_names() if n != "gplviolator"])
def test_printed_lines_come_from_the_c_source(name):
    if not course_module(name).exists():
        pytest.skip(f"{name}.ko not built")
    k = Kernel()
    if name == "consumer":
        k.finit_module(course_module("provider"))
    start = len(k.log.records)
    exercise(k, name)
    formats = c_formats(name) + (c_formats("provider") if name == "consumer" else [])
    printed = [r.text for r in k.log.records[start:] if r.text.startswith(f"{name}: ") or
               (name == "consumer" and r.text.startswith("provider: "))]
    printed = [t for t in printed if not KERNEL_LINES.match(t)]
    assert printed, f"{name} printed nothing"
    for text in printed:
        assert any(f.match(text) for f in formats), (name, text)


def test_no_course_module_has_a_python_stand_in():
    """What a course module does comes from its code, whatever it is called (a learner's
    hello.ko is not the course's): kcourse.behaviors has no table of names any more."""
    from kcourse import behaviors

    assert not hasattr(behaviors, "lookup")
    k = Kernel()
    k.finit_module(course_module("hello"))
    from kcourse.machine.files import CodeBehavior

    assert isinstance(k._behavior(k.find_module("hello")), CodeBehavior)
