"""The pinned kernel's build tree, without root: installed, or fetched into kcourse's cache.

Real kbuild needs three Debian packages of one version (kcourse.pin.build_packages):
`linux-headers-<release>` (.config, Module.symvers, generated headers), the arch-independent
`linux-headers-<abi>-common` and `linux-kbuild-6.1` (modpost, fixdep, the scripts). When
/usr/src/linux-headers-<release> is not installed, they are downloaded with `apt-get download`
(no root) and unpacked with `dpkg -x` into one root, $XDG_CACHE_HOME/kcourse/headers/<release>/,
so the packages' relative links (`scripts -> ../../lib/linux-kbuild-6.1/scripts`) resolve
inside it. Only one line then points outside: the headers' Makefile is
`include /usr/src/linux-headers-<abi>-common/Makefile`, an absolute path, rewritten to the
cached -common tree (measured in shared/notes/emulation.md). Nothing is installed system-wide.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from kcourse import pin
from kcourse.errors import KcourseError

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def installed_tree(release: str) -> Path | None:
    """/lib/modules/<release>/build or /usr/src/linux-headers-<release>, when installed."""
    for candidate in (Path("/lib/modules") / release / "build",
                      Path("/usr/src") / f"linux-headers-{release}"):
        if (candidate / "Makefile").is_file():
            return candidate
    return None


def cache_root(release: str) -> Path:
    from kcourse.paths import cache_dir

    return cache_dir() / "headers" / release


def cached_tree(release: str) -> Path | None:
    """The build tree fetch_tree left in the cache (its `.complete` mark written last)."""
    root = cache_root(release)
    tree = root / "usr" / "src" / f"linux-headers-{release}"
    return tree if (root / ".complete").exists() and (tree / "Makefile").is_file() else None


def fetch_tree(release: str | None = None, progress: Progress = _quiet) -> Path:
    """Download and unpack the pinned release's build packages into the cache; the build tree.

    Needs apt-get and dpkg (any Debian or Ubuntu machine), not root. Cached: a second call
    returns at once. KcourseError (one line) when apt cannot give the packages."""
    release = release or pin.release()
    found = cached_tree(release)
    if found is not None:
        return found
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise KcourseError(f"{tool} not found: fetching the kernel headers needs a Debian or "
                               f"Ubuntu machine (or install {pin.headers_package()} by hand)")
    flavour = release.removeprefix(pin.abi() + "-")
    # The headers are the pinned version; linux-kbuild-6.1 is not per ABI and the archive keeps
    # only its newest build (6.1.192-3 next to headers 6.1.192-2 on 2026-12-02), which is also
    # what `apt-get install linux-headers-<release>` pulls in.
    headers, common, kbuild = pin.build_packages(flavour)
    packages = [f"{headers}={pin.debian_version()}", f"{common}={pin.debian_version()}", kbuild]
    root = cache_root(release)
    with tempfile.TemporaryDirectory(prefix="kcourse-headers-") as tmp:
        progress(f"downloading {', '.join(packages)} (about 12 MB, once)")
        proc = subprocess.run(["apt-get", "download", *packages], cwd=tmp, capture_output=True,
                              text=True, timeout=600, check=False)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
            if any(text in last for text in ("Unable to locate", "Couldn't find", "not found")):
                raise KcourseError(pin.gone_message(" / ".join(packages)))
            raise KcourseError(f"apt-get download failed: {last}")
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        for deb in sorted(Path(tmp).glob("*.deb")):
            progress(f"unpacking {deb.name}")
            subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True, timeout=600)
    tree = root / "usr" / "src" / f"linux-headers-{release}"
    common = root / "usr" / "src" / f"linux-headers-{pin.abi()}-common"
    makefile = tree / "Makefile"
    text = makefile.read_text()
    absolute = f"/usr/src/linux-headers-{pin.abi()}-common/"
    if absolute not in text or not common.is_dir():
        raise KcourseError(f"unexpected headers layout: {makefile} does not include {absolute}")
    makefile.write_text(text.replace(absolute, f"{common}/"))
    (root / ".complete").write_text(" ".join(packages) + "\n")
    progress(f"kernel headers ready: {tree}")
    return tree


def build_tree(release: str | None = None, progress: Progress = _quiet) -> Path:
    """Where kbuild's -C goes for the pinned release: installed headers, else the cache's."""
    release = release or pin.release()
    return installed_tree(release) or fetch_tree(release, progress)
