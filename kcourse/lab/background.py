"""Work the lab does in the background: daemon threads taking tasks in order, N at a time.

    BOOTS.submit(fn, *args) -> Future      at most WORKERS guests booting at once, FIFO
    SPAWNER.submit(fn, *args) -> Future    the one long-lived thread that starts every QEMU

Daemon threads, not concurrent.futures' pool: the interpreter does not wait for them at exit
(a boot still under way would hold up the end of a notebook's kernel by its timeout), and the
guests they leave are stopped by their finalizers (kcourse.lab.live).
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

# Guests booted at once: each QEMU (TCG, -smp 1) keeps one host core busy, and the machines the
# course targets have two.
WORKERS = 2


class Workers:
    """`count` daemon threads running submitted calls in submission order."""

    def __init__(self, count: int, name: str):
        self.count = count
        self.name = name
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        self._tasks.put((future, fn, args))
        with self._lock:
            if len(self._threads) < self.count:
                thread = threading.Thread(target=self._work, daemon=True,
                                          name=f"{self.name}-{len(self._threads)}")
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            future, fn, args = self._tasks.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as err:  # handed to whoever waits on the future
                future.set_exception(err)


BOOTS = Workers(WORKERS, "kcourse-guest")
# PR_SET_PDEATHSIG fires when the *thread* that started a process ends (prctl(2)), so every
# QEMU is started from this one thread, which lives as long as the process.
SPAWNER = Workers(1, "kcourse-qemu-spawner")
