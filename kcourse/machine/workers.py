"""Workqueues' worker pools: kworker threads running work items (kernel/workqueue.c, CMWQ).

A workqueue hands its work items to a pool: the CPU's normal or high-priority pool for a
per-CPU workqueue (system_wq is one), an unbound pool for WQ_UNBOUND. A pool's kworkers take
items in the order they were queued; a workqueue has at most max_active of its items
running at once, the rest wait their turn. When every worker of a pool with work waiting is
asleep, the pool starts another (concurrency management: wq_worker_sleeping), so an item
that sleeps does not hold up the next. A worker with nothing to do sleeps until work comes.

Work items themselves stay in the module's memory: the PENDING bit of work->data is set
while an item waits (work_pending()), cleared just before its function runs
(set_work_pool_and_clear_pending), with the pool's id in the off-queue bits after.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kcourse.kernel import sched_reports, structs
from kcourse.machine import scheduler as S

WORK_FUNC = structs.offsetof("work_struct", "func")

WORK_STRUCT_PENDING = 1 << 0  # include/linux/workqueue.h
WORK_OFFQ_POOL_SHIFT = 5  # WORK_OFFQ_FLAG_BASE (4) + WORK_OFFQ_FLAG_BITS (1)
WQ_UNBOUND, WQ_HIGHPRI = 1 << 1, 1 << 4
WQ_DFL_ACTIVE, WQ_UNBOUND_MAX_ACTIVE = 256, 512  # max_active 0 means these


@dataclass
class Workqueue:
    address: int
    name: str
    flags: int
    max_active: int
    active: int = 0
    destroyed: bool = False


@dataclass
class Item:
    work: int
    wq: Workqueue
    seq: int
    done: bool = False


@dataclass
class Pool:
    id: int
    name_format: str  # "kworker/0:{}" / "kworker/0:{}H" / "kworker/u2:{}"
    worklist: list[Item] = field(default_factory=list)
    workers: list = field(default_factory=list)  # threads.Thread
    running: dict = field(default_factory=dict)  # thread -> Item
    next_id: int = 1


class Workqueues:
    """All workqueues and pools of one machine (machine.objects["workqueues"])."""

    def __init__(self, machine):
        self.machine, self.sched = machine, S.of(machine)
        self.by_address: dict[int, Workqueue] = {}
        self.pools = {"normal": Pool(0, "kworker/0:{}"), "highpri": Pool(1, "kworker/0:{}H"),
                      "unbound": Pool(2, "kworker/u2:{}")}
        self.sched.pollers.append(self._keep_going)

    def pool_of(self, wq: Workqueue) -> Pool:
        if wq.flags & WQ_UNBOUND:
            return self.pools["unbound"]
        return self.pools["highpri" if wq.flags & WQ_HIGHPRI else "normal"]

    # ------------------------------------------------------------------ queueing
    def queue(self, wq: Workqueue, work: int) -> None:
        """__queue_work for a work item whose PENDING bit the caller has just set."""
        pool = self.pool_of(wq)
        pool.worklist.append(Item(work, wq, self.sched.next_seq()))
        self._kick(pool)

    def items(self, work: int) -> list[Item]:
        """The instances of `work` queued or running now."""
        found = []
        for pool in self.pools.values():
            found += [i for i in pool.worklist if i.work == work]
            found += [i for i in pool.running.values() if i.work == work]
        return found

    def of_queue(self, wq: Workqueue) -> list[Item]:
        found = []
        for pool in self.pools.values():
            found += [i for i in pool.worklist if i.wq is wq]
            found += [i for i in pool.running.values() if i.wq is wq]
        return found

    def unqueue(self, work: int) -> bool:
        """Take a queued (not running) instance of `work` off its pool's list."""
        for pool in self.pools.values():
            for item in pool.worklist:
                if item.work == work:
                    pool.worklist.remove(item)
                    return True
        return False

    def running(self, work: int) -> list[Item]:
        return [i for p in self.pools.values() for i in p.running.values() if i.work == work]

    # ------------------------------------------------------------------ workers
    def _startable(self, pool: Pool) -> Item | None:
        for item in pool.worklist:
            limit = item.wq.max_active or (WQ_UNBOUND_MAX_ACTIVE if item.wq.flags & WQ_UNBOUND
                                           else WQ_DFL_ACTIVE)
            if item.wq.active < limit:
                return item
        return None

    def _kick(self, pool: Pool) -> None:
        """Make sure some worker will take the pool's next startable item: an idle one
        woken, or a new one when all are asleep in their work (or there are none)."""
        if self._startable(pool) is None:
            return
        if any(w.state in ("runnable", "new") or (w in pool.running and w.state == "running")
               for w in pool.workers):
            return
        idle = [w for w in pool.workers if w.state == "idle"]
        if idle:
            self.sched.make_runnable(idle[0])
            return
        worker = self.sched.new_thread(pool.name_format.format(pool.next_id))
        pool.next_id += 1
        worker.kind = "kworker"
        worker.next_run = lambda rax, w=worker, p=pool: self._next(p, w, rax is not None)
        pool.workers.append(worker)
        self.sched.make_runnable(worker)

    def _keep_going(self) -> None:
        for pool in self.pools.values():
            self._kick(pool)

    def _next(self, pool: Pool, worker, finished: bool):
        """What `worker` runs next: the item it finished is done; the next startable item
        starts (PENDING cleared), else the worker goes idle."""
        space = self.machine.space
        if finished:
            item = pool.running.pop(worker, None)
            if item is not None:
                item.done = True
                item.wq.active -= 1
                self._check_leak(worker, item)
        item = self._startable(pool)
        if item is None:
            if self.sched.preempt_count():  # worker_thread sleeps: scheduling while atomic
                self.sched.scheduling_while_atomic(
                    [], None, f" 0x0 ({worker.workqueue.split(' ')[0]})",
                    below=sched_reports.IDLE_WORKER)
            worker.workqueue = ""
            return "idle"
        pool.worklist.remove(item)
        item.wq.active += 1
        pool.running[worker] = item
        space.write_u64(item.work, pool.id << WORK_OFFQ_POOL_SHIFT)
        func = space.read_u64(item.work + WORK_FUNC)
        name = (self.machine.symbolize(func) or f"0x{func:x}").split("+", 1)[0]
        module = self.machine.module_at(func)
        worker.workqueue = f"{item.wq.name} {name}" + (f" [{module.name}]" if module else "")
        return func, item.work


    def _check_leak(self, worker, item: Item) -> None:
        """process_one_work after the work function: returning atomic is reported (the count
        stays as it is)."""
        count = self.sched.preempt_count()
        if not count:
            return
        kernel = self.machine.kernel
        func = self.machine.space.read_u64(item.work + WORK_FUNC)
        name = worker.workqueue.split(" ", 1)[1] if " " in worker.workqueue else hex(func)
        lines = sched_reports.workqueue_leak(kernel.machine(), worker.pid, worker.comm, count,
                                             name, worker.workqueue)
        sched_reports.emit_plain(kernel, lines)


def of(machine) -> Workqueues:
    queues = machine.objects.get("workqueues")
    if queues is None:
        queues = machine.objects["workqueues"] = Workqueues(machine)
    return queues
