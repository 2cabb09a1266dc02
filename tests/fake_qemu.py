"""A stand-in for qemu-system-x86_64 that speaks the lab's console protocol, for tests that
need no real guest: how the host drives a live guest, fails, and cleans up.

It reads the token from the per-boot archive appended to the -initrd file (kcourse/head's
`kc_t=...`), says READY, then answers the programs kcourse.lab.guest sends, line by line
on stdin, as the guest's bash would. Commands it knows (anything else: status 127):

    echo WORDS       WORDS on stdout          log TEXT     TEXT into the kernel log
    cat PATH         a file sent earlier      fail         status 1, "no\\n" on stderr
    panic            a panic line, then exits hang         never answers
    exit             exits (the shell ended)  child        starts `sleep 600` (a child
                                                           process in QEMU's group)
It never runs the command text: nothing reaches the host's shell or kernel.
"""

import base64
import gzip
import re
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    initrd = argv[argv.index("-initrd") + 1]
    token = re.search(rb"kc_t=([0-9a-f]+)", open(initrd, "rb").read()).group(1).decode()
    out = sys.stdout.buffer

    def say(text: str) -> None:
        out.write(text.encode() + b"\r\n")
        out.flush()

    def mark(word: str) -> None:
        say(f"@@KC:{token}:{word}")

    def block(word: str, data: str) -> None:
        mark(word)
        if data:
            say(base64.encodebytes(data.encode()).decode().rstrip("\n"))

    say("[    0.000000] Linux version 6.1.0-fake")
    say("bash: no job control in this shell")
    mark("READY")
    log: list[str] = []
    files: dict[str, bytes] = {}
    stdin = sys.stdin.buffer
    command, status, stdout, stderr = "", 0, "", ""
    while True:
        raw = stdin.readline()
        if not raw:  # like QEMU: the end of its stdin does not end the guest
            time.sleep(3600)
        line = raw.decode()
        if line.startswith("kc_cmd="):
            command = unquote(line[len("kc_cmd="):].strip())
        elif line.startswith("kc_mark BEGIN:"):
            mark(line.split()[1])
        elif line.startswith("{ eval"):
            status, stdout, stderr = run(command, log, files, say)
        elif line.startswith("kc_report "):
            number = line.split()[1]
            mark(f"RC:{number}:{status}")
            block(f"OUT:{number}", stdout)
            block(f"ERR:{number}", stderr)
            block(f"LOG:{number}", "".join(x + "\n" for x in log))
            mark(f"END:{number}")
        elif "kc_mark RECV:" in line:
            number = re.search(r"RECV:(\d+)", line).group(1)
            size = int(re.search(r"head -c (\d+)", line).group(1))
            path = unquote(re.search(r">(\$'[^']*')", line).group(1))
            mark(f"RECV:{number}")
            data = stdin.read(size)
            files[path] = gzip.decompress(data) if "gunzip -c" in line else data
            mark(f"GOT:{number}")


def unquote(word: str) -> str:
    assert word.startswith("$'") and word.endswith("'"), word
    raw = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]),
                 word[2:-1].encode())
    return raw.decode()


def run(command: str, log: list[str], files: dict[str, bytes], say) -> tuple[int, str, str]:
    verb, _, rest = command.partition(" ")
    if verb == "echo":
        return 0, rest + "\n", ""
    if verb == "log":
        log.append(f"[{len(log) + 1:5d}.000000] {rest}")
        return 0, "", ""
    if verb == "cat":
        return 0, files[rest].decode(), ""
    if verb == "fail":
        return 1, "", "no\n"
    if verb == "panic":
        say("[    9.000000] Kernel panic - not syncing: fake panic")
        sys.exit(0)
    if verb == "hang":
        time.sleep(3600)
    if verb == "exit":
        sys.exit(0)
    if verb == "child":
        child = subprocess.Popen(["sleep", "600"])
        return 0, f"{child.pid}\n", ""
    return 127, "", f"bash: {verb}: command not found\n"


if __name__ == "__main__":
    sys.exit(main(sys.argv))
