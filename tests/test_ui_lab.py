"""The same ModulePanel driving Debian's real 6.1 kernel under QEMU (kcourse.lab RealShell):
what it shows must be what the real kernel and kmod say. One guest, booted for the first
click and kept up for the others. Needs qemu-system-x86_64 and the lab's Debian packages
(under CI their absence fails the test instead of skipping it)."""

import pytest

from conftest import need, need_tool
from kcourse.errors import KcourseError
from kcourse.ui import ModulePanel


@pytest.fixture(scope="module")
def real_shell():
    need_tool("qemu-system-x86_64")
    from kcourse.lab import RealKernel, prepare_lab
    from kcourse.lab.session import RealShell

    try:
        lab = prepare_lab()
    except KcourseError as err:
        need(False, f"the real-kernel lab cannot be prepared: {err}")
    shell = RealShell(RealKernel(lab=lab, timeout=180))
    yield shell
    shell.close()


def test_module_panel_on_the_real_kernel(real_shell):
    panel = ModulePanel(real_shell, "kcdev")
    assert panel.model.backend.kernel is None  # no simulator behind it
    panel.buttons["insmod"].click()
    assert 'data-key="kcdev"' in panel.lsmod_view.value
    assert 'data-state="LIVE"' in panel.state_view.value  # /sys/module/kcdev/initstate
    assert "kcdev: /dev/kcdev registered" in panel.dmesg_view.value  # kcdev.c kcdev_init
    panel.buttons["open"].click()
    assert panel.model.views.refcount == 1  # fops_get -> try_module_get
    panel.buttons["rmmod"].click()
    assert "rmmod: ERROR: Module kcdev is in use" in panel.message.value  # kmod rmmod.c
    panel.buttons["close"].click()
    panel.buttons["rmmod"].click()
    assert 'data-key="kcdev"' not in panel.lsmod_view.value
    assert "kcdev: /dev/kcdev removed" in panel.dmesg_view.value  # kcdev.c kcdev_exit
