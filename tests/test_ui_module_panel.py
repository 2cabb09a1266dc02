"""ModulePanel without a browser: click, set values, check the kernel and what is shown.

References: the course modules' C sources (what they print, their parameters and defaults),
kmod's own messages (tools/insmod.c, tools/rmmod.c; glibc strerror via os.strerror), kmod's
modinfo for the parameter types, and kernel/module/main.c for the state changes
(notes/kernel-facts.md §2, §3). The lsmod table must show what `lsmod` prints on the same
kernel (the shell's lsmod is itself tested against kmod).
"""

import errno
import os
import re
import shutil
import subprocess

import ipywidgets as W
import pytest

from conftest import need_tool
from kcourse.kernel import Kernel
from kcourse.paths import course_module
from kcourse.shell import Shell
from kcourse.ui import ModulePanel
from kcourse.ui.render import parse_lsmod


@pytest.fixture
def kernel():
    return Kernel(seed=0)


@pytest.fixture
def panel(kernel):
    return ModulePanel(kernel, "hello")


def table_rows(html: str) -> list[list[str]]:
    rows = []
    for tr in re.findall(r"<tr data-key=[^>]*>(.*?)</tr>", html):
        rows.append([re.sub(r"<[^>]+>", "", td) for td in re.findall(r"<td[^>]*>.*?</td>", tr)])
    return rows


def sysfs(panel) -> dict[str, str]:
    return {row[0]: row[1] for row in table_rows(panel.sysfs_view.value)}


def test_insmod_loads_and_every_view_follows(kernel, panel):
    assert "no modules loaded" in panel.lsmod_view.value
    panel.buttons["insmod"].click()
    assert kernel.find_module("hello") is not None
    # the table is lsmod's output on this kernel
    lsmod = Shell(kernel).run("lsmod").stdout
    assert table_rows(panel.lsmod_view.value) == parse_lsmod(lsmod)
    assert 'data-key="hello"' in panel.lsmod_view.value
    # hello.c: pr_info("hello, %s (count=%d)\n", whom, count) with whom="world", count=1
    assert "hello: hello, world (count=1)" in panel.dmesg_view.value
    # main.c: add_unformed_module -> complete_formation -> do_init_module (kernel-facts §2)
    assert panel.model.path_taken == (None, "UNFORMED", "COMING", "LIVE")
    assert 'data-state="LIVE"' in panel.state_view.value
    shown = sysfs(panel)
    assert shown["initstate"] == "live"  # main.c show_initstate
    assert shown["refcnt"] == "0"
    assert shown["parameters/count"] == "1" and shown["parameters/whom"] == "world"
    assert "[rc=0]" in panel.message.value


def test_refused_insmod_shows_kmods_error_and_changes_nothing(kernel, panel):
    panel.buttons["insmod"].click()
    before = kernel.snapshot()
    views = (panel.lsmod_view.value, panel.sysfs_view.value)
    panel.buttons["insmod"].click()
    # kmod tools/insmod.c: ERR("could not insert module %s: %s\n", filename, mod_strerror(-err))
    expected = f"insmod: ERROR: could not insert module hello/hello.ko: {os.strerror(errno.EEXIST)}"
    assert expected in panel.message.value
    assert "[rc=1]" in panel.message.value
    assert kernel.snapshot() == before
    assert (panel.lsmod_view.value, panel.sysfs_view.value) == views
    assert panel.model.path_taken == ()


def test_rmmod_unloads_and_rmmod_again_is_refused(kernel, panel):
    panel.buttons["insmod"].click()
    panel.buttons["rmmod"].click()
    assert kernel.find_module("hello") is None
    assert 'data-key="hello"' not in panel.lsmod_view.value
    assert "hello: goodbye, world" in panel.dmesg_view.value  # hello.c hello_exit
    # delete_module: try_stop_module -> GOING; free_module -> UNFORMED, then off the list
    assert panel.model.path_taken == ("LIVE", "GOING", "UNFORMED", None)
    assert 'data-state="none"' in panel.state_view.value
    before = kernel.snapshot()
    panel.buttons["rmmod"].click()
    # kmod tools/rmmod.c: ERR("Module %s is not currently loaded\n", ...)
    assert "rmmod: ERROR: Module hello is not currently loaded" in panel.message.value
    assert kernel.snapshot() == before


def test_parameter_fields_are_typed_from_parmtype_with_the_sources_defaults(panel):
    out = subprocess.run([need_tool("modinfo"), "-F", "parmtype", str(course_module("hello"))],
                         capture_output=True, text=True, check=True).stdout
    types = dict(line.split(":", 1) for line in out.splitlines())
    assert types == {"count": "int", "whom": "charp"}
    assert set(panel.param_fields) == set(types)
    assert isinstance(panel.param_fields["count"], W.IntText)
    assert isinstance(panel.param_fields["whom"], W.Text)
    # hello.c: static int count = 1; static char *whom = "world";
    assert panel.param_fields["count"].value == 1
    assert panel.param_fields["whom"].value == "world"
    assert not any(box.value for box in panel.param_enabled.values())


def test_setting_parameters_reaches_the_kernel(kernel, panel):
    panel.param_fields["count"].value = 3
    panel.param_fields["whom"].value = "big world"
    assert panel.param_enabled["count"].value and panel.param_enabled["whom"].value
    panel.buttons["insmod"].click()
    assert "insmod hello/hello.ko count=3 " in panel.message.value
    assert "hello: hello, big world (count=3)" in panel.dmesg_view.value
    shown = sysfs(panel)
    assert shown["parameters/count"] == "3" and shown["parameters/whom"] == "big world"
    panel.buttons["rmmod"].click()
    panel.param_enabled["whom"].value = False  # back to the default
    panel.buttons["insmod"].click()
    assert "hello: hello, world (count=3)" in panel.dmesg_view.value


def test_a_wrong_parameter_value_is_the_kernels_refusal(kernel, panel):
    before = kernel.snapshot()
    panel.param_fields["count"].value = 2**40  # does not fit in an int
    panel.buttons["insmod"].click()
    assert "insmod: ERROR: could not insert module hello/hello.ko" in panel.message.value
    assert kernel.find_module("hello") is None
    assert kernel.snapshot() == before


def test_open_file_pins_the_module_and_the_chart_follows(kernel, panel):
    panel.module_picker.value = "kcdev"
    assert panel.model.name == "kcdev" and panel.param_fields == {}
    panel.buttons["insmod"].click()
    panel.buttons["open"].click()
    assert "exec 3&lt;/dev/kcdev" in panel.message.value
    assert "kcdev: open, refcnt=1" in panel.dmesg_view.value  # kcdev.c kcdev_open
    assert sysfs(panel)["refcnt"] == "1"  # fops_get -> try_module_get (kernel-facts §3)
    before = kernel.snapshot()
    panel.buttons["rmmod"].click()
    # kmod tools/rmmod.c check_module_inuse; kcdev.c's header comment
    assert "rmmod: ERROR: Module kcdev is in use" in panel.message.value
    assert kernel.snapshot() == before
    panel.buttons["close"].click()
    assert "kcdev: release" in panel.dmesg_view.value
    assert sysfs(panel)["refcnt"] == "0"
    _modules, series = panel.model.refcount_window()
    assert series["kcdev"][-3:] == [0, 1, 0]
    assert 'data-name="kcdev"' in panel.refcount_chart.value
    panel.buttons["rmmod"].click()
    assert kernel.find_module("kcdev") is None


def test_refcount_chart_grows_with_events(kernel, panel):
    lengths = []
    for action in ("insmod", "rmmod", "insmod"):
        panel.buttons[action].click()
        _modules, series = panel.model.refcount_window()
        lengths.append(len(series["hello"]))
    assert lengths[0] < lengths[1] < lengths[2]
    # while being set up the module holds MODULE_REF_BASE + 1 (main.c module_unload_init)
    assert 1 in series["hello"] and series["hello"][-1] == 0


def test_init_failure_goes_coming_going_and_leaves_nothing(kernel, panel):
    panel.module_picker.value = "failinit"
    before = kernel.snapshot()
    panel.buttons["insmod"].click()
    # failinit.c: return -ENODEV; insmod prints strerror(ENODEV)
    assert (f"insmod: ERROR: could not insert module failinit/failinit.ko: "
            f"{os.strerror(errno.ENODEV)}") in panel.message.value
    assert "failinit: init runs, then returns -ENODEV" in panel.dmesg_view.value
    assert panel.model.path_taken == (None, "UNFORMED", "COMING", "GOING", "UNFORMED", None)
    assert kernel.snapshot() == before


def test_modprobe_and_modprobe_r(kernel, panel):
    panel.buttons["modprobe"].click()
    assert "$ modprobe hello" in panel.message.value
    assert kernel.find_module("hello") is not None
    panel.buttons["modprobe -r"].click()
    assert kernel.find_module("hello") is None


def test_rmmod_f_forces_past_an_open_file(kernel, panel):
    panel.module_picker.value = "kcdev"
    panel.buttons["insmod"].click()
    panel.buttons["open"].click()
    panel.buttons["rmmod -f"].click()
    # CONFIG_MODULE_FORCE_UNLOAD=y in Debian: O_TRUNC skips the refcount check and taints R
    assert kernel.find_module("kcdev") is None
    tainted = int(kernel.read_file("/proc/sys/kernel/tainted"))
    assert tainted & 1 << 3  # TAINT_FORCED_RMMOD (include/linux/panic.h)


def test_any_ko_path_and_a_bad_choice(kernel, panel, tmp_path):
    copy = tmp_path / "copy.ko"
    shutil.copy(course_module("hello"), copy)
    panel.module_picker.value = str(copy)
    assert panel.model.path == copy and panel.model.name == "hello"
    panel.buttons["insmod"].click()
    assert f"$ insmod {copy}" in panel.message.value
    assert kernel.find_module("hello") is not None
    panel.module_picker.value = "no-such-module"
    assert "kc-error" in panel.message.value and "no-such-module" in panel.message.value
    assert panel.model.path == copy


class RunOnly:
    """A backend that only runs lines (as the real-kernel lab does): no kernel object."""

    def __init__(self, shell):
        self._shell = shell

    def run(self, line):
        return self._shell.run(line)


def test_a_backend_without_a_kernel_object(kernel):
    panel = ModulePanel(RunOnly(Shell(kernel)), "hello")
    assert panel.model.backend.kernel is None
    panel.buttons["insmod"].click()
    assert kernel.find_module("hello") is not None
    assert 'data-key="hello"' in panel.lsmod_view.value
    assert sysfs(panel)["initstate"] == "live"
    assert "hello: hello, world (count=1)" in panel.dmesg_view.value
    assert 'data-state="LIVE"' in panel.state_view.value
    panel.module_picker.value = "kcdev"
    panel.buttons["insmod"].click()
    panel.buttons["open"].click()
    _modules, series = panel.model.refcount_window()
    assert series["kcdev"][-1] == 1
    panel.buttons["close"].click()
    _modules, series = panel.model.refcount_window()
    assert series["kcdev"][-1] == 0


def test_a_shell_as_backend_shares_its_kernel(kernel):
    shell = Shell(kernel)
    shell.run("insmod hello/hello.ko")
    panel = ModulePanel(shell, "hello")
    assert 'data-key="hello"' in panel.lsmod_view.value
    assert "(no new kernel messages)" in panel.dmesg_view.value  # only lines after creation


class ScriptBackend:
    """Like the lab's RealShell: runs whole scripts (one guest boot each) and has a `kernel`
    attribute that is not a simulated Kernel."""

    def __init__(self, shell):
        self._shell = shell
        self.kernel = object()
        self.scripts = 0

    def run_script(self, text):
        self.scripts += 1
        return self._shell.run_script(text)

    def run(self, line):
        return self.run_script(line)[0]


def test_a_script_backend_gets_one_script_per_click(kernel):
    backend = ScriptBackend(Shell(kernel))
    panel = ModulePanel(backend, "hello")
    assert panel.model.backend.kernel is None
    for action in ("insmod", "rmmod", "rmmod"):
        before = backend.scripts
        panel.buttons[action].click()
        assert backend.scripts == before + 1
    assert "rmmod: ERROR: Module hello is not currently loaded" in panel.message.value
    assert panel.model.path_taken == ()
    assert "hello: goodbye, world" in panel.dmesg_view.value


def test_open_without_the_module_is_bashs_error(kernel, panel):
    before = kernel.snapshot()
    panel.buttons["open"].click()
    # bash: a redirection whose file cannot be opened: "bash: FILE: No such file or directory"
    assert f"bash: /dev/hello: {os.strerror(errno.ENOENT)}" in panel.message.value
    assert kernel.snapshot() == before
