"""The kernel release string: how `make` computes it, and where it must agree.

The release (what `uname -r` prints) is assembled by the top Makefile and
scripts/setlocalversion (kernel 6.1, both shipped in linux-headers-6.1.0-NN-common):

    KERNELVERSION = VERSION.PATCHLEVEL.SUBLEVEL + EXTRAVERSION          (Makefile:392)
    KERNELRELEASE = KERNELVERSION + $(setlocalversion)                  (Makefile:1302-1303)
    setlocalversion = localversion* files (build dir, then source dir)
                    + CONFIG_LOCALVERSION + $LOCALVERSION
                    + scm part:  CONFIG_LOCALVERSION_AUTO=y  -> "-NNNNN-g<12 hex>[-dirty]"
                                 else, only if LOCALVERSION is unset -> "+" when the git
                                 tree is not exactly at a tag, or is dirty

The result is written to include/config/kernel.release and, as UTS_RELEASE, to
include/generated/utsrelease.h (at most 64 characters: Makefile:1361-1364). Three places
use it and must agree: `uname -r` of the running kernel, the first word of every module's
vermagic, and the directory /lib/modules/<release>/ where modprobe and depmod look.

Nothing here runs make or git: the inputs are plain values, so a learner can vary them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from kcourse.errors import KcourseError

UTS_LEN = 64  # Makefile:1361 uts_len := 64


@dataclass(frozen=True)
class GitState:
    """What setlocalversion's scm_version() asks git about the source tree."""

    head: str = "0" * 40          # git rev-parse --verify HEAD
    exact_tag: bool = False       # git describe --exact-match succeeds
    describe: str | None = None   # git describe, e.g. "v5.1-302-g72357d5" (None: no tag at all)
    dirty: bool = False           # git status -uno --porcelain prints something
    scmversion_file: str | None = None  # contents of $srctree/.scmversion (tarball builds)


@dataclass(frozen=True)
class ReleaseInputs:
    """Everything the release depends on, with the defaults of a clean tarball build."""

    version: int
    patchlevel: int
    sublevel: int | None = 0
    extraversion: str = ""
    # localversion* files: name -> contents, in the build (object) dir and the source dir
    localversion_files: dict[str, str] = field(default_factory=dict)
    srctree_localversion_files: dict[str, str] = field(default_factory=dict)
    config_localversion: str = ""     # CONFIG_LOCALVERSION (init/Kconfig: no dash is added)
    localversion_auto: bool = False   # CONFIG_LOCALVERSION_AUTO
    localversion_env: str | None = None  # `make LOCALVERSION=...`; None means unset
    git: GitState | None = None       # None: not a git tree

    @classmethod
    def from_makefile(cls, text: str, **kwargs) -> ReleaseInputs:
        """Read VERSION/PATCHLEVEL/SUBLEVEL/EXTRAVERSION from a top-level Makefile's text."""
        values = {}
        for key in ("VERSION", "PATCHLEVEL", "SUBLEVEL", "EXTRAVERSION"):
            match = re.search(rf"^{key}\s*=[ \t]*(.*?)[ \t]*$", text, re.M)
            if match is None:
                raise KcourseError(f"not a kernel Makefile: no {key} line")
            values[key] = match.group(1)
        try:
            version, patchlevel = int(values["VERSION"]), int(values["PATCHLEVEL"])
            sublevel = int(values["SUBLEVEL"]) if values["SUBLEVEL"] else None
        except ValueError as err:
            raise KcourseError(f"not a kernel Makefile: {err}") from None
        return cls(version, patchlevel, sublevel, values["EXTRAVERSION"], **kwargs)


def kernelversion(inputs: ReleaseInputs) -> str:
    """Makefile:392: $(VERSION)$(if $(PATCHLEVEL),.$(PATCHLEVEL)$(if $(SUBLEVEL),.$(SUBLEVEL)))
    $(EXTRAVERSION). A SUBLEVEL of 0 is still printed ("6.1.0"): make tests for emptiness."""
    text = str(inputs.version)
    text += f".{inputs.patchlevel}"
    if inputs.sublevel is not None:
        text += f".{inputs.sublevel}"
    return text + inputs.extraversion


def scm_version(git: GitState | None, short: bool = False) -> str:
    """scripts/setlocalversion: scm_version() (6.1)."""
    if git is None:
        return ""
    if git.scmversion_file is not None:
        return git.scmversion_file.strip("\n")
    out = ""
    if not git.exact_tag:
        if short:
            return "+"
        if git.describe is not None:
            # awk -F- '{printf("-%05d", $(NF-1))}': the commit count before the -g<hash> part
            # (awk turns a non-numeric field into 0)
            fields = git.describe.split("-")
            count = fields[-2] if len(fields) >= 2 else ""
            digits = re.match(r"\d*", count).group(0)
            out += f"-{int(digits or 0):05d}"
        out += "-g" + git.head[:12]
    if git.dirty:
        out += "-dirty"
    return out


def _collect(files: dict[str, str]) -> str:
    """collect_files(): cat every localversion* file, in glob (sorted) order, skipping
    names with '~' (editor backups). $(cat) drops the trailing newlines of each file."""
    return "".join(files[name].rstrip("\n") for name in sorted(files)
                   if name.startswith("localversion") and "~" not in name)


def localversion_parts(inputs: ReleaseInputs) -> list[tuple[str, str]]:
    """The pieces setlocalversion appends, each with where it came from."""
    parts = [("localversion* files", _collect(inputs.localversion_files)
              + _collect(inputs.srctree_localversion_files)),
             ("CONFIG_LOCALVERSION", inputs.config_localversion),
             ("LOCALVERSION (make variable)", inputs.localversion_env or "")]
    if inputs.localversion_auto:
        parts.append(("scm (CONFIG_LOCALVERSION_AUTO=y)", scm_version(inputs.git)))
    elif inputs.localversion_env is None:
        scm = scm_version(inputs.git, short=True)
        parts.append(("'+' (LOCALVERSION unset, untagged or dirty git tree)", "+" if scm else ""))
    else:
        parts.append(("scm (none: LOCALVERSION is set)", ""))
    return parts


def setlocalversion(inputs: ReleaseInputs) -> str:
    """What scripts/setlocalversion prints (6.1): the part after KERNELVERSION."""
    return "".join(value for _, value in localversion_parts(inputs))


def kernel_release(inputs: ReleaseInputs) -> str:
    """KERNELRELEASE, i.e. include/config/kernel.release, UTS_RELEASE and `uname -r`."""
    release = kernelversion(inputs) + setlocalversion(inputs)
    if len(release) > UTS_LEN:
        # Makefile:1363-1365 refuses to write utsrelease.h
        raise KcourseError(f'"{release}" exceeds {UTS_LEN} characters')
    return release


def explain(inputs: ReleaseInputs) -> list[tuple[str, str]]:
    """(source, text) rows that add up to the release, for a table in the lesson."""
    numbers = kernelversion(inputs)[: len(kernelversion(inputs)) - len(inputs.extraversion)]
    rows = [("VERSION.PATCHLEVEL.SUBLEVEL", numbers),
            ("EXTRAVERSION (Makefile)", inputs.extraversion)]
    rows += localversion_parts(inputs)
    return rows


# ---------------------------------------------------------------------------------------
# Where the release is used, and must agree


@dataclass(frozen=True)
class Agreement:
    """The outcome of comparing `uname -r`, a module's vermagic and /lib/modules."""

    ok: bool
    findings: list[str]


def vermagic_release(vermagic: str) -> str:
    """The release is vermagic's first word (include/linux/vermagic.h: UTS_RELEASE " " ...)."""
    words = vermagic.split() if isinstance(vermagic, str) else []
    if not words:
        raise KcourseError("empty vermagic string")
    return words[0]


def check_agreement(uname_r: str, vermagic: str | None = None,
                    modules_dirs: list[str] | None = None) -> Agreement:
    """Say whether the running kernel, a module and /lib/modules agree on the release.

    uname_r: what `uname -r` prints; vermagic: a module's vermagic (modinfo -F vermagic);
    modules_dirs: the names under /lib/modules/.
    """
    findings = []
    ok = True
    if modules_dirs is not None:
        if uname_r in modules_dirs:
            findings.append(f"/lib/modules/{uname_r}/ exists: modprobe and depmod look there.")
        else:
            ok = False
            have = ", ".join(sorted(modules_dirs)) or "nothing"
            findings.append(f"/lib/modules/{uname_r}/ does not exist (there is {have}): "
                            "modprobe finds no modules and "
                            f"`make -C /lib/modules/{uname_r}/build` fails.")
    if vermagic is not None:
        mod_release = vermagic_release(vermagic)
        if mod_release == uname_r:
            findings.append(f"vermagic release {mod_release} matches uname -r.")
        else:
            ok = False
            findings.append(f"vermagic release {mod_release} differs from uname -r {uname_r}: "
                            "the kernel rejects the module with 'version magic ... should be ...'"
                            " unless the module carries symbol CRCs (CONFIG_MODVERSIONS), in "
                            "which case the release word is ignored (same_magic).")
    return Agreement(ok, findings)


def ways_to_get(release: str, base: ReleaseInputs) -> list[tuple[str, ReleaseInputs]]:
    """Each single change to `base` that produces `release` (e.g. '5.1.9-ded' from 5.1.9).

    Returns (description, inputs) pairs; each inputs really computes `release`.
    """
    if not release.startswith(kernelversion(base)):
        return []
    suffix = release[len(kernelversion(base)):]
    candidates = [
        (f"EXTRAVERSION = {suffix} in the top Makefile",
         _replace(base, extraversion=base.extraversion + suffix)),
        (f'CONFIG_LOCALVERSION="{suffix}" in .config',
         _replace(base, config_localversion=suffix)),
        (f"make LOCALVERSION={suffix}", _replace(base, localversion_env=suffix)),
        (f"a file localversion-x containing {suffix}",
         _replace(base, localversion_files={"localversion-x": suffix + "\n"})),
    ]
    return [(text, inputs) for text, inputs in candidates if _computes(inputs, release)]


def _computes(inputs: ReleaseInputs, release: str) -> bool:
    try:
        return kernel_release(inputs) == release
    except KcourseError:  # longer than UTS_LEN: no change to the inputs can produce it
        return False


def _replace(base: ReleaseInputs, **changes) -> ReleaseInputs:
    return replace(base, **changes)
