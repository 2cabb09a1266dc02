"""The user-space process model against the kernel's and glibc's rules."""

import re
import subprocess

import pytest

from kcourse.errors import KcourseError
from kcourse.userspace import (
    CLONE_SIGHAND,
    CLONE_THREAD,
    CLONE_VM,
    FAULT_IP,
    PIE_BASE,
    PTHREAD_FLAGS,
    STK_LIM,
    TEXT_SIZE,
    TEXT_START,
    Process,
    Thread,
    UserSystem,
    malloc_chunk,
)
from tests.conftest import need_tool


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


# The kernel's own format strings ([K6.1] Debian linux-source-6.1): show_signal_msg()
# (arch/x86/mm/fault.c:771 and :781) around print_vma_addr(KERN_CONT " in ", regs->ip)
# (fault.c:775; mm/memory.c:5835). %px prints 16 hex digits, %lx without padding.
KERNEL_FORMAT = ("%s[%d]: segfault at %lx ip %px sp %px error %lx" + " in " + "%s[%lx+%lx]"
                 + " likely on CPU %d (core %d, socket %d)")
CONVERSIONS = {"%s": r"(\S+?)", "%d": r"(\d+)", "%lx": r"([0-9a-f]+)", "%px": r"([0-9a-f]{16})"}


def _parse_segfault(line: str) -> dict[str, int | str]:
    pattern = re.sub(r"%(?:px|lx|s|d)|[^%]+",
                     lambda m: CONVERSIONS.get(m.group(0), re.escape(m.group(0))), KERNEL_FORMAT)
    m = re.fullmatch(pattern, line)
    assert m, f"not the kernel's format: {line}"
    comm, pid, addr, ip, sp, error, file, start, size, *_cpu = m.groups()
    return {"comm": comm, "pid": int(pid), "addr": int(addr, 16), "ip": int(ip, 16),
            "sp": int(sp, 16), "error": int(error, 16), "file": file,
            "start": int(start, 16), "size": int(size, 16)}


def _crash(system: UserSystem, comm: str, main) -> dict[str, int | str]:
    assert system.run(comm, main) == (139, "Segmentation fault")
    return _parse_segfault(system.kernel_log[-1])


def test_segfault_line_names_the_mapping_that_holds_ip():
    system = UserSystem(seed=3)

    def null_read(proc: Process):
        proc.clone()
        proc.segfault(0)

    def recurse(proc: Process):
        return proc.call(200_008, lambda: recurse(proc))

    def thread_null_write(proc: Process):
        proc.clone()
        proc.call(64, lambda: proc.segfault(0, write=True, thread=1), thread=1)

    for comm, main in [("crasher", null_read), ("recurse", recurse),
                       ("threaded", thread_null_write)]:
        f = _crash(system, comm, main)
        assert f["comm"] == f["file"] == comm
        # print_vma_addr() looks ip up with find_vma() (mm/memory.c:5825) and prints that
        # VMA: ip must lie inside the mapping named, a page-aligned range
        assert f["start"] <= f["ip"] < f["start"] + f["size"], f
        assert f["start"] % 4096 == 0 and f["size"] % 4096 == 0
        # x86-64 pushes and pops 8 bytes: rsp is always a multiple of 8 (and of 16 at a
        # call, psABI 3.2.2, which is where these faults happen: after main's push %rbp)
        assert f["sp"] % 16 == 0, f
        # error bits (arch/x86/include/asm/trap_pf.h): 4 = user mode, 2 = write
        assert f["error"] == (4 if comm == "crasher" else 6)


def test_a_stack_overflow_faults_below_the_stack_limit():
    system = UserSystem(seed=3)

    def recurse(proc: Process):
        return proc.call(200_008, lambda: recurse(proc))

    f = _crash(system, "recurse", recurse)
    top = system.stack_top
    # the fault address is the new frame's bottom, at or above sp and past RLIMIT_STACK
    assert f["sp"] <= f["addr"] < top - STK_LIM
    assert top - f["sp"] < STK_LIM + 200_008 + 16


def test_a_thread_segfault_names_its_tid():
    system = UserSystem(seed=3)
    seen = {}

    def main(proc: Process):
        seen["pid"], seen["tid"] = proc.pid, proc.clone().tid
        proc.segfault(0, thread=1)

    f = _crash(system, "threaded", main)
    # task_pid_nr(tsk) of the faulting thread (fault.c:772), not the thread group's pid
    assert f["pid"] == seen["tid"] != seen["pid"]


@pytest.mark.tools
def test_the_model_program_is_laid_out_like_a_real_gcc_build(tmp_path):
    # The model's text mapping and faulting ip are those of this program built by the
    # machine's gcc (Debian 12: PIE, ld -z separate-code), read back with readelf and objdump.
    need_tool("gcc")
    need_tool("readelf")
    need_tool("objdump")
    (tmp_path / "crasher.c").write_text("int main(void)\n{\n\treturn *(volatile int *)0;\n}\n")
    subprocess.run(["gcc", "-O0", "-o", str(tmp_path / "crasher"), str(tmp_path / "crasher.c")],
                   check=True, capture_output=True)
    phdrs = subprocess.run(["readelf", "-lW", str(tmp_path / "crasher")], check=True,
                           capture_output=True, text=True).stdout
    assert "Elf file type is DYN" in phdrs  # PIE: mapped at a random base like PIE_BASE
    text = [line.split() for line in phdrs.splitlines()
            if line.split()[:1] == ["LOAD"] and line.split()[-2:-1] == ["E"]]
    assert len(text) == 1
    vaddr, memsz = int(text[0][2], 16), int(text[0][5], 16)
    page = 4096
    start = vaddr // page * page
    end = (vaddr + memsz + page - 1) // page * page
    assert (TEXT_START - PIE_BASE, TEXT_SIZE) == (start, end - start)
    dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(tmp_path / "crasher")],
                         check=True, capture_output=True, text=True).stdout
    main = dis[dis.index("<main>:"):].split("\n\n")[0]
    loads = re.findall(r"^\s*([0-9a-f]+):\s+mov\s+\(%rax\),%eax", main, re.M)
    assert [int(a, 16) for a in loads] == [FAULT_IP - PIE_BASE]
