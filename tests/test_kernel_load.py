"""Load/unload scenarios on the simulated kernel, checked against the real kernel.

Expected texts come from real-kernel-lab.md (lines a real 6.1.0-56 kernel printed for the same
kind of module) and from the formats in Debian's linux-source-6.1 (file:line cited).
"""

import os
import re

import pytest
from test_kernel_helpers import ko_bytes, patched, with_crc

from kcourse.kernel import MODULE_INIT_IGNORE_MODVERSIONS, Kernel, KernelErrno, ModuleState
from kcourse.paths import course_module

# real-kernel-lab.md: "hello 16384 0 - Live 0xffffffffc04ba000 (OE)"
PROC_LINE = re.compile(r"^hello 16384 0 - Live 0xffffffffc[0-9a-f]{4}000 \(OE\)$")


def load(k, name, params="", flags=0):
    return k.finit_module(course_module(name), params, flags)


def texts(k):
    return [r.text for r in k.log.records]


def test_hello_like_the_real_kernel():
    k = Kernel(seed=1)
    assert load(k, "hello") == 0
    assert PROC_LINE.match(k.read_file("/proc/modules").rstrip("\n"))
    # real-kernel-lab.md dmesg lines, then hello.c's pr_info
    assert texts(k) == [
        "hello: loading out-of-tree module taints kernel.",
        "hello: module verification failed: signature and/or required key missing - "
        "tainting kernel",
        "hello: hello, world (count=1)",
    ]
    assert k.read_file("/proc/sys/kernel/tainted") == "12288\n"  # O + E, real-kernel-lab.md
    names = [e.name for e in k.list_dir("/sys/module/hello")]
    assert names == ["coresize", "holders", "initsize", "initstate", "notes", "parameters",
                     "refcnt", "sections", "srcversion", "taint", "uevent", "version"]
    sysfs = {a: k.read_file(f"/sys/module/hello/{a}") for a in
             ("refcnt", "initstate", "initsize", "taint", "coresize", "version")}
    assert sysfs == {"refcnt": "0\n", "initstate": "live\n", "initsize": "0\n",
                     "taint": "OE\n", "coresize": "16384\n", "version": "1.0\n"}


def test_levels_of_the_load_messages():
    k = Kernel()
    load(k, "hello")
    # main.c check_modinfo pr_warn (4); load_module pr_notice_once (5); pr_info (6)
    assert [r.level for r in k.log.records] == [4, 5, 6]


def test_second_insmod_is_file_exists_and_changes_nothing():
    k = Kernel()
    load(k, "hello")
    before, lines = k.snapshot(), len(k.log.records)
    with pytest.raises(KernelErrno) as err:
        load(k, "hello")
    assert err.value.errno == 17 and str(err.value) == "File exists"  # real-kernel-lab.md
    assert k.snapshot() == before and len(k.log.records) == lines


def test_sections_are_0400_and_only_allocated_ones():
    k = Kernel()
    load(k, "hello")
    entries = k.list_dir("/sys/module/hello/sections")
    assert all(e.mode & 0o777 == 0o400 for e in entries)
    names = {e.name for e in entries}
    assert ".text" not in names  # empty in hello.ko (real-kernel-lab.md: no .text)
    assert {".modinfo", "__versions", ".comment"}.isdisjoint(names)  # not SHF_ALLOC / dropped
    assert {".init.text", ".exit.text", ".gnu.linkonce.this_module", ".symtab"} <= names
    addr = k.read_file("/sys/module/hello/sections/.gnu.linkonce.this_module")
    assert re.fullmatch(r"0x[0-9a-f]{16}\n", addr) and addr.startswith("0xffffffffc")


def test_parameters_perm_and_values():
    k = Kernel()
    load(k, "hello", "whom=you count=3")
    assert texts(k)[-1] == "hello: hello, you (count=3)"
    modes = {e.name: e.mode & 0o777 for e in k.list_dir("/sys/module/hello/parameters")}
    assert modes == {"count": 0o444, "whom": 0o644}  # hello.c module_param perms
    with pytest.raises(KernelErrno) as err:
        k.write_file("/sys/module/hello/parameters/count", "4\n")
    assert err.value.errno == 13  # real-kernel-lab.md: "Permission denied"
    k.write_file("/sys/module/hello/parameters/whom", "kernel")
    assert k.read_file("/sys/module/hello/parameters/whom") == "kernel\n"
    k.delete_module("hello")
    assert texts(k)[-1] == "hello: goodbye, kernel"


def test_unknown_parameter_is_ignored_invalid_one_fails():
    k = Kernel()
    load(k, "hello", "colour=blue")
    # kernel/module/main.c:2704 unknown_module_param_cb
    assert "hello: unknown parameter 'colour' ignored" in texts(k)
    k.delete_module("hello")
    before = k.snapshot()
    with pytest.raises(KernelErrno) as err:
        load(k, "hello", "count=abc")
    assert err.value.errno == 22
    assert texts(k)[-1] == "hello: `abc' invalid for parameter `count'"  # params.c:196
    assert k.snapshot() == before and k.find_module("hello") is None


def test_provider_consumer_holders_and_used_by():
    k = Kernel()
    load(k, "provider")
    load(k, "consumer")
    lines = k.read_file("/proc/modules").splitlines()
    # real-kernel-lab.md: "modA 16384 1 modB, Live 0x... (OE)"; newest first
    assert lines[0].startswith("consumer 16384 0 - Live ")
    assert re.match(r"provider 16384 1 consumer, Live 0x[0-9a-f]{16} \(OE\)$", lines[1])
    holders = k.list_dir("/sys/module/provider/holders")
    assert [(h.name, h.kind, h.target) for h in holders] == [("consumer", "link",
                                                              "../../consumer")]
    assert texts(k)[-3:] == ["consumer: provider_add(2, 3) = 5", "consumer: provider_secret() = 42",
                             "provider: hello, consumer, from namespace KCOURSE"]
    with pytest.raises(KernelErrno) as err:
        k.delete_module("provider")
    assert err.value.errno == 11  # main.c delete_module: -EWOULDBLOCK
    k.delete_module("consumer")
    assert k.read_file("/sys/module/provider/refcnt") == "0\n"
    k.delete_module("provider")
    assert k.read_file("/proc/modules") == ""


def test_unknown_symbol_err_minus_2():
    k = Kernel()
    with pytest.raises(KernelErrno) as err:
        load(k, "consumer")
    assert err.value.errno == 2
    # real-kernel-lab.md: "modB: Unknown symbol modA_add (err -2)"
    assert "consumer: Unknown symbol provider_add (err -2)" in texts(k)
    assert k.modules == []


def test_gpl_only_symbol_for_non_gpl_module():
    k = Kernel()
    load(k, "provider")
    bad = patched("consumer", b"license=GPL\0", b"license=MIT\0")
    with pytest.raises(KernelErrno) as err:
        k.finit_module(bad)
    assert err.value.errno == 2
    got = texts(k)
    assert "consumer: module license 'MIT' taints kernel." in got  # main.c:1537 set_license
    assert "consumer: Unknown symbol provider_secret (err -2)" in got
    assert "consumer: Unknown symbol provider_add (err -2)" not in got  # plain export is fine
    assert k.read_file("/sys/module/provider/refcnt") == "0\n"  # ref dropped on unwind


def test_namespace_not_imported():
    k = Kernel()
    load(k, "provider")
    bad = patched("consumer", b"import_ns=KCOURSE", b"import_ns=KCOURSX")
    with pytest.raises(KernelErrno) as err:
        k.finit_module(bad)
    assert err.value.errno == 22
    got = texts(k)
    # main.c:1028 verify_namespace_is_imported, then simplify_symbols' line with -EINVAL
    i = got.index("consumer: module uses symbol (provider_ns_hello) from namespace KCOURSE, "
                  "but does not import it.")
    assert got[i + 1] == "consumer: Unknown symbol provider_ns_hello (err -22)"


def test_symbol_crc_mismatch():
    k = Kernel()
    with pytest.raises(KernelErrno) as err:
        k.finit_module(with_crc("hello", "_printk", 0x12345678))
    assert err.value.errno == 22
    got = texts(k)
    i = got.index("hello: disagrees about version of symbol _printk")  # version.c:53
    assert got[i + 1] == "hello: Unknown symbol _printk (err -22)"


def test_module_layout_crc_mismatch():
    k = Kernel()
    with pytest.raises(KernelErrno) as err:
        k.finit_module(with_crc("hello", "module_layout", 0xDEADBEEF))
    assert err.value.errno == 8
    assert texts(k) == ["hello: disagrees about version of symbol module_layout"]  # real line
    assert k.tainted == 0  # check_modstruct_version runs before any taint


def test_vermagic_release_ignored_with_crcs_but_not_the_rest():
    k = Kernel()
    release = k.vermagic.split(" ")[0].encode()
    other = release.replace(b"6.1.0-", b"6.1.0-9")[: len(release)]
    other = other.ljust(len(release), b"9")
    assert k.finit_module(patched("hello", release + b" SMP", other + b" SMP")) == 0
    k.delete_module("hello")
    bad = patched("hello", b"SMP preempt mod_unload", b"SMP PREEMPT mod_unload")
    with pytest.raises(KernelErrno) as err:
        k.finit_module(bad)
    assert err.value.errno == 8
    magic = k.vermagic.replace("preempt", "PREEMPT")
    assert texts(k)[-1] == f"hello: version magic '{magic}' should be '{k.vermagic}'"


def test_force_ignore_modversions_taints_f():
    k = Kernel()
    load(k, "hello", flags=MODULE_INIT_IGNORE_MODVERSIONS)
    got = texts(k)
    # version.c check_version -> try_to_force_load(mod, "module_layout"): main.c:997
    assert got[:2] == ["hello: module_layout: kernel tainted.",
                       "Disabling lock debugging due to kernel taint"]
    assert k.read_file("/sys/module/hello/taint") == "FOE\n"  # panic.c taint_flags order


def test_failinit_is_unwound_and_prints_only_its_own_line():
    k = Kernel()
    with pytest.raises(KernelErrno) as err:
        load(k, "failinit")
    assert err.value.errno == 19
    assert texts(k)[-1] == "failinit: init runs, then returns -ENODEV"
    assert k.modules == [] and not k.exists("/sys/module/failinit")
    states = [e.detail for e in k.events if e.kind == "state"]
    assert states == [(None, "UNFORMED"), ("UNFORMED", "COMING"), ("COMING", "GOING"),
                      ("GOING", "UNFORMED"), ("UNFORMED", None)]


def test_noexit_is_permanent_until_forced():
    k = Kernel()
    load(k, "noexit")
    assert re.match(r"noexit \d+ 0 \[permanent\], Live ", k.read_file("/proc/modules"))
    with pytest.raises(KernelErrno) as err:
        k.delete_module("noexit")
    assert err.value.errno == 16
    assert k.delete_module("noexit", os.O_NONBLOCK | os.O_TRUNC) == 0
    assert k.tainted & 8  # TAINT_FORCED_RMMOD, 'R'


def test_open_device_holds_a_reference():
    k = Kernel()
    load(k, "kcdev")
    fd = k.open("/dev/kcdev")
    assert k.read_file("/sys/module/kcdev/refcnt") == "1\n"
    assert texts(k)[-1] == "kcdev: open, refcnt=1"
    before = k.snapshot()
    with pytest.raises(KernelErrno) as err:
        k.delete_module("kcdev")
    assert err.value.errno == 11 and k.snapshot() == before
    k.close(fd)
    assert k.read_file("/sys/module/kcdev/refcnt") == "0\n"
    k.delete_module("kcdev")
    assert not k.exists("/dev/kcdev")


def test_proprietary_taint_messages():
    k = Kernel()
    load(k, "proprietary")
    got = texts(k)
    assert got[:2] == ["proprietary: loading out-of-tree module taints kernel.",
                       "proprietary: module license 'Proprietary' taints kernel."]
    assert got[2] == "Disabling lock debugging due to kernel taint"  # panic.c:544
    assert k.read_file("/proc/modules").rstrip().endswith("(POE)")
    assert int(k.read_file("/proc/sys/kernel/tainted")) == 1 + 4096 + 8192


def test_signature_enforced_rejects_unsigned():
    k = Kernel(sig_enforce=True)
    with pytest.raises(KernelErrno) as err:
        load(k, "hello")
    assert err.value.errno == 129  # "Key was rejected by service", real-kernel-lab.md
    assert texts(k) == ["Loading of unsigned module is rejected"]  # signing.c:181


def test_not_an_elf_file():
    k = Kernel()
    with pytest.raises(KernelErrno) as err:
        k.finit_module(b"this is not a module\n" * 4)
    assert err.value.errno == 8
    assert texts(k) == ["Invalid ELF header magic: != \x7fELF"]  # main.c:1680


def test_memory_ledger_sees_the_leak():
    k = Kernel()
    load(k, "leaker")
    k.delete_module("leaker")
    assert k.memory.held_by("leaker") > 0
    load(k, "noleak")
    k.delete_module("noleak")
    assert k.memory.held_by("noleak") == 0


def test_kallsyms_module_lines():
    k = Kernel()
    load(k, "provider")
    lines = k.read_file("/proc/kallsyms").splitlines()
    # kallsyms.c s_show "%px %c %s\t[%s]"; uppercase = in mod->syms (the non-GPL table)
    assert all(re.fullmatch(r"[0-9a-f]{16} [a-zA-Z?] \S+\t\[provider\]", ln) for ln in lines)
    kinds = {ln.split()[2]: ln.split()[1] for ln in lines}
    assert kinds["provider_add"] == "T"
    assert kinds["provider_secret"] == "t"


def test_states_during_init_are_visible_to_init():
    seen = {}

    class Peek:
        def init(self, ctx):
            seen["proc"] = ctx.kernel.read_file("/proc/modules")
            seen["state"] = ctx.module.state
            return 0

    k = Kernel(behaviors={"hello": Peek()})
    load(k, "hello")
    assert seen["state"] == ModuleState.COMING
    # procfs.c m_show: "Loading", module_flags adds '+' while COMING; the size still counts
    # init_layout: .init.text+.init.data (one page each pass, 8192) plus the full .symtab,
    # .strtab and mod_kallsyms (kallsyms.c layout_symtab) = 12288
    assert re.match(r"hello 28672 1 - Loading 0x[0-9a-f]{16} \(OE\+\)\n", seen["proc"])


def test_bytes_and_path_give_the_same_module():
    a, b = Kernel(seed=3), Kernel(seed=3)
    load(a, "hello")
    b.finit_module(ko_bytes("hello"))
    assert a.read_file("/proc/modules") == b.read_file("/proc/modules")


# ------------------------------------------------------------------------ bad arguments
def test_params_end_at_the_first_nul():
    # kernel/module/main.c load_module: mod->args = strndup_user(uargs, ~0UL >> 1) copies a
    # C string, so "whom=a\0b" is "whom=a"; param_get_charp shows it (kernel/params.c)
    k = Kernel(seed=0)
    assert load(k, "hello", "whom=a\0count=9") == 0
    assert k.read_file("/sys/module/hello/parameters/whom") == "a\n"
    assert k.read_file("/sys/module/hello/parameters/count") == "1\n"  # hello.c default


@pytest.mark.parametrize("params, ok", [("é" * 512, True), ("é" * 512 + "x", False),
                                        ("x" * 1024, True), ("x" * 1025, False)])
def test_charp_limit_is_1024_bytes(params, ok):
    # kernel/params.c param_set_charp: `if (strlen(val) > 1024) { pr_err("%s: string
    # parameter too long\n"); return -ENOSPC; }` - strlen counts bytes ('é' is 2 in UTF-8)
    k = Kernel(seed=0)
    if ok:
        assert load(k, "hello", "whom=" + params) == 0
        return
    before = k.snapshot()
    with pytest.raises(KernelErrno) as caught:
        load(k, "hello", "whom=" + params)
    assert caught.value.errno == 28  # ENOSPC
    assert (3, "whom: string parameter too long") in [(r.level, r.text) for r in k.log.records]
    assert k.snapshot() == before


@pytest.mark.parametrize("call", [
    lambda k: k.finit_module(course_module("hello"), 5),
    lambda k: k.finit_module(course_module("hello"), None),
    lambda k: k.finit_module(course_module("hello"), b"whom=x"),
    lambda k: k.delete_module(None),
    lambda k: k.delete_module(5),
    lambda k: k.read_file(None),
    lambda k: k.write_file(None, "1"),
    lambda k: k.write_file("/sys/module/hello/parameters/whom", None),
    lambda k: k.list_dir(None),
    lambda k: k.open(None),
])
def test_a_bad_user_pointer_is_efault(call):
    # A string argument the kernel cannot copy from user space fails with -EFAULT:
    # strndup_user (finit_module's uargs), strncpy_from_user (delete_module's name,
    # kernel/module/main.c), getname (open/openat), copy_from_user (write)
    k = Kernel(seed=0)
    assert load(k, "hello") == 0
    before = k.snapshot()
    with pytest.raises(KernelErrno) as caught:
        call(k)
    assert caught.value.errno == 14  # EFAULT
    assert "\n" not in str(caught.value)
    assert k.snapshot() == before


def test_delete_module_name_ends_at_a_nul():
    # strncpy_from_user stops at the NUL: "hello\0junk" names hello
    k = Kernel(seed=0)
    load(k, "hello")
    assert k.delete_module("hello\0junk") == 0
    assert k.find_module("hello") is None


# ------------------------------------------------------------------- failures mid-load
# load_module (kernel/module/main.c) unwinds every step through its error labels (free_arch_
# cleanup ... free_module); a simulator failure (any Python exception) must do the same, so
# no exception leaves a module half-loaded (stuck UNFORMED/COMING, the next load EBUSY).
STEPS = ["module_sig_check", "elf_validity_check", "setup_load_info", "check_modstruct_version",
         "layout_and_allocate", "add_unformed_module", "module_unload_init",
         "check_module_license_and_versions", "setup_modinfo", "simplify_symbols",
         "post_relocation", "complete_formation", "parse_args", "mod_sysfs_setup",
         "do_init_module"]
CALLS = [  # (kcourse.kernel submodule, what to make fail, a module whose load calls it)
    ("loader", "Loader.check_modinfo", "hello"), ("loader", "Loader.simplify_symbols", "hello"),
    ("loader", "Loader.check_module_license_and_versions", "hello"),
    ("loader", "Loader._place_sections", "hello"), ("loader", "Loader.ref_module", "consumer"),
    ("loader", "parse_args", "hello"), ("loader", "Param.from_spec", "hello"),
    ("kernel", "Kernel.link_module", "hello"), ("kernel", "Kernel.sysfs_add", "hello"),
    ("kernel", "Kernel.run_init", "consumer"), ("symbols", "KernelSymbols.add_module", "hello"),
    ("vmarea", "ModuleArea.alloc_module", "hello")]


class Injected(Exception):
    pass


def _loaded_with_consumer():
    k = Kernel(seed=3)
    assert load(k, "provider") == 0
    return k


def _check_failure_changes_nothing(k, name):
    before = k.snapshot()
    with pytest.raises(Injected):
        load(k, name)
    assert k.snapshot() == before


def _check_loads_after(k, name):
    assert load(k, name) == 0  # not EBUSY/EEXIST: nothing was left behind
    assert k.delete_module(name) == 0


@pytest.mark.parametrize("step", STEPS)
def test_a_failure_at_any_load_step_unwinds(step, monkeypatch):
    from kcourse.kernel import loader

    trace = loader.Loader.trace

    def failing(self, name):
        trace(self, name)
        if name == step:
            raise Injected(step)

    k = _loaded_with_consumer()
    with monkeypatch.context() as m:
        m.setattr(loader.Loader, "trace", failing)
        _check_failure_changes_nothing(k, "consumer")  # holds a reference on provider
        _check_failure_changes_nothing(k, "hello")
    assert k.find_module("provider").refcnt == _loaded_with_consumer().find_module(
        "provider").refcnt
    _check_loads_after(k, "consumer")
    _check_loads_after(k, "hello")


@pytest.mark.parametrize("where, attr, name", CALLS)
def test_a_failing_call_inside_load_unwinds(where, attr, name, monkeypatch):
    import importlib

    module = importlib.import_module(f"kcourse.kernel.{where}")
    owner_name, _, fn_name = attr.rpartition(".")
    owner = getattr(module, owner_name) if owner_name else module

    def boom(*args, **kwargs):
        raise Injected(attr)

    k = _loaded_with_consumer()
    with monkeypatch.context() as m:
        m.setattr(owner, fn_name, boom)
        _check_failure_changes_nothing(k, name)
    _check_loads_after(k, name)
