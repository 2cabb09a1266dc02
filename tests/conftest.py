"""Shared fixtures. Tests that need real tools or Debian's registry skip with a reason,
except under CI (KCOURSE_REQUIRE_REAL=1), where a missing prerequisite is a failure."""

import os
import shutil

import pytest

from kcourse.paths import course_module, modules_dir

REQUIRE_REAL = os.environ.get("KCOURSE_REQUIRE_REAL") == "1"
# Every test build runs the real make (the notebooks' kernels inherit this too), and the
# builds in pytest's temporary folders do not push the learner's lessons out of the kbuild
# cache; tests/test_kbuild_cache.py turns it on for itself.
os.environ.setdefault("KCOURSE_BUILD_CACHE", "0")


def need(condition: bool, reason: str) -> None:
    """Skip (or, under CI, fail) when a real-world prerequisite is missing."""
    if condition:
        return
    if REQUIRE_REAL:
        pytest.fail(f"CI requires it: {reason}")
    pytest.skip(reason)


def need_tool(name: str) -> str:
    path = shutil.which(name)
    need(path is not None, f"{name} is not installed")
    return path


@pytest.fixture(scope="session")
def debian_modules_dir():
    """Debian's full linux-image module tree of the pinned course kernel (cached once)."""
    from kcourse.debian import DebianUnavailable, image_modules_dir

    try:
        return image_modules_dir("amd64")
    except DebianUnavailable as err:
        need(False, f"Debian's linux-image package is unavailable: {err}")


@pytest.fixture(scope="session")
def tree_shell(debian_modules_dir):
    """tree_shell(names, **kw): a Shell whose /lib/modules holds these Debian modules and
    their dependencies (Shell(debian_tree=names)), or a skip (under CI, a failure) when
    Debian's tree for the pinned kernel is not there."""
    from kcourse.shell import Shell
    from kcourse.shell.moddir import DebianTreeMissing

    def make(names, **kwargs):
        try:
            return Shell(debian_tree=names, **kwargs)
        except DebianTreeMissing as err:
            need(False, str(err))
    return make


@pytest.fixture(scope="session")
def lab():
    """The prepared real-kernel lab (kcourse.lab.prepare_lab), or a skip (under CI, a
    failure) without QEMU or the lab's Debian packages."""
    need_tool("qemu-system-x86_64")
    from kcourse.errors import KcourseError
    from kcourse.lab import prepare_lab

    try:
        return prepare_lab()
    except KcourseError as err:
        need(False, f"the real-kernel lab cannot be prepared: {err}")


def recorded(path) -> str:
    """A recording of the real kernel (tests/data/*/real.expected and the like) without its
    `#|` header lines."""
    return "".join(line for line in path.read_text().splitlines(True)
                   if not line.startswith("#|"))


def course_module_names() -> list[str]:
    return sorted(p.parent.name for p in modules_dir().glob("*/*.ko"))


@pytest.fixture
def hello_ko():
    return course_module("hello")
