"""The user-space process model against the kernel's and glibc's rules."""

import pytest

from kcourse.errors import KcourseError
from kcourse.userspace import (
    CLONE_SIGHAND,
    CLONE_THREAD,
    CLONE_VM,
    PTHREAD_FLAGS,
    STK_LIM,
    Process,
    Thread,
    UserSystem,
    malloc_chunk,
)


def test_default_stack_limit_is_8_mib():
    # include/uapi/linux/resource.h:66 _STK_LIM (8*1024*1024); asm-generic/resource.h:16
    assert STK_LIM == 8 * 1024 * 1024
    assert UserSystem().spawn("a").threads[0].stack_limit == 8388608


@pytest.mark.parametrize(
    ("size", "chunk"),
    # glibc malloc/malloc.c request2size: (req + SIZE_SZ(8) + MALLOC_ALIGN_MASK(15)) & ~15,
    # at least MINSIZE (32)
    [(0, 32), (1, 32), (24, 32), (25, 48), (100, 112), (4000, 4016)],
)
def test_malloc_chunk_sizes(size, chunk):
    assert malloc_chunk(size) == chunk


def test_exit_returns_everything_even_unfreed():
    system = UserSystem()

    def main(proc: Process):
        proc.malloc(4000)
        proc.malloc(100)
        assert system.memory_in_use() == 4016 + 112
        return 3  # no free() at all

    status, said = system.run("leaky", main)
    assert (status, said) == (3, "")
    assert system.memory_in_use() == 0
    assert system.history[-1][3] == 0


def test_segfault_kills_one_process_only():
    system = UserSystem()
    survivor = system.spawn("survivor")
    survivor.malloc(64)

    def main(proc: Process):
        proc.clone()  # a second thread: the whole thread group dies
        proc.malloc(1000)
        proc.segfault(0)  # *(int *)NULL

    status, said = system.run("crasher", main)
    # bash: 128 + SIGSEGV(11), message strsignal(SIGSEGV)
    assert (status, said) == (139, "Segmentation fault")
    assert list(system.processes) == [survivor.pid] and survivor.alive
    assert system.memory_in_use() == 80
    # arch/x86/mm/fault.c:771: "%s[%d]: segfault at %lx ip %px sp %px error %lx"; error 4 =
    # X86_PF_USER, a read of a not-present page
    (line,) = system.kernel_log
    assert line.startswith("crasher[") and "]: segfault at 0 ip " in line
    assert " error 4 in crasher[" in line


def test_threads_share_memory_and_need_sighand_and_vm():
    proc = UserSystem().spawn("threads")
    thread = proc.clone(PTHREAD_FLAGS)
    assert isinstance(thread, Thread) and len(proc.threads) == 2
    # kernel/fork.c:2136-2145
    with pytest.raises(KcourseError, match="EINVAL"):
        proc.clone(CLONE_THREAD | CLONE_VM)
    with pytest.raises(KcourseError, match="EINVAL"):
        proc.clone(CLONE_SIGHAND)
    child = proc.clone(0)  # fork
    assert isinstance(child, Process) and child.pid != proc.pid


def test_big_local_array_is_fine_and_deep_recursion_is_not():
    system = UserSystem()

    def main(proc: Process):
        proc.call(20008)  # char buf[20000]: nothing on an 8 MiB stack
        return 0

    assert system.run("array", main) == (0, "")

    def recurse(proc: Process, depth: int = 0):
        return proc.call(200_008, lambda: recurse(proc, depth + 1))  # 42 levels > 8 MiB

    status, said = system.run("recurse", recurse)
    assert (status, said) == (139, "Segmentation fault")
    assert " error 6 " in system.kernel_log[-1]  # user write (push) to a missing page
