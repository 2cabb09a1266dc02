"""What runs inside the guest: /init, and the live shell with its console protocol.

/init (busybox sh, in the cached base initramfs) mounts proc, sysfs and devtmpfs (the root
is the initramfs itself, writable, so /tmp keeps the files a script brings), goes to
/root/modules (the course's data/modules, as in the simulator), hands /kcourse/run to bash
on its standard input, and powers off when bash ends. /kcourse/run and /kcourse/head come in
a second, small archive appended for each boot (see kcourse.lab.cpio), with the files known
at boot time.

/kcourse/run (BOOT) turns the serial console into a raw byte channel (`stty raw -echo`: no
echo, no line editing, no signals, no line-length limit, n_tty's raw path) and replaces
itself with the shell the learner types into: an interactive bash reading the console, whose
rc file (/kcourse/head) defines the reporting functions, clears the boot log (`dmesg -c`: the
learner's `dmesg` then shows what they caused, as in a fresh simulated kernel) and prints
READY. The host then sends, for each line n (numbered from 0 over the guest's whole life):

    kc_cmd=$'...'                       the line, every byte but [A-Za-z0-9] as \\xHH
    @@KC:<token>:BEGIN:n
    (the line runs, through eval, at the top level of the one bash: `exec 3< /dev/kcdev`
     keeps the file open for the lines and cells after it; stdout/stderr go to files,
     stdin is /dev/null)
    @@KC:<token>:RC:n:<status>
    @@KC:<token>:OUT:n     base64 of its stdout (nothing when empty)
    @@KC:<token>:ERR:n     base64 of its stderr (nothing when empty)
    @@KC:<token>:LOG:n     base64 of the whole kernel log after it (the host diffs the
                           snapshots)
    @@KC:<token>:END:n

and waits for END:n before sending the next line, so no more than one line is ever queued in
the guest's tty buffer. A line that starts a background job (`cmd &`: `$!` changed) gives it
up to a second to end before the log snapshot, as a learner typing the next line would: its
kernel log lines then belong to the line that started it, as in the simulator. A file sent
later (RECEIVE) travels raw: the guest prints RECV:k, then `head -c SIZE` copies exactly SIZE
bytes from the console into the file, then GOT:k.

The log snapshot is busybox's `dmesg`: syslog(2) SYSLOG_ACTION_READ_ALL, from the last
clear on, as the kernel formats it (kernel/printk/printk.c: record_print_text puts the
timestamp before every line of a record), from a static binary, about 35 ms a line cheaper
under TCG than util-linux's (benchmarks/lab_live.py). The learner's own `dmesg` is
util-linux's, as on Debian.

Outputs travel base64-encoded so that nothing a command prints, and no `\\n` -> `\\r\\n`
translation of the serial line, can be mistaken for a marker or alter a byte; the token is
random per boot for the same reason. bash runs interactive (`-i`, no prompt, no job control)
so that it prints its errors as a root shell at a terminal does: `bash: x: command not found`,
without the `line N:` a non-interactive bash adds (bash's error.c: error_prolog prints line
numbers only when not interactive); and it is started as `bash`, not /usr/bin/bash, because
that name is the prefix of each message.
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

BUSYBOX = "/usr/lib/kcourse/busybox"
# The 8250 UART's receive FIFO raises its interrupt at 14 bytes instead of Linux's default 8
# (drivers/tty/serial/8250/8250_port.c: rx_trig_bytes_store, UART_FCR_R_TRIG_11 for a 16550A):
# under TCG, files sent to a live guest arrive about twice as fast (benchmarks/lab_live.py).
BOOT = """# kcourse lab guest: the console becomes a raw channel, then the learner's shell reads it.
@BB@ stty raw -echo -iexten cs8 </dev/console
echo 14 >/sys/class/tty/ttyS0/rx_trig_bytes 2>/dev/null
exec bash --noprofile --rcfile /kcourse/head --noediting -i </dev/console
""".replace("@BB@", BUSYBOX)

HEAD = """PS1= PS2= PS4= HISTFILE=; set +m +H
# kcourse lab shell (interactive bash reading the serial console; see kcourse/lab/guest.py)
kc_t=%(token)s
kc_mark() { printf '%(mark)s:%%s:%%s\\n' "$kc_t" "$1"; }
kc_block() { kc_mark "$1"; [ -s "$2" ] && %(bb)s base64 "$2"; }
kc_settle() {
    local end=$(( ${EPOCHREALTIME//[!0-9]/} + 1000000 ))
    while kill -0 "$1" 2>/dev/null && (( ${EPOCHREALTIME//[!0-9]/} < end )); do
        /usr/bin/sleep 0.05
    done
}
kc_report() {
    kc_mark "RC:$1:$2"
    [ "$!" = "$3" ] || kc_settle "$!"
    kc_block "OUT:$1" /kcourse/out
    kc_block "ERR:$1" /kcourse/err
    kc_mark "LOG:$1"; %(bb)s dmesg 2>/dev/null | %(bb)s base64
    kc_mark "END:$1"
}
dmesg -c >/dev/null 2>&1
printf '\\n'
kc_mark READY
"""

LINE = """kc_cmd=%(quoted)s
kc_mark BEGIN:%(n)d
kc_bg=$!
{ eval "$kc_cmd"; } </dev/null >/kcourse/out 2>/kcourse/err
kc_report %(n)d $? "$kc_bg"
"""

RECEIVE = ("%(mkdir)skc_mark RECV:%(k)d; /usr/bin/head -c %(size)d %(unpack)s>%(path)s; "
           "kc_mark GOT:%(k)d\n")
GUNZIP = f"| {BUSYBOX} gunzip -c "  # a file sent gzip-compressed comes out as it was


def quote(text: str) -> str:
    """`text` as one bash word that means exactly it: ANSI-C quoting ($'...', bash's
    parse.y ansiexpand) with every byte other than a letter or digit written \\xHH, so no
    character of the line is ever read by bash as syntax, and any UTF-8 survives."""
    if "\0" in text:
        raise ValueError("a script line cannot contain a NUL byte")
    return "$'" + "".join(chr(b) if chr(b).isalnum() and b < 128 else f"\\x{b:02x}"
                          for b in text.encode()) + "'"


def head(token: str) -> str:
    """The live shell's rc file: the reporting functions, the log cleared, READY."""
    if not token.isalnum():
        raise ValueError("the marker token must be alphanumeric")
    return HEAD % {"token": token, "mark": MARK, "bb": BUSYBOX}


def line_program(n: int, line: str) -> bytes:
    """What the host sends to run `line` as the guest's line n (see the module doc)."""
    if "\n" in line:
        raise ValueError("a script line cannot contain a newline")
    return (LINE % {"quoted": quote(line), "n": n}).encode()


def receive_program(k: int, name: str, size: int, gzipped: bool = False) -> bytes:
    """The line after which the guest copies `size` raw bytes from the console into `name`
    (a guest name, as guest_file_path takes it); the host sends them on seeing RECV:k.
    `gzipped`: the bytes are a gzip stream, which busybox's gunzip unpacks on the way."""
    path = "/" + guest_file_path(name)
    parent = path.rsplit("/", 1)[0]
    mkdir = f"[ -d {quote(parent)} ] || /usr/bin/mkdir -p {quote(parent)}; " if parent else ""
    return (RECEIVE % {"mkdir": mkdir, "k": k, "size": size, "path": quote(path),
                       "unpack": GUNZIP if gzipped else ""}).encode()


def init_entries() -> list[cpio.Entry]:
    """/init and /etc for the base archive."""
    entries = [cpio.regular("init", INIT.encode(), executable=True), cpio.directory("etc")]
    entries += [cpio.regular(name, text.encode()) for name, text in ETC_FILES.items()]
    return entries


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


def boot_archive(token: str, files: dict[str, bytes]) -> bytes:
    """The per-boot newc archive: /kcourse/run (BOOT), /kcourse/head, and the files."""
    entries = [cpio.directory("kcourse"), cpio.regular("kcourse/run", BOOT.encode()),
               cpio.regular("kcourse/head", head(token).encode())]
    made = {"kcourse"}
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
