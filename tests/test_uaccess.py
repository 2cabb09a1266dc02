"""copy_to_user & co. and the SMAP oops (Linux 6.1 sources cited per assertion)."""

import re

from kcourse.kernel import oops
from kcourse.kernel.uaccess import (
    EFAULT,
    TASK_SIZE_MAX,
    UserMemory,
    copy_from_user,
    copy_to_user,
    deref_oops,
    get_user,
    put_user,
)

BUF = 0x7FFD_1234_5000  # a page-aligned user address


def mem_with(data=b"hello, kernel"):
    m = UserMemory()
    m.map(BUF, 4096, data)
    return m


def test_copy_returns_bytes_not_copied():
    m = mem_with()
    # include/linux/uaccess.h, hacking.rst: "return the amount of uncopied data"; 0 = success
    assert copy_from_user(m, BUF, 5) == (b"hello", 0)
    assert copy_to_user(m, BUF + 100, b"abc") == 0
    assert m.read(BUF + 100, 3) == b"abc"
    # 200 bytes starting 96 before the end of the only mapped page: 96 copied, 104 not
    assert copy_to_user(m, BUF + 4000, b"x" * 200) == 104


def test_partial_copy_from_user_zero_fills_the_rest():
    m = mem_with(b"")
    m.map(BUF + 4090, 6, b"ABCDEF")
    data, left = copy_from_user(m, BUF + 4090, 10)
    # lib/usercopy.c:26-27: if (unlikely(res)) memset(to + (n - res), 0, res);
    assert (data, left) == (b"ABCDEF\0\0\0\0", 4)


def test_kernel_addresses_fail_access_ok():
    m = mem_with()
    # TASK_SIZE_MAX = (1 << 47) - PAGE_SIZE (arch/x86/include/asm/page_64_types.h:61)
    assert TASK_SIZE_MAX == 0x7FFFFFFFF000
    kernel_ptr = 0xFFFF888100000000
    assert copy_to_user(m, kernel_ptr, b"secret") == 6
    assert copy_from_user(m, kernel_ptr, 8) == (bytes(8), 8)


def test_get_put_user():
    m = mem_with((1234).to_bytes(4, "little"))
    # arch/x86/include/asm/uaccess.h: "Return: zero on success, or -EFAULT on error"
    assert get_user(m, BUF) == (1234, 0)
    assert put_user(m, 99, BUF + 8) == 0 and get_user(m, BUF + 8) == (99, 0)
    assert EFAULT == 14
    assert get_user(m, 0) == (0, -14)
    assert put_user(m, 1, BUF + 8192) == -14


def test_direct_dereference_oopses_with_smap():
    m = mem_with()
    machine = oops.Machine(taint=oops.taint_mask("OE"),
                           modules=[("baduser", oops.taint_mask("OE"), "live")])
    err = deref_oops(m, BUF, "baduser_write+0x17/0x60 [baduser]", machine=machine, comm="bash")
    lines = oops.text(err.lines).splitlines()
    # arch/x86/mm/fault.c:553-571 show_fault_oops: %px is the raw address, 16 hex digits
    assert lines[:3] == [
        "BUG: unable to handle page fault for address: 00007ffd12345000",
        "#PF: supervisor read access in kernel mode",
        "#PF: error_code(0x0001) - permissions violation",  # X86_PF_PROT: page is present
    ]
    assert lines[3].startswith("PGD ")  # dump_pagetable (fault.c:381)
    assert lines[4] == "Oops: 0001 [#1] PREEMPT SMP NOPTI"  # __die_header, dumpstack.c:426
    assert lines[5].startswith("CPU: 0 PID: 1234 Comm: bash Tainted: G           OE      ")
    assert "RIP: 0010:baduser_write+0x17/0x60 [baduser]" in lines
    assert "Modules linked in: baduser(OE)" in lines
    assert "CR2: 00007ffd12345000" in lines  # fault.c:727, after __die
    assert re.fullmatch(r"Code: (?:[0-9a-f]{2} ){42}<8b> (?:[0-9a-f]{2} ){20}[0-9a-f]{2}",
                        next(x for x in lines if x.startswith("Code:")))
    assert not err.panic  # panic_on_oops is 0 (CONFIG_PANIC_ON_OOPS is not set)


def test_missing_page_write_and_null():
    m = UserMemory()
    err = deref_oops(m, BUF, "f+0x1/0x2 [m]", write=True)
    text = oops.text(err.lines).splitlines()
    assert text[1] == "#PF: supervisor write access in kernel mode"
    assert text[2] == "#PF: error_code(0x0002) - not-present page"  # X86_PF_WRITE only
    assert text[3] == "PGD 0 P4D 0"
    null = oops.text(deref_oops(m, 0, "f+0x1/0x2 [m]").lines).splitlines()
    # fault.c:553-554: below PAGE_SIZE from kernel mode
    assert null[0] == "BUG: kernel NULL pointer dereference, address: 0000000000000000"
    assert null[2] == "#PF: error_code(0x0000) - not-present page"


def test_panic_on_oops():
    machine = oops.Machine(panic_on_oops=True)
    err = deref_oops(UserMemory(), 8, "f+0x1/0x2 [m]", machine=machine)
    tail = oops.text(err.lines).splitlines()
    assert err.panic
    # arch/x86/kernel/dumpstack.c:399-400 -> kernel/panic.c:333,440
    assert tail[-3] == "Kernel panic - not syncing: Fatal exception"
    assert tail[-1] == "---[ end Kernel panic - not syncing: Fatal exception ]---"
