"""A small in-memory filesystem for the build-pipeline model (never touches the host's).

Paths are absolute POSIX paths. Files hold text, bytes, or nothing but a note saying what the
real file would be (a 60 MB vmlinux is not worth faking); a .ko file may also carry the facts
depmod reads from it. Every read and write is recorded while a `recording()` is open, so a
make target can report exactly what it read and wrote.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from kcourse.errors import KcourseError


@dataclass
class File:
    content: str | bytes | None = None
    note: str = ""
    facts: object = None            # kcourse.build.depmod.ModuleFacts for a .ko


@dataclass
class Link:
    target: str


@dataclass
class Recording:
    reads: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def _add(self, kind: list[str], path: str) -> None:
        if path not in kind:
            kind.append(path)


def norm(path: str) -> str:
    if not path.startswith("/"):
        raise KcourseError(f"VFS paths are absolute: {path!r}")
    return posixpath.normpath(path).replace("//", "/")


class VFS:
    """Files, directories and symlinks in dictionaries."""

    def __init__(self) -> None:
        self.files: dict[str, File | Link] = {}
        self.dirs: set[str] = {"/"}
        self._rec: list[Recording] = []

    # -- recording ----------------------------------------------------------------------
    @contextmanager
    def recording(self) -> Iterator[Recording]:
        rec = Recording()
        self._rec.append(rec)
        try:
            yield rec
        finally:
            self._rec.remove(rec)

    def _note(self, kind: str, path: str) -> None:
        for rec in self._rec:
            rec._add(getattr(rec, kind), path)

    # -- queries ------------------------------------------------------------------------
    def resolve(self, path: str, depth: int = 0) -> str:
        """Follow symlinks in every component (relative targets are relative to the link)."""
        path = norm(path)
        if depth > 40:
            raise KcourseError(f"{path}: too many levels of symbolic links")
        parts = path.strip("/").split("/") if path != "/" else []
        current = "/"
        for i, part in enumerate(parts):
            current = posixpath.join(current, part)
            node = self.files.get(current)
            if isinstance(node, Link):
                target = node.target if node.target.startswith("/") else posixpath.join(
                    posixpath.dirname(current), node.target)
                rest = "/".join(parts[i + 1:])
                return self.resolve(posixpath.join(target, rest) if rest else target, depth + 1)
        return norm(current)

    def exists(self, path: str) -> bool:
        real = self.resolve(path)
        return real in self.dirs or isinstance(self.files.get(real), File)

    def is_dir(self, path: str) -> bool:
        return self.resolve(path) in self.dirs

    def is_link(self, path: str) -> bool:
        return isinstance(self.files.get(norm(path)), Link)

    def readlink(self, path: str) -> str:
        node = self.files.get(norm(path))
        if not isinstance(node, Link):
            raise KcourseError(f"{path}: not a symbolic link")
        return node.target

    def read(self, path: str) -> File:
        real = self.resolve(path)
        node = self.files.get(real)
        if not isinstance(node, File):
            raise KcourseError(f"{path}: No such file or directory")
        self._note("reads", norm(path))
        return node

    def text(self, path: str) -> str:
        content = self.read(path).content
        return content.decode() if isinstance(content, bytes) else (content or "")

    def listdir(self, path: str) -> list[str]:
        real = self.resolve(path)
        if real not in self.dirs:
            raise KcourseError(f"{path}: No such file or directory")
        prefix = real.rstrip("/") + "/"
        names = {p[len(prefix):].split("/", 1)[0] for p in [*self.files, *self.dirs]
                 if p.startswith(prefix) and p != real}
        return sorted(names)

    def walk(self, root: str) -> list[str]:
        """Every file and link under root (not following links), sorted."""
        prefix = norm(root).rstrip("/") + "/"
        return sorted(p for p in self.files if p.startswith(prefix))

    def find(self, root: str = "/", name_contains: str = "") -> list[str]:
        prefix = norm(root).rstrip("/") + "/"
        return sorted(p for p in [*self.files, *self.dirs]
                      if p.startswith(prefix) and name_contains in posixpath.basename(p))

    def tree(self, root: str) -> str:
        """`find ROOT` sorted, with '-> target' for links: a view for the lesson."""
        root = norm(root)
        lines = []
        for path in sorted(p for p in [*self.files, *self.dirs] if p.startswith(root)):
            node = self.files.get(path)
            shown = path
            if isinstance(node, Link):
                shown += f" -> {node.target}"
            elif isinstance(node, File) and node.note:
                shown += f"    ({node.note})"
            elif path in self.dirs:
                shown += "/"
            lines.append(shown)
        return "\n".join(lines)

    # -- changes ------------------------------------------------------------------------
    def mkdir(self, path: str) -> None:
        path = norm(path)
        while path not in self.dirs:
            if isinstance(self.files.get(path), File):
                raise KcourseError(f"{path}: File exists")
            self.dirs.add(path)
            path = posixpath.dirname(path)

    def write(self, path: str, content: str | bytes | None = None, note: str = "",
              facts: object = None) -> None:
        path = self.resolve(path)
        if path in self.dirs:
            raise KcourseError(f"{path}: Is a directory")
        self.mkdir(posixpath.dirname(path))
        self.files[path] = File(content, note, facts)
        self._note("writes", path)

    def copy(self, src: str, dst: str) -> None:
        node = self.read(src)
        self.write(dst, node.content, node.note, node.facts)

    def symlink(self, path: str, target: str) -> None:
        path = norm(path)
        if path in self.files or path in self.dirs:
            raise KcourseError(f"{path}: File exists")
        self.mkdir(posixpath.dirname(path))
        self.files[path] = Link(target)
        self._note("writes", path)

    def remove(self, path: str) -> None:
        path = norm(path)
        if self.files.pop(path, None) is not None:
            self._note("removed", path)

    def rmtree(self, path: str) -> None:
        path = norm(path)
        prefix = path.rstrip("/") + "/"
        for p in [p for p in self.files if p.startswith(prefix) or p == path]:
            self.remove(p)
        self.dirs -= {d for d in self.dirs if d.startswith(prefix) or d == path}
