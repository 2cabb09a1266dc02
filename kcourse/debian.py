"""Fetch Debian packages into kcourse's cache without installing them.

Used by the differential tests, the benchmarks and the real-kernel lab: `apt-get download`
(needs no root) plus `dpkg -x` into $XDG_CACHE_HOME/kcourse/debian/<package>/. Packages are
always named in full, for the pinned course kernel (kcourse.pin), never through Debian's
moving `-amd64` meta-packages; the cache is keyed by package name, so two pins never mix.
"""

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from kcourse.errors import KcourseError
from kcourse.paths import cache_dir


class DebianUnavailable(KcourseError):
    """apt/dpkg are missing, or the package registry cannot be reached."""


def _run(cmd: list[str], cwd: Path | None = None, timeout: int = 600) -> str:
    if shutil.which(cmd[0]) is None:
        raise DebianUnavailable(f"{cmd[0]} not found: this needs a Debian/Ubuntu machine with apt")
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as err:
        raise DebianUnavailable(f"{' '.join(cmd)} timed out after {timeout} s") from err
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise DebianUnavailable(f"{' '.join(cmd)} failed: {last}")
    return proc.stdout


def package_dir(package: str) -> Path:
    """Where fetch_package unpacks `package`: cache_dir()/debian/<package>/."""
    return cache_dir() / "debian" / package


def fetch_package(package: str) -> Path:
    """Download and unpack one package; return the folder it was unpacked into (cached)."""
    target = package_dir(package)
    done = target / ".unpacked"
    if done.exists():
        return target
    with tempfile.TemporaryDirectory(prefix="kcourse-deb-") as tmp:
        try:
            _run(["apt-get", "download", package], cwd=Path(tmp))
        except DebianUnavailable as err:
            # apt-get's last line for a name its lists do not hold (apt-pkg/cacheset.cc)
            if any(text in str(err) for text in ("Unable to locate package",
                                                  "Couldn't find any package", "Can't select")):
                from kcourse.pin import gone_message

                raise DebianUnavailable(gone_message(package)) from err
            raise
        debs = list(Path(tmp).glob("*.deb"))
        if len(debs) != 1:
            raise DebianUnavailable(f"apt-get download {package} produced {len(debs)} files")
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        _run(["dpkg", "-x", str(debs[0]), str(target)])
    done.write_text(package + "\n")
    return target


def image_modules_dir(flavour: str = "amd64") -> Path:
    """/lib/modules/<release> of Debian's linux-image package for the pinned course kernel."""
    from kcourse import pin

    release = pin.release(flavour)
    root = fetch_package(pin.image_package(flavour))
    path = root / "lib" / "modules" / release
    if not path.is_dir():
        raise DebianUnavailable(f"linux-image-{release} has no lib/modules/{release}")
    return path


def cached_image_modules_dir(release: str | None = None) -> Path | None:
    """/lib/modules/<release> of Debian's linux-image-<release> if the cache holds it, else None.

    Never downloads: it only looks for what fetch_package left (the package unpacked, its
    `.unpacked` mark written last). release=None means the pinned course kernel (kcourse.pin).
    """
    if release is None:
        from kcourse import pin

        release = pin.release()
    package = package_dir(f"linux-image-{release}")
    tree = package / "lib" / "modules" / release
    return tree if (package / ".unpacked").exists() and tree.is_dir() else None


def modname(name: str) -> str:
    """kmod's modname_normalize (libkmod-util.c): '-' becomes '_', the name ends at a '.'."""
    return name.split(".", 1)[0].replace("-", "_")


def depends_closure(wanted: Iterable[str], depends: Callable[[str], str | None]) -> list[str]:
    """The named modules and every module their `depends=` tags name, transitively.

    depends(name) gives a module's depends= value ('' when it has none; modpost writes it:
    the modules whose exports this one uses), None when the tree has no such module. Names
    are kmod's (modname), in the order found. The real-kernel lab stages this set in its
    guest (kcourse.lab.prepare) and the simulator puts the same set in its module tree
    (kcourse.shell.moddir), so both /lib/modules hold the same files.
    """
    chosen: list[str] = []
    todo = [modname(n) for n in wanted]
    while todo:
        name = todo.pop()
        if name in chosen:
            continue
        value = depends(name)
        if value is None:
            raise KcourseError(f"Debian's kernel has no module named {name}")
        chosen.append(name)
        todo += [modname(d) for d in value.split(",") if d]
    return chosen
