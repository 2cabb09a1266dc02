"""The interleaving explorer. Expected counts are derived by reasoning, written next to them."""

from math import comb

import pytest

from kcourse.errors import KcourseError
from kcourse.kernel.concurrency import (
    Step,
    check_sleeping,
    count_interleavings,
    explore,
    increment,
    random_schedules,
    run_schedule,
)


def two(lock="none", times=1):
    return [increment(lock, times), increment(lock, times)]


def test_two_threads_one_increment_each():
    # Each thread: load, add, store. Orders that keep each thread's order: C(6, 3) = 20.
    e = explore(two())
    assert len(e.schedules) == comb(6, 3) == 20
    # The counter ends at 2 only if one thread loads after the other has stored. A thread's
    # load is its first step and its store its last, so one thread must run entirely before
    # the other: AAABBB or BBBAAA. All 18 others load the same 0 twice and store 1.
    assert e.outcomes() == {1: 18, 2: 2}
    assert sorted(s.order for s in e.schedules if not s.lost) == ["AAABBB", "BBBAAA"]
    assert len(e.losing()) == 18 and "ABABAB" in e.losing()


def test_two_increments_each():
    e = explore(two(times=2))
    assert len(e.schedules) == comb(12, 6) == 924
    # No update is lost only if no two increments overlap, i.e. the four 3-step increments
    # run as whole blocks in some order that keeps each thread's order: C(4, 2) = 6.
    assert e.outcomes()[4] == 6
    # The classic minimum for two threads is 2 (A loads 0; B does one increment; A stores 1;
    # B loads 1; A finishes its second increment (2); B stores 2), and it cannot go below 2.
    assert min(e.outcomes()) == 2
    assert run_schedule(two(times=2), "A BBB AA B AAA BB").final == 2


def test_three_threads():
    e = explore([increment(), increment(), increment()])
    # 9! / (3! 3! 3!) = 362880 / 216
    assert len(e.schedules) == count_interleavings([3, 3, 3]) == 1680
    assert e.outcomes()[3] == 6  # the 3! orders of three whole increments


@pytest.mark.parametrize("lock", ["mutex", "spinlock"])
def test_locks_make_every_schedule_correct(lock):
    # lock is each thread's first step; once one thread has it, the other cannot move until
    # unlock, its last step: the two 5-step threads run back to back, in either order.
    e = explore(two(lock))
    assert [s.order for s in e.schedules] == ["AAAAABBBBB", "BBBBBAAAAA"]
    assert e.outcomes() == {2: 2}
    # two increments each: four 5-step critical sections in C(4, 2) = 6 orders
    assert explore(two(lock, 2)).outcomes() == {4: 6}


def test_atomic_inc_is_one_step():
    assert explore(two("atomic")).outcomes() == {2: 2}


def test_trace_shows_the_lost_update():
    s = run_schedule(two(), "ABABAB")
    assert s.final == 1 and s.lost == 1
    assert s.trace[:2] == ("A:load counter=0 rA=0", "B:load counter=0 rB=0")


def test_impossible_schedules_are_refused():
    with pytest.raises(KcourseError, match="cannot take the mutex"):
        run_schedule(two("mutex"), "ABAAAABBBB")
    with pytest.raises(KcourseError, match="does not run every step"):
        run_schedule(two(), "AABB")
    with pytest.raises(KcourseError, match="no thread"):
        run_schedule(two(), "AAACCC")
    with pytest.raises(KcourseError):
        increment("semaphore")


def test_random_schedules_are_seeded_and_in_range():
    big = two(times=50)
    a = random_schedules(big, 50, seed=7)
    assert a == random_schedules(big, 50, seed=7)
    assert sum(a.values()) == 50
    assert all(2 <= v <= 100 for v in a)
    assert random_schedules(two("mutex", 50), 5, seed=1) == {100: 5}


def test_sleeping_under_a_spinlock_is_flagged():
    prog = [Step("lock", "spinlock"), Step("call", "copy_from_user"),
            Step("call", "kmalloc(GFP_ATOMIC)"), Step("unlock", "spinlock"),
            Step("call", "kmalloc(GFP_KERNEL)")]
    (bug,) = check_sleeping(prog, pid=77, comm="bash")
    # kernel/sched/core.c:9998-10004 (__might_resched); might_fault() is at lib/usercopy.c:14
    assert bug.text.splitlines()[:3] == [
        "BUG: sleeping function called from invalid context at lib/usercopy.c:14",
        "in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 77, name: bash",
        "preempt_count: 1, expected: 0",
    ]
    # the same calls under a mutex are fine: a mutex holder may sleep
    assert check_sleeping([Step("lock", "mutex"), Step("call", "copy_from_user"),
                           Step("call", "kmalloc(GFP_KERNEL)"), Step("unlock", "mutex")]) == []
    (bug,) = check_sleeping([Step("lock", "spinlock"), Step("call", "mutex_lock")])
    assert bug.text.startswith("BUG: sleeping function called from invalid context at "
                               "kernel/locking/mutex.c:283")
