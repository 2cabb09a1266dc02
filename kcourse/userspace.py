"""A small model of user-space processes, to set next to a kernel module.

What it shows, each the opposite of a module:
- a process has one entry point (`main`) and ends with it: `exit` hands every byte it
  malloc()ed back to the system, freed or not;
- its stack may grow to RLIMIT_STACK, 8 MiB by default (_STK_LIM, include/uapi/linux/
  resource.h:66; include/asm-generic/resource.h:16), so a 20000-byte local array is nothing;
- it can have many threads: clone(CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD)
  is what pthread_create() asks for (include/uapi/linux/sched.h:11-19); CLONE_THREAD without
  CLONE_SIGHAND, or CLONE_SIGHAND without CLONE_VM, is EINVAL (kernel/fork.c:2136-2145);
- a bad pointer kills that one process (all its threads) with SIGSEGV; the shell prints
  "Segmentation fault" and exit status 139 (128 + 11), the kernel logs one `segfault at`
  line (arch/x86/mm/fault.c:771-787), and every other process goes on. The line names the
  mapping that holds the faulting ip, as print_vma_addr() finds it (mm/memory.c:5814-5842).

malloc sizes follow glibc (malloc/malloc.c request2size, 64-bit: 8-byte header, 16-byte
alignment, 32-byte minimum chunk; requests from 128 KiB (DEFAULT_MMAP_THRESHOLD_MIN) get their
own mmap, rounded to pages).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from kcourse.errors import KcourseError

STK_LIM = 8 * 1024 * 1024  # include/uapi/linux/resource.h:66
PAGE_SIZE = 4096
SIGSEGV = 11
CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND = 0x100, 0x200, 0x400, 0x800
CLONE_THREAD = 0x10000
PTHREAD_FLAGS = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD
EINVAL = 22
MMAP_THRESHOLD = 128 * 1024
MAIN_FRAME = 48  # bytes main's own frame takes (model value)

# Where a small program sits. Debian 12's gcc 12.2 builds PIE by default and ld 2.40 uses
# -z separate-code: `readelf -lW` of `int main(void) { return *(volatile int *)0; }` shows
# PT_LOADs R at 0x0, R E at 0x1000 (0x141 bytes), R at 0x2000 and RW at 0x3e00, one VMA each,
# so the code is the VMA [base+0x1000, base+0x2000). `objdump -d` puts the faulting load
# (`mov (%rax),%eax`) at 0x1132.
PIE_BASE = 0x55D0_0000_0000
TEXT_START, TEXT_SIZE = PIE_BASE + 0x1000, 0x1000  # vm_start, vm_end - vm_start
FAULT_IP = PIE_BASE + 0x1132
HEAP_START = PIE_BASE + 0x5000  # brk starts after the RW page (no brk randomisation here)
THREAD_STACKS = 0x7F00_0000_0000  # top of the first pthread stack (glibc mmaps them)


def malloc_chunk(size: int) -> int:
    """Bytes glibc takes for malloc(size): request2size, or a page-rounded mmap."""
    nb = 32 if size + 8 + 15 < 32 else (size + 8 + 15) & ~15
    if size >= MMAP_THRESHOLD:
        return (nb + 8 + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE
    return nb


class ProcessDied(Exception):  # noqa: N818 - a signal, not a programming error
    """Raised inside a process's code when it gets a fatal signal; the System catches it."""

    def __init__(self, signal: int, message: str):
        super().__init__(message)
        self.signal = signal


@dataclass
class Thread:
    tid: int
    stack_limit: int = STK_LIM
    stack_used: int = 0
    deepest: int = 0


@dataclass
class Process:
    """One process: its threads share memory (CLONE_VM); its heap dies with it."""

    system: UserSystem
    pid: int
    comm: str
    threads: list[Thread] = field(default_factory=list)
    heap: dict[int, int] = field(default_factory=dict)  # address -> chunk bytes
    alive: bool = True
    status: int | None = None  # exit status as the shell reports it
    _next: int = HEAP_START

    @property
    def held(self) -> int:
        return sum(self.heap.values())

    def malloc(self, size: int) -> int:
        chunk = malloc_chunk(size)
        self._next += chunk
        self.heap[self._next] = chunk
        self.system._record(self, chunk)
        return self._next

    def free(self, address: int) -> None:
        if address == 0:
            return
        if address not in self.heap:
            # glibc aborts the process: "free(): invalid pointer" then SIGABRT
            raise ProcessDied(6, "free(): invalid pointer")
        self.system._record(self, -self.heap.pop(address))

    def call(self, frame_bytes: int, body: Callable[[], object] | None = None,
             thread: int = 0):
        """Run a function whose frame (locals) takes `frame_bytes` on the given thread's stack.

        Past the stack limit the access lands in the guard gap below the stack: SIGSEGV.
        """
        t = self.threads[thread]
        t.stack_used += frame_bytes
        t.deepest = max(t.deepest, t.stack_used)
        try:
            if t.stack_used > t.stack_limit:
                # the frame's first store lands in the guard gap below the stack
                self.segfault(self.stack_pointer(thread), write=True, thread=thread)
            return body() if body else None
        finally:
            t.stack_used -= frame_bytes

    def clone(self, flags: int = PTHREAD_FLAGS) -> Thread | Process:
        """clone(2): a thread of this process with CLONE_THREAD, otherwise a new process."""
        if flags & CLONE_THREAD and not flags & CLONE_SIGHAND:
            raise KcourseError(f"clone: EINVAL ({EINVAL}): CLONE_THREAD needs CLONE_SIGHAND")
        if flags & CLONE_SIGHAND and not flags & CLONE_VM:
            raise KcourseError(f"clone: EINVAL ({EINVAL}): CLONE_SIGHAND needs CLONE_VM")
        if flags & CLONE_THREAD:
            thread = Thread(self.system._new_pid())
            self.threads.append(thread)
            return thread
        child = self.system.spawn(self.comm)
        if not flags & CLONE_VM:  # fork: a copy of the address space, charged to the child
            for address, chunk in self.heap.items():
                child.heap[address] = chunk
                self.system._record(child, chunk)
        return child

    def stack_pointer(self, thread: int = 0) -> int:
        """The thread's sp: its stack top minus what its frames use, 16-byte aligned. The
        x86-64 psABI (3.2.2) aligns rsp to 16 before every call, so rsp + 8 is a multiple of
        16 at a function's entry and its `push %rbp` makes rsp one again."""
        t = self.threads[thread]
        top = self.system.stack_top if thread == 0 else \
            THREAD_STACKS - (thread - 1) * (STK_LIM + PAGE_SIZE)
        return (top - t.stack_used) & ~0xF

    def segfault(self, address: int, write: bool = False, thread: int = 0) -> None:
        """A bad access: the whole thread group gets SIGSEGV.

        The kernel's line, show_signal_msg() (arch/x86/mm/fault.c:771-787, 6.1):
        `<comm>[<tid>]: segfault at <addr> ip <ip> sp <sp> error <code>`, then
        print_vma_addr()'s ` in <file>[<vm_start>+<size>]` for the VMA holding ip
        (mm/memory.c:5835), then ` likely on CPU N (core N, socket N)` (commit c926087eb385,
        6.1); a `Code:` line follows (show_opcodes), left out here. Error bit 2 = user mode,
        bit 1 = write (arch/x86/include/asm/trap_pf.h).
        """
        error = 4 | (2 if write else 0)
        tid = self.threads[thread].tid
        self.system.kernel_log.append(
            f"{self.comm}[{tid}]: segfault at {address:x} ip {FAULT_IP:016x} "
            f"sp {self.stack_pointer(thread):016x} error {error} in "
            f"{self.comm}[{TEXT_START:x}+{TEXT_SIZE:x}] likely on CPU 0 (core 0, socket 0)")
        raise ProcessDied(SIGSEGV, "Segmentation fault")

    def exit(self, code: int = 0) -> None:
        """exit_mm(): the whole address space goes, freed or not."""
        for address in list(self.heap):
            self.system._record(self, -self.heap.pop(address))
        self.alive, self.status = False, code & 0xFF
        self.system.processes.pop(self.pid, None)


class UserSystem:
    """User space on one machine: processes come and go; one crashing does not stop the rest."""

    def __init__(self, seed: int = 0):
        self._pid = 1000 + random.Random(f"pids:{seed}").randrange(500)
        self.processes: dict[int, Process] = {}
        self.kernel_log: list[str] = []  # what these processes made the kernel print
        self.stack_top = 0x7FFD_0000_0000
        self.history: list[tuple[int, str, int, int]] = []  # (seq, comm, delta, total)

    def _new_pid(self) -> int:
        self._pid += 1
        return self._pid

    def spawn(self, comm: str) -> Process:
        pid = self._new_pid()
        proc = Process(self, pid, comm, [Thread(pid)])
        self.processes[pid] = proc
        return proc

    def run(self, comm: str, main: Callable[[Process], int | None]) -> tuple[int, str]:
        """Start a process, run its `main`, and return (exit status, what the shell printed).

        `main` returning is exit(return value); a fatal signal gives 128 + signal and bash's
        message ("Segmentation fault"; a core dump is off by default on Debian: ulimit -c 0).
        """
        proc = self.spawn(comm)
        try:
            code = proc.call(MAIN_FRAME, lambda: main(proc))
        except ProcessDied as death:
            proc.exit(0)
            proc.status = 128 + death.signal
            return proc.status, "Segmentation fault" if death.signal == SIGSEGV else \
                "Aborted" if death.signal == 6 else f"signal {death.signal}"
        if proc.alive:
            proc.exit(code or 0)
        return proc.status, ""

    def memory_in_use(self) -> int:
        return sum(p.held for p in self.processes.values())

    def _record(self, proc: Process, delta: int) -> None:
        total = sum(p.held for p in self.processes.values())
        self.history.append((len(self.history) + 1, proc.comm, delta, total))
