"""kcourse.kernel: a simulated Linux 6.1 kernel (Debian 12 amd64) that loads real .ko files.

Pure Python, no widgets or plotting here. See shared-prompts/kernel-api.md for the surface.
"""

from kcourse.kernel.errno import KernelErrno
from kcourse.kernel.kernel import DirEntry, Event, Kernel, TaskKilled
from kcourse.kernel.loader import MODULE_INIT_IGNORE_MODVERSIONS, MODULE_INIT_IGNORE_VERMAGIC
from kcourse.kernel.module import Module
from kcourse.kernel.printk import LogRecord
from kcourse.kernel.states import ModuleState

__all__ = ["DirEntry", "Event", "Kernel", "KernelErrno", "LogRecord", "Module", "ModuleState",
           "TaskKilled", "MODULE_INIT_IGNORE_MODVERSIONS", "MODULE_INIT_IGNORE_VERMAGIC"]
