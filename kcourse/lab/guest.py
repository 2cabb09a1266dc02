"""What runs inside the guest: /init, and the per-script runner with its marker protocol.

/init (busybox sh, in the cached base initramfs) mounts proc, sysfs and devtmpfs (the root
is the initramfs itself, writable, so /tmp keeps the files the script brings), goes to
/root/modules (the course's data/modules, as in the simulator), hands /kcourse/run to bash
on its standard input, and powers off when bash ends. /kcourse/run and the command files
come in a second, small archive appended for each script (see kcourse.lab.cpio), with the
files the script uses.

The runner clears the boot log (`dmesg -c`: the learner's `dmesg` then shows what the script
caused, as in a fresh simulated kernel), then for each line i:

    @@KC:<token>:BEGIN:i
    (the line runs, through eval, at the top level of one bash: `exec 3< /dev/kcdev` keeps
     the file open for the lines after it; stdout/stderr go to files, stdin is /dev/null)
    @@KC:<token>:RC:i:<status>
    @@KC:<token>:OUT:i     base64 of its stdout
    @@KC:<token>:ERR:i     base64 of its stderr
    @@KC:<token>:LOG:i     base64 of the whole `dmesg` after it (the host diffs the snapshots)
    @@KC:<token>:END:i

Outputs travel base64-encoded so that nothing a command prints, and no `\\n` -> `\\r\\n`
translation of the serial line, can be mistaken for a marker or alter a byte; the token is
random per run for the same reason. bash runs interactive (`-i`, reading the runner from a
file, no prompt, no job control) so that it prints its errors as a root shell at a terminal
does: `bash: x: command not found`, without the `line N:` a non-interactive bash adds
(bash's error.c: error_prolog prints line numbers only when not interactive); and it is
started as `bash`, not /usr/bin/bash, because that name is the prefix of each message.
"""

from __future__ import annotations

import base64
from pathlib import PurePosixPath

from kcourse.lab import cpio

GUEST_HOME = "/root"
# The simulator's shell starts in /root/modules, the course's data/modules folder
# (kcourse/shell/fs.py: COURSE_DIR), so `insmod hello/hello.ko` works in both.
WORKDIR = "/root/modules"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/kcourse/bin"
MARK = "@@KC"

INIT = """#!/usr/lib/kcourse/busybox sh
# kcourse lab guest /init: mount the kernel's file systems, run the script, power off.
bb=/usr/lib/kcourse/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t devtmpfs devtmpfs /dev
cd @WORKDIR@
export HOME=/root PATH=@PATH@ TERM=dumb LANG=C.UTF-8
if [ -f /kcourse/run ]; then
    bash --norc --noprofile --noediting -i </kcourse/run
else
    echo "@@KC:none:NOSCRIPT"
fi
$bb poweroff -f
""".replace("@PATH@", PATH).replace("@WORKDIR@", WORKDIR)

ETC_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/bash\n",
    "etc/group": "root:x:0:\n",
    "etc/hostname": "kcourse-lab\n",
}

RUNNER_HEAD = """PS1= PS2= PS4= HISTFILE=; set +m +H
# kcourse lab runner (interactive bash, reading this file on stdin)
kc_t=%(token)s
kc_mark() { printf '%(mark)s:%%s:%%s\\n' "$kc_t" "$1"; }
kc_report() {
    kc_mark "RC:$1:$2"
    kc_mark "OUT:$1"; base64 /kcourse/out
    kc_mark "ERR:$1"; base64 /kcourse/err
    kc_mark "LOG:$1"; dmesg 2>/dev/null | base64
    kc_mark "END:$1"
}
dmesg -c >/dev/null 2>&1
printf '\n'
kc_mark READY
"""

RUNNER_LINE = """kc_cmd=$(</kcourse/cmd/%(i)d)
kc_mark BEGIN:%(i)d
{ eval "$kc_cmd"; } </dev/null >/kcourse/out 2>/kcourse/err
kc_report %(i)d $?
"""

RUNNER_TAIL = "kc_mark DONE\n"


def init_entries() -> list[cpio.Entry]:
    """/init and /etc for the base archive."""
    entries = [cpio.regular("init", INIT.encode(), executable=True), cpio.directory("etc")]
    entries += [cpio.regular(name, text.encode()) for name, text in ETC_FILES.items()]
    return entries


def runner(lines: list[str], token: str) -> str:
    """The bash program that runs `lines` one by one and reports each (see module doc)."""
    if not token.isalnum():
        raise ValueError("the marker token must be alphanumeric")
    body = [RUNNER_HEAD % {"token": token, "mark": MARK}]
    body += [RUNNER_LINE % {"i": i} for i in range(len(lines))]
    body.append(RUNNER_TAIL)
    return "".join(body)


def guest_file_path(name: str) -> str:
    """Where a script's file goes: an absolute name stays where it is (a host path the
    script names, e.g. /tmp/x/hello.ko); a relative one lands in the working directory."""
    path = PurePosixPath(name)
    if not path.is_absolute():
        path = PurePosixPath(WORKDIR) / path
    parts = [p for p in path.parts[1:] if p not in ("", ".")]
    if not parts or ".." in parts:
        raise ValueError(f"bad guest file name: {name!r}")
    return "/".join(parts)


def script_archive(lines: list[str], token: str, files: dict[str, bytes]) -> bytes:
    """The per-script newc archive: /kcourse/run, /kcourse/cmd/<i>, and the files."""
    for line in lines:
        if "\n" in line:
            raise ValueError("a script line cannot contain a newline")
    entries = [cpio.directory("kcourse"), cpio.directory("kcourse/cmd")]
    entries.append(cpio.regular("kcourse/run", runner(lines, token).encode()))
    entries += [cpio.regular(f"kcourse/cmd/{i}", (line + "\n").encode()) for i, line in
                enumerate(lines)]
    made = {"kcourse", "kcourse/cmd"}
    for name, data in sorted(files.items()):
        path = guest_file_path(name)
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        chain = parent.split("/") if parent else []
        for depth in range(1, len(chain) + 1):
            directory = "/".join(chain[:depth])
            if directory not in made:
                made.add(directory)
                entries.append(cpio.directory(directory))
        entries.append(cpio.regular(path, data))
    return cpio.archive(entries)


def decode(block: list[str]) -> str:
    """Text of a base64 block as the runner printed it (lines of 76 characters)."""
    raw = base64.b64decode("".join(line.strip() for line in block), validate=False)
    return raw.decode("utf-8", errors="replace")
