"""The files and directories that modules make in /proc, /sys and /dev, as the VFS sees them.

proc_create, proc_mkdir, kobject_create_and_add, sysfs_create_file, device_create (devtmpfs)
and debugfs_create_* add entries here; their removal takes them away. Each file carries `ops`,
the object that serves it (kcourse.kapi: it runs the module's own callbacks): the Kernel opens
a file with `ops.open(node)`, which returns an open-file handle with read(), write(data) and
release(), and `ref`, the module whose reference the open took (try_module_get in
fs/char_dev.c chrdev_open and fops_get; None for /proc and sysfs files, which hold no module
reference in 6.1: fs/proc/inode.c use_pde, fs/kernfs/file.c kernfs_get_active).

Entries outlive the module that made them when it forgets to remove them, as in the kernel:
a read then runs into the module's freed memory and oopses. Only a load the simulator had to
stop (kcourse.kernel.kernel.SimulatorLimit) takes its module's entries away (forget()).

Names follow the kernel's rules for each tree (fs/proc/generic.c __proc_create, fs/kernfs/dir.c);
the callers check them. This table only keeps paths: an absolute path, no trailing slash.
"""

from __future__ import annotations

import posixpath
import stat
from dataclasses import dataclass, field


@dataclass
class Node:
    path: str
    mode: int  # st_mode, file type bits included
    owner: object = None  # the Module that made it (whose code serves it), or None
    ops: object = None  # what serves a file: ops.open(node) -> handle (see module docstring)
    size: int = 0  # st_size (proc_set_size; sysfs attributes are 4096, kernfs)
    uid: int = 0
    gid: int = 0
    rdev: int = 0  # a device node's dev_t (MKDEV: major << 20 | minor)
    data: dict = field(default_factory=dict)  # what the kapi side keeps about it

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)


class NodeTable:
    """path -> Node for what modules added; directories list their children."""

    def __init__(self):
        self._nodes: dict[str, Node] = {}
        # parent directory -> {path: node} of its entries, so that a listing costs what the
        # directory holds, not what the whole table holds
        self._children: dict[str, dict[str, Node]] = {}

    def add(self, node: Node) -> Node:
        if node.path in self._nodes:
            raise ValueError(f"{node.path} exists")
        self._nodes[node.path] = node
        self._children.setdefault(posixpath.dirname(node.path), {})[node.path] = node
        return node

    def _drop(self, path: str) -> None:
        node = self._nodes.pop(path, None)
        if node is None:
            return
        parent = posixpath.dirname(path)
        siblings = self._children.get(parent)
        if siblings is not None:
            siblings.pop(path, None)
            if not siblings:
                del self._children[parent]

    def get(self, path: str) -> Node | None:
        return self._nodes.get(path)

    def remove(self, path: str) -> list[Node]:
        """Take away path and everything below it; returns what was removed, deepest last."""
        gone = [n for p, n in self._nodes.items() if p == path or p.startswith(path + "/")]
        for node in gone:
            self._drop(node.path)
        return gone

    def children(self, path: str) -> list[Node]:
        """The entries directly in `path`, in the order they were made."""
        return list(self._children.get(path.rstrip("/") or "/", {}).values())

    def forget(self, owner) -> list[Node]:
        """Remove every entry `owner` made (a load the simulator stopped: state unwound)."""
        gone = [n for n in self._nodes.values() if n.owner is owner]
        for node in gone:
            self._drop(node.path)
        return gone

    def snapshot(self) -> tuple:
        return tuple(sorted((p, n.mode, n.size, n.uid, n.gid, n.rdev)
                            for p, n in self._nodes.items()))

    def __iter__(self):
        return iter(list(self._nodes.values()))
