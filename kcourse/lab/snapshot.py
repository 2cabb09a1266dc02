"""A saved guest at its READY point, so that a fresh guest starts in a fraction of a second.

Debian's kernel takes 4-6 s to boot under TCG, and every fresh guest boots the same bytes
to the same point: bash waiting for its first line, the boot log cleared. QEMU can save that
point (migration to a file: `migrate exec:cat > FILE`, the stream QEMU writes when it moves
a running guest to another host) and start another QEMU from it (`-incoming exec:cat FILE`).
The guest it gives is the same guest, byte for byte, as a fresh boot at READY: same memory,
registers, devices and kernel log. What is shared by every guest started from one snapshot,
and would differ between two boots: the marker token, the random pool (so hashed %p
pointers and boot_id repeat from one guest to the next), and the uptime
counted from the saving boot.

Only the default guest is saved: one CPU, the lab's command line, no files at boot (files go
in after the restore over the console, as Guest.run sends them). A snapshot belongs to one
QEMU binary, kernel, base initramfs and guest protocol (guest.BOOT, guest.head): its file
name carries their hash, so a changed part is a new snapshot, and the old one is removed when
the new one is written. A snapshot QEMU refuses (a truncated file, another build) is deleted
and the guest boots. KCOURSE_LAB_SNAPSHOT=0 turns snapshots off (every guest boots).

The files live beside the lab (kcourse.lab.prepare.lab_dir: the user's cache), about 110 MB.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from kcourse.lab import guest
from kcourse.lab.prepare import Lab

PREFIX = "snapshot-"


def enabled() -> bool:
    return os.environ.get("KCOURSE_LAB_SNAPSHOT", "1") != "0"


@dataclass(frozen=True)
class Snapshot:
    state: Path  # QEMU's migration stream, named PREFIX<key>-<token>.state
    token: str  # the marker token of the guest that was saved


def _folder(lab: Lab) -> Path:
    return Path(lab.kernel).parent  # the lab's own folder in the cache


def _stat_key(path: Path) -> str:
    st = path.stat()
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def key(qemu: str, lab: Lab, command: list[str]) -> str | None:
    """What a saved guest depends on: QEMU, the kernel and base archive, the command line
    (memory, CPU model, kernel arguments) and the guest's side of the protocol. None when
    one of the files cannot be read (then the guest boots)."""
    try:
        files = [_stat_key(Path(qemu)), _stat_key(Path(lab.kernel)), _stat_key(Path(lab.initrd))]
    except OSError:
        return None
    parts = files + [" ".join(command[1:]), guest.BOOT, guest.head("TOKEN")]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _name(digest: str, token: str) -> str:
    # the token is in the name, so that the stream and its token are renamed into place as
    # one: two guests saving at once each leave a whole snapshot, never one's stream with
    # the other's token
    return f"{PREFIX}{digest}-{token}.state"


def find(lab: Lab, digest: str) -> Snapshot | None:
    """A complete saved guest for this key, if there is one (the newest)."""
    found = []
    for path in _folder(lab).glob(f"{PREFIX}{digest}-*.state"):
        token = path.stem.rpartition("-")[2]
        with contextlib.suppress(OSError):
            if token.isalnum() and path.is_file():
                found.append((path.stat().st_mtime_ns, path, token))
    if not found:
        return None
    _mtime, path, token = max(found)
    return Snapshot(path, token)


def discard(snapshot: Snapshot) -> None:
    with contextlib.suppress(OSError):
        snapshot.state.unlink()


class Monitor:
    """A QMP connection to one QEMU (docs/interop/qmp-spec.txt): one JSON command a line,
    answered by one {"return": ...} or {"error": ...}; events are skipped."""

    def __init__(self, path: str, deadline: float):
        self._sock = socket.socket(socket.AF_UNIX)
        while True:
            try:
                self._sock.connect(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        self._sock.settimeout(max(0.1, deadline - time.monotonic()))
        self._file = self._sock.makefile("rw")
        self._file.readline()  # the greeting
        self.execute("qmp_capabilities")

    def execute(self, command: str, **arguments) -> dict:
        message = {"execute": command} | ({"arguments": arguments} if arguments else {})
        self._file.write(json.dumps(message) + "\n")
        self._file.flush()
        while True:
            line = self._file.readline()
            if not line:
                raise OSError("QEMU closed its monitor")
            reply = json.loads(line)
            if "error" in reply:
                raise OSError(reply["error"].get("desc", "QMP error"))
            if "return" in reply:
                return reply["return"]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
            self._sock.close()


def monitor_dir() -> str:
    """A private folder for one QEMU's monitor socket (removed by the caller)."""
    return tempfile.mkdtemp(prefix="kcourse-qmp-")


def monitor_args(folder: str) -> list[str]:
    return ["-qmp", f"unix:{folder}/qmp,server=on,wait=off"]


def incoming_args(snapshot: Snapshot) -> list[str]:
    return ["-incoming", f"exec:cat {shlex.quote(str(snapshot.state))}"]


def wait_running(monitor: Monitor, deadline: float) -> None:
    """Until the restored guest runs. Console bytes sent before QEMU has loaded the serial
    port's state would be lost with the port's old state, so nothing is sent before."""
    while monitor.execute("query-status").get("status") != "running":
        if time.monotonic() > deadline:
            raise OSError("the saved guest did not start")
        time.sleep(0.01)


def save(monitor: Monitor, lab: Lab, digest: str, token: str, deadline: float) -> None:
    """Write the running guest to its snapshot file, then let it run on. The stream goes to a
    temporary file renamed into place when complete, so a reader never sees half of one."""
    final = _folder(lab) / _name(digest, token)
    partial = final.with_name(f".{final.name}.{os.getpid()}.{time.monotonic_ns()}")
    try:
        monitor.execute("migrate", uri=f"exec:cat > {shlex.quote(str(partial))}")
        while True:
            status = monitor.execute("query-migrate").get("status")
            if status == "completed":
                break
            if status in ("failed", "cancelled") or time.monotonic() > deadline:
                raise OSError(f"saving the guest: migration {status}")
            time.sleep(0.02)
        os.replace(partial, final)
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
        # a completed migration leaves the guest paused (postmigrate): it runs on
        monitor.execute("cont")
    stale = time.time() - 600  # a save that was killed midway leaves its partial file
    for old in _folder(lab).glob(f"*{PREFIX}*.state"):
        with contextlib.suppress(OSError):
            partial_left = old.name.startswith(".") and old.stat().st_mtime < stale
            if partial_left or (not old.name.startswith(".") and old.name != final.name):
                old.unlink()  # (a guest still reading one keeps its open file)
