"""The file system a kshell user sees: one tree over the simulated kernel and the course files.

The rule (the same in %%kshell, `kcourse sim` and Shell()):

    /proc, /sys, /dev       the simulated kernel (its VFS: read_file, write_file, list_dir, open)
    /lib/modules/<release>  the simulated module tree: every course module as extra/<name>.ko
                            (and Debian's kernel/... when the Shell was asked for them), with
                            modules.dep, .alias, .symbols, .softdep, .devname from depmod
    /root/modules           the course's data/modules folder (read-only); the shell starts
                            here, so `insmod hello/hello.ko` works as it does in the repository
    /, /root, /lib          directories holding only the entries above
    /tmp/NAME               a file the shell wrote there (`> /tmp/out`, dd of=/tmp/out): kept
                            in the simulated machine's memory, never on the host; `rm` takes it
                            away. Any other name in /tmp is the host's (read-only, see below)
    any other absolute path the host's own file, read-only (so a module you built yourself can
                            be loaded with `insmod /home/you/build/mine.ko`)
    the working folder      `kcourse sim` starts in the caller's folder (Shell(workdir=...)),
                            which stays the host's even under /root (root's home is /root)

Relative paths resolve against the working directory (`cd` changes it; `cd` alone goes to
/root). Nothing the shell does writes to the host: writes go to the simulated kernel only.

sysfs directories are read in kernfs order (fs/kernfs/dir.c keeps siblings in an rbtree
sorted by kernfs_name_hash, then name, and readdir walks it in that order): that is the
order kmod sees when it reads /sys/module/<m>/holders, so it is the order lsmod and rmmod
print holders in. `ls` sorts names itself (LC_ALL=C byte order).
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from dataclasses import dataclass
from pathlib import Path

from kcourse.errors import KcourseError
from kcourse.shell.context import TaskKilled
from kcourse.shell.moddir import ModuleTree

COURSE_DIR = "/root/modules"
HOME = "/root"
KERNEL_TOPS = ("proc", "sys", "dev")
TMP = "/tmp"
SECT_READ_SIZE = 19  # kernel/module/sysfs.c: MODULE_SECT_READ_SIZE = 3 + BITS_PER_LONG / 4
GOLDEN_RATIO_64 = 0x61C8864680B583EB  # include/linux/hash.h


class FsError(Exception):
    """A failed file operation: errno and the path as the user typed it."""

    def __init__(self, err: int, path: str, partial: str = ""):
        super().__init__(f"{path}: {os.strerror(err)}")
        self.errno = err
        self.path = path
        self.partial = partial  # what a read returned before it failed (cat prints it)

    @property
    def strerror(self) -> str:
        return os.strerror(self.errno)


@dataclass(frozen=True)
class Entry:
    """What `ls -l` needs to know about one directory entry."""

    name: str
    kind: str  # "file" | "dir" | "link" | "chr" | "blk"
    mode: int  # permission bits
    size: int = 0
    target: str | None = None
    nlink: int = 1
    uid: int = 0
    gid: int = 0
    rdev: int = 0  # a device node's dev_t, the kernel's MKDEV (major << 20 | minor)

    @property
    def major(self) -> int:
        return self.rdev >> 20  # include/linux/kdev_t.h MAJOR (MINORBITS 20)

    @property
    def minor(self) -> int:
        return self.rdev & 0xFFFFF


def kernfs_name_hash(name: str) -> int:
    """fs/kernfs/dir.c kernfs_name_hash (ns = NULL) on x86-64.

    partial_name_hash and end_name_hash are include/linux/stringhash.h; end_name_hash is
    hash_long(hash, 32) = hash_64_generic: (hash * GOLDEN_RATIO_64) >> 32 (include/linux/hash.h).
    """
    h = 0
    for byte in name.encode():
        c = byte - 256 if byte >= 128 else byte  # `char` is signed on x86
        c &= 0xFFFFFFFFFFFFFFFF
        h = ((h + (c << 4) + (c >> 4)) * 11) & 0xFFFFFFFFFFFFFFFF
    h = ((h * GOLDEN_RATIO_64) & 0xFFFFFFFFFFFFFFFF) >> 32
    h &= 0x7FFFFFFF
    if h < 2:
        h += 2
    if h >= 0x7FFFFFFF:
        h = 0x7FFFFFFE
    return h


def kernfs_order(names: list[str]) -> list[str]:
    """Names in the order readdir returns them from a sysfs directory."""
    return sorted(names, key=lambda n: (kernfs_name_hash(n), n.encode()))


def _errno_of(err: Exception) -> int:
    return getattr(err, "errno", None) or errno.EIO


def host_stat(path: Path, vpath: str, follow: bool = True) -> os.stat_result:
    """stat(2) / lstat(2) of a host file, every failure an FsError: a name too long
    (ENAMETOOLONG), a link loop (ELOOP), a NUL byte (no such name can exist: ENOENT)."""
    try:
        return os.stat(path) if follow else os.lstat(path)
    except OSError as err:
        raise FsError(err.errno or errno.ENOENT, vpath) from None
    except ValueError:
        raise FsError(errno.ENOENT, vpath) from None


class SimFS:
    """Path resolution and file access for the shell, over a kernel and a module tree."""

    def __init__(self, kernel, tree: ModuleTree, course_dir: Path, workdir: str | None = None):
        self.kernel = kernel
        self.tree = tree
        self.course_dir = Path(course_dir)
        self.workdir = workdir  # a host folder seen at its own path (see the module docstring)
        # modules the learner built in a notebook (%%kmodule NAME): /root/modules/NAME/, next
        # to the course's own, so `insmod NAME/NAME.ko` works as for hello/hello.ko
        self.learner_modules: dict[str, Path] = {}
        self.tmp: dict[str, bytes] = {}  # /tmp/NAME -> contents, for files the shell wrote

    # ------------------------------------------------------------------ paths
    @staticmethod
    def abspath(cwd: str, path: str) -> str:
        """Lexical resolution, like bash's logical `cd`: '..' removes the previous component."""
        if not path:
            return cwd
        joined = path if path.startswith("/") else posixpath.join(cwd, path)
        norm = posixpath.normpath(joined)
        return "/" + norm.lstrip("/") if norm != "/" else "/"

    def _virtual_dirs(self) -> dict[str, list[str]]:
        dirs = {
            "/": ["dev", "lib", "proc", "root", "sys"],
            "/root": ["modules"],
            "/lib": ["modules"],
            "/lib/modules": [self.tree.release],
            **self.tree.directories,
        }
        if self.workdir:  # its parents list it: `ls /root` shows /root/kcourse-work
            parent, name = posixpath.split(self.workdir)
            while name:
                if parent in dirs and name not in dirs[parent]:
                    dirs[parent] = sorted([*dirs[parent], name])
                parent, name = posixpath.split(parent)
        return dirs

    def in_workdir(self, vpath: str) -> bool:
        return bool(self.workdir) and (vpath == self.workdir
                                       or vpath.startswith(self.workdir.rstrip("/") + "/"))

    @staticmethod
    def can_mount(folder: str) -> bool:
        """A host folder can be the working folder unless the simulated kernel's own trees
        (/proc, /sys, /dev, /lib/modules) or the course folder hide it."""
        top = folder.split("/")[1] if folder != "/" else ""
        return bool(top) and top not in KERNEL_TOPS and not folder.startswith(
            ("/lib/modules", COURSE_DIR)) and folder not in ("/lib", "/root")

    def locate(self, vpath: str) -> tuple[str, object]:
        """Where an absolute path lives: ("kernel", path) | ("host", Path) | ("virtual", names)
        | ("index", text) | ("missing", None)."""
        if self.in_workdir(vpath):
            return "host", Path(vpath)
        name = self.tmp_name(vpath)
        if name and name in self.tmp:
            return "tmp", name
        virtual = self._virtual_dirs()
        if vpath in virtual:
            return "virtual", virtual[vpath]
        top = vpath.split("/")[1]
        if top in KERNEL_TOPS:
            return "kernel", vpath
        if vpath.startswith(self.tree.root + "/"):
            rel = vpath[len(self.tree.root) + 1:]
            if rel in self.tree.index_files:
                return "index", self.tree.index_files[rel]
            host = self.tree.host_path(rel)
            return ("host", host) if host is not None else ("missing", None)
        if vpath == COURSE_DIR or vpath.startswith(COURSE_DIR + "/"):
            rel = vpath[len(COURSE_DIR) + 1:]
            first, _, rest = rel.partition("/")
            if first in self.learner_modules:
                return "host", self.learner_modules[first] / rest
            return "host", self.course_dir / rel
        if top in ("lib", "root"):
            return "missing", None
        return "host", Path(vpath)

    @staticmethod
    def tmp_name(vpath: str) -> str:
        """NAME for /tmp/NAME (a file directly in /tmp), else ''."""
        parent, name = posixpath.split(vpath)
        return name if parent == TMP and name not in ("", ".", "..") else ""

    def tmp_open(self, vpath: str, append: bool = False) -> None:
        """open(O_WRONLY|O_CREAT, and O_TRUNC unless appending) of /tmp/NAME: a host file of
        that name is shadowed by the shell's own (empty) one."""
        name = self.tmp_name(vpath)
        if not append or name not in self.tmp:
            self.tmp[name] = b""

    def tmp_writable(self, vpath: str) -> bool:
        """Whether a write to vpath goes to the shell's /tmp (a name directly in /tmp that is
        not a directory of the host's)."""
        name = self.tmp_name(vpath)
        return bool(name) and not self.in_workdir(vpath) and (
            name in self.tmp or not Path(vpath).is_dir())

    def _follow(self, vpath: str) -> str:
        """Resolve sysfs symlinks along a kernel path (holders/<m> -> ../../<m>)."""
        parts = vpath.strip("/").split("/")
        current = "/" + parts[0]
        for i, part in enumerate(parts[1:], start=1):
            entry = self._kernel_entry(current, part)
            nxt = f"{current}/{part}"
            if entry is not None and entry.kind == "link" and entry.target:
                nxt = self.abspath(current, entry.target)
                if i == len(parts) - 1:
                    return nxt
            current = nxt
        return current

    def _kernel_entry(self, parent: str, name: str) -> Entry | None:
        try:
            entries = self._kernel_list(parent)
        except FsError:
            return None
        return next((e for e in entries if e.name == name), None)

    # ------------------------------------------------------------------ kernel adapters
    def _kernel_list(self, vpath: str) -> list[Entry]:
        try:
            raw = self.kernel.list_dir(vpath)
        except TaskKilled:
            raise
        except KcourseError as err:  # KernelErrno
            raise FsError(_errno_of(err), vpath) from None
        return [self._entry_of(vpath, d) for d in raw]

    @staticmethod
    def _entry_of(parent: str, d) -> Entry:
        kind = getattr(d, "kind", "file")
        mode = int(getattr(d, "mode", 0o444)) & 0o7777
        target = getattr(d, "target", None)
        size = getattr(d, "size", None)
        if size is None:
            if kind == "file" and parent.startswith("/sys/"):
                size = SECT_READ_SIZE if parent.endswith("/sections") else 4096
            else:
                size = 0
        return Entry(d.name, kind if kind in ("file", "dir", "link", "chr", "blk") else "file",
                     mode,
                     int(size), target, 2 if kind == "dir" else 1, int(getattr(d, "uid", 0)),
                     int(getattr(d, "gid", 0)), int(getattr(d, "rdev", 0)))

    def _kernel_call(self, vpath: str, fn, *args):
        try:
            return fn(vpath, *args)
        except TaskKilled:
            raise
        except KcourseError as err:
            code = _errno_of(err)
            if getattr(err, "partial", ""):
                raise FsError(code, vpath, err.partial) from None
            if code in (errno.ENOENT, errno.ENOTDIR):
                real = self._follow(vpath)
                if real != vpath:
                    try:
                        return fn(real, *args)
                    except TaskKilled:
                        raise
                    except KcourseError as err2:
                        raise FsError(_errno_of(err2), vpath) from None
            raise FsError(code, vpath) from None

    # ------------------------------------------------------------------ operations
    def stat(self, vpath: str) -> Entry:
        """lstat(): the entry itself (a link is reported as a link)."""
        kind, where = self.locate(vpath)
        name = posixpath.basename(vpath) or "/"
        if kind == "virtual":
            return Entry(name, "dir", 0o755, 0, None, 2)
        if kind == "index":
            return Entry(name, "file", 0o644, len(str(where).encode()))
        if kind == "tmp":
            return Entry(name, "file", 0o644, len(self.tmp[str(where)]))
        if kind == "host":
            return self._host_stat(vpath, Path(str(where)), name)
        if kind == "kernel":
            if vpath.count("/") == 1:
                return Entry(name, "dir", 0o555 if name in ("proc", "sys") else 0o755, 0, None, 2)
            parent = posixpath.dirname(vpath)
            entry = self._kernel_entry(self._follow(parent) if parent.count("/") > 1 else parent,
                                       name)
            if entry is not None:
                return entry
        raise FsError(errno.ENOENT, vpath)

    @staticmethod
    def _host_stat(vpath: str, path: Path, name: str) -> Entry:
        st = host_stat(path, vpath, follow=False)
        if stat.S_ISDIR(st.st_mode):
            return Entry(name, "dir", st.st_mode & 0o7777, st.st_size, None, st.st_nlink)
        if stat.S_ISLNK(st.st_mode):
            try:
                target = os.readlink(path)
            except OSError:
                target = None   # the link went away between lstat and readlink
            return Entry(name, "link", 0o777, st.st_size, target)
        return Entry(name, "file", st.st_mode & 0o7777, st.st_size)

    def is_dir(self, vpath: str) -> bool:
        try:
            entry = self.stat(vpath)
        except FsError:
            return False
        if entry.kind == "link":
            kind, where = self.locate(vpath)
            if kind == "kernel":
                try:
                    self.listdir(vpath)
                    return True
                except FsError:
                    return False
            try:
                return stat.S_ISDIR(host_stat(Path(str(where)), vpath).st_mode)
            except FsError:
                return False
        return entry.kind == "dir"

    def listdir(self, vpath: str) -> list[Entry]:
        """The entries of a directory, in readdir order (kernfs order under /sys)."""
        kind, where = self.locate(vpath)
        if kind == "virtual":
            return [self.stat(posixpath.join(vpath, n)) for n in where]  # type: ignore[union-attr]
        if kind == "kernel":
            entries = self._kernel_call(vpath, self._kernel_list)
            if vpath.startswith("/sys"):
                order = {n: i for i, n in enumerate(kernfs_order([e.name for e in entries]))}
                entries.sort(key=lambda e: order[e.name])
            return entries
        if kind == "host":
            path = Path(str(where))
            if not stat.S_ISDIR(host_stat(path, vpath).st_mode):
                raise FsError(errno.ENOTDIR, vpath)
            try:
                names = os.listdir(path)
            except OSError as err:
                raise FsError(err.errno or errno.EACCES, vpath) from None
            hosts = {n: path / n for n in names}
            if vpath == COURSE_DIR:
                hosts.update(self.learner_modules)
            return [self._host_stat(posixpath.join(vpath, n), host, n)
                    for n, host in hosts.items() if vpath != TMP or n not in self.tmp] + (
                [self.stat(posixpath.join(TMP, n)) for n in self.tmp] if vpath == TMP else [])
        if kind == "index":
            raise FsError(errno.ENOTDIR, vpath)
        raise FsError(errno.ENOENT, vpath)

    def read_bytes(self, vpath: str) -> bytes:
        kind, where = self.locate(vpath)
        if kind == "virtual":
            raise FsError(errno.EISDIR, vpath)
        if kind == "index":
            return str(where).encode()
        if kind == "tmp":
            return self.tmp[str(where)]
        if kind == "kernel":
            text = self._kernel_call(vpath, self.kernel.read_file)
            return text if isinstance(text, bytes) else str(text).encode("utf-8", "surrogateescape")
        if kind == "host":
            path = Path(str(where))
            mode = host_stat(path, vpath).st_mode
            if stat.S_ISDIR(mode):
                raise FsError(errno.EISDIR, vpath)
            if not stat.S_ISREG(mode):
                # a FIFO would wait for a writer, a device may never end: the simulated
                # machine reads only the host's regular files
                raise FsError(errno.EOPNOTSUPP, vpath)
            try:
                return path.read_bytes()
            except OSError as err:
                raise FsError(err.errno or errno.EIO, vpath) from None
        raise FsError(errno.ENOENT, vpath)

    def host_file(self, vpath: str) -> Path:
        """The host file behind a path, for tools that read module files (insmod, modinfo)."""
        kind, where = self.locate(vpath)
        if kind == "host":
            path = Path(str(where))
            host_stat(path, vpath)   # FsError when missing, unreachable or unnameable
            return path
        if kind == "virtual":
            raise FsError(errno.EISDIR, vpath)
        if kind == "missing":
            raise FsError(errno.ENOENT, vpath)
        if kind == "tmp":
            raise FsError(errno.EOPNOTSUPP, vpath)  # the shell's own /tmp file is no host file
        raise FsError(errno.EACCES, vpath)

    def stat_errno(self, vpath: str) -> int:
        """What stat(2) (following links) fails with for a path, or 0: ENOENT, ENAMETOOLONG,
        ELOOP, ENOTDIR... (kmod_module_new_from_path reports it)."""
        kind, where = self.locate(vpath)
        if kind == "host":
            try:
                host_stat(Path(str(where)), vpath)
            except FsError as err:
                return err.errno
            return 0
        return 0 if self.exists(vpath) else errno.ENOENT

    def exists(self, vpath: str) -> bool:
        try:
            self.stat(vpath)
            return True
        except FsError:
            return False

    def write_text(self, vpath: str, text: str) -> None:
        """What `echo text > path` does: open for writing (O_CREAT), then write."""
        kind, _ = self.locate(vpath)
        if kind == "virtual":
            raise FsError(errno.EISDIR, vpath)
        if kind == "tmp" or kind == "host" and self.tmp_writable(vpath):
            self.write_bytes(vpath, text.encode("utf-8", "surrogateescape"))
            return
        if kind != "kernel":
            raise FsError(errno.EROFS, vpath)
        parent = posixpath.dirname(vpath)
        if not self.exists(vpath):
            # O_CREAT in a sysfs/procfs directory: kernfs has no ->create, so EACCES;
            # a missing directory is ENOENT (fs/namei.c open_last_lookups).
            raise FsError(errno.EACCES if self.is_dir(parent) else errno.ENOENT, vpath)
        if self.is_dir(vpath):
            raise FsError(errno.EISDIR, vpath)
        self._kernel_call(vpath, self.kernel.write_file, text)

    def write_bytes(self, vpath: str, data: bytes) -> None:
        """write(2) to /tmp/NAME, opened by tmp_open (or made now): appended at its end."""
        name = self.tmp_name(vpath)
        self.tmp[name] = self.tmp.get(name, b"") + data

    def unlink(self, vpath: str) -> None:
        """unlink(2): the shell's /tmp files and the nodes mknod made in /dev; elsewhere
        what the kernel's file system or the read-only host says."""
        kind, _ = self.locate(vpath)
        if kind == "tmp":
            del self.tmp[self.tmp_name(vpath)]
            return
        if kind == "kernel":
            self._kernel_call(vpath, self.kernel.unlink)
            return
        if not self.exists(vpath):
            raise FsError(errno.ENOENT, vpath)
        if self.is_dir(vpath) and kind != "virtual":
            raise FsError(errno.EISDIR, vpath)
        raise FsError(errno.EROFS, vpath)  # the host's files are read-only to the shell
