"""Shell: runs shell lines against a simulated kernel and returns what a root shell shows.

    sh = Shell()                       # a fresh Kernel(seed=0), working directory /root/modules
    r = sh.run("insmod hello/hello.ko")
    r.stdout, r.stderr, r.rc, r.dmesg  # r.dmesg: the kernel log lines this command caused

Each line is parsed like bash (kcourse.shell.parser), its words expanded ($?, $VAR, $(...),
globs against the simulated file system), redirections applied as bash applies them (a
redirection that cannot be opened stops the command before it runs), and each command is
either a shell builtin (cd, pwd, exec, echo, true, false, help) or a tool: kmod's insmod,
rmmod, lsmod, modprobe, modinfo, depmod; cat, ls, dmesg, uname, grep, head, tail, wc, sort.
A line the shell cannot parse prints one line, returns status 2 and runs nothing.
"""

from __future__ import annotations

import fnmatch
import posixpath

from kcourse.backend import CommandResult
from kcourse.errors import KcourseError
from kcourse.paths import modules_dir
from kcourse.shell import coreutils, kmodtools, modprobe
from kcourse.shell.context import Ctx, TaskKilled
from kcourse.shell.fs import COURSE_DIR, HOME, FsError, SimFS
from kcourse.shell.moddir import ModuleTree
from kcourse.shell.parser import Command, ShellSyntaxError, Word, parse

TOOLS = {
    "insmod": kmodtools.insmod, "rmmod": kmodtools.rmmod, "lsmod": kmodtools.lsmod,
    "modprobe": modprobe.modprobe, "modinfo": modprobe.modinfo, "depmod": modprobe.depmod,
    "cat": coreutils.cat, "ls": coreutils.ls, "dmesg": coreutils.dmesg,
    "uname": coreutils.uname, "grep": coreutils.grep, "head": coreutils.head,
    "tail": coreutils.tail, "wc": coreutils.wc, "sort": coreutils.sort,
}
BUILTINS = ("cd", "pwd", "exec", "echo", "true", "false", "help", "sleep", ":")
BIN_DIRS = ("/sbin", "/usr/sbin", "/bin", "/usr/bin")


class Shell:
    """A root shell on the simulated machine (see kcourse.shell.fs for the file system).

    debian_tree: False (default) - /lib/modules holds the course modules only; True - also
    Debian's whole module tree; a list of module names - also those Debian modules and what
    they depend on (the tree the real-kernel lab boots). Debian's modules come from the cache
    only (kcourse.shell.moddir); a tree that is not there raises DebianTreeMissing.
    """

    def __init__(self, backend=None, debian_tree=False, job_control=False,
                 workdir: str | None = None):
        if backend is None:
            from kcourse.kernel import Kernel

            backend = Kernel(seed=0)
        self.kernel = backend
        self.release = backend.release
        if debian_tree is False or debian_tree is None:
            self.tree = ModuleTree.course(self.release)
        else:
            self.tree = ModuleTree.with_debian(
                self.release, None if debian_tree is True else tuple(debian_tree))
        # workdir: a host folder to start in (`kcourse sim` passes the caller's), else the
        # course modules' folder
        mount = workdir if workdir and SimFS.can_mount(workdir) else None
        self.fs = SimFS(backend, self.tree, modules_dir(), mount)
        self.cwd = mount or COURSE_DIR
        self.oldpwd = self.cwd
        self.fds: dict[int, tuple[str, object]] = {}  # fd -> (path, kernel handle or None)
        self.status = 0
        self.syntax_error = False  # whether the last run() was refused by the parser
        # bash with job control (at a terminal) says "Killed" for a job killed by a signal;
        # the lab's bash (-i, no terminal) has none and says nothing (see _pipeline).
        self.job_control = job_control

    # ------------------------------------------------------------------ public
    def run(self, line: str) -> CommandResult:
        """Run one line; returns its output, status and the dmesg lines it caused."""
        before = self._log_seq()
        self.syntax_error = False
        line = line.replace("\0", "")  # bash drops NUL bytes as it reads input (input.c)
        try:
            program = parse(line)
        except ShellSyntaxError as err:
            self.status, self.syntax_error = err.rc, True
            return CommandResult(line, "", f"{err}\n", err.rc)
        out: list[str] = []
        errs: list[str] = []
        rc = self.status if not program else 0
        try:
            for item in program:
                if item.op == "&&" and rc != 0 or item.op == "||" and rc == 0:
                    continue
                rc = self._pipeline(item.pipeline.commands, out, errs)
                self.status = rc
        except BadSubstitution as bad:
            errs.append(f"bash: {bad}: bad substitution\n")
            rc = self.status = 1
        return CommandResult(line, "".join(out), "".join(errs), rc, self._log_since(before))

    def run_script(self, text: str) -> list[CommandResult]:
        """Run a script line by line. Blank lines and comments give no result; a syntax error
        ends the script (as it ends a bash script), its result being the last one."""
        results = []
        self.syntax_error_line = 0
        for number, line in script_commands(text):
            result = self.run(line)
            results.append(result)
            if self.syntax_error:
                self.syntax_error_line = number
                break
        return results

    # ------------------------------------------------------------------ kernel log
    def _log_seq(self) -> int:
        return max((r.seq for r in self.kernel.log.records), default=-1)

    def _log_since(self, seq: int) -> tuple[str, ...]:
        return tuple(r.text for r in self.kernel.log.records if r.seq > seq)

    # ------------------------------------------------------------------ execution
    def _pipeline(self, commands: list[Command], out: list[str], errs: list[str]) -> int:
        stdin, rc = "", 0
        for i, command in enumerate(commands):
            ctx = Ctx(self, stdin=stdin)
            try:
                rc = self._command(command, ctx)
            except TaskKilled as killed:
                # The process died in the kernel (an oops in module code): SIGKILL, status
                # 128 + 9. Whether bash says so is its mode's (bash 5.2 jobs.c
                # notify_of_job_status, for the pipeline's last process): an interactive
                # bash with job control (a terminal) prints "Killed"; an interactive one
                # without (the lab's `bash -i` on a file, no terminal) prints nothing; a
                # non-interactive one (`bash -c`, a script) prints "bash: line N: PID Killed
                # ...". This shell imitates the lab's unless job_control is set. (A builtin
                # such as echo runs in the shell itself, whose death would end a real
                # session; this shell survives.) A stopped machine is always said.
                said = killed.args[0] if killed.args else "Killed"
                if said != "Killed" or self.job_control and i == len(commands) - 1:
                    ctx.err(f"{said}\n")
                rc = 137
            errs.extend(ctx.stderr)
            if i == len(commands) - 1:
                out.extend(ctx.stdout)
            stdin = "".join(ctx.stdout)
        return rc

    def _command(self, command: Command, ctx: Ctx) -> int:
        argv: list[str] = []
        for word in command.words:
            argv += self._expand(word, ctx)
        if argv and argv[0] == "exec":
            return self._exec(argv, command, ctx)
        if not argv and not command.redirects:
            return 0
        # Redirections are set up before the command runs; one that fails stops it.
        stdout_to: str | None = None
        stderr_to: str | None = None
        temp_fds: list[int] = []
        merge_err = merge_out = False
        for r in command.redirects:
            try:
                if r.op == "dup":
                    if r.fd == 2 and r.dup_fd == 1:
                        merge_err = True
                    elif r.fd == 1 and r.dup_fd == 2:
                        merge_out = True
                    continue
                if r.op == "close":
                    continue
                target = self._single(r.target, ctx)
                vpath = self.fs.abspath(self.cwd, target)
                if r.op == "<" and r.fd == 0:
                    ctx.stdin = self.fs.read_bytes(vpath).decode("utf-8", "surrogateescape")
                elif r.op == "<":
                    temp_fds.append(r.fd)
                    self._open_fd(r.fd, vpath, target)
                elif vpath == "/dev/null":
                    if r.fd == 1:
                        stdout_to = "/dev/null"
                    elif r.fd == 2:
                        stderr_to = "/dev/null"
                else:
                    self._check_writable(vpath, target)
                    if r.fd == 1:
                        stdout_to = vpath
                    elif r.fd == 2:
                        stderr_to = vpath
            except FsError as err:
                ctx.err(f"bash: {err.path}: {err.strerror}\n")
                self._close_fds(temp_fds)
                return 1
            except _Ambiguous as amb:
                ctx.err(f"bash: {amb}: ambiguous redirect\n")
                self._close_fds(temp_fds)
                return 1
        with self._process(argv):
            rc = self._dispatch(argv, ctx) if argv else 0
            self._close_fds(temp_fds)
            return self._flush(argv, ctx, rc, stdout_to, stderr_to, merge_err, merge_out)

    def _process(self, argv: list[str]):
        """The process a command runs as, for the kernel's `current` (the Comm: and PID: of
        an oops, WARN or kmemleak report): a builtin or a bare redirection is bash itself; a
        program is its own process, named by its file name (comm, 15 characters: the
        kernel's TASK_COMM_LEN 16 with the NUL) - it makes its own writes to a redirected
        stdout, e.g. the `cat` of `echo hi | cat > /dev/x`."""
        task = self.kernel.task
        name = posixpath.basename(argv[0]) if argv else ""
        if not argv or argv[0] in BUILTINS or name not in TOOLS:
            return task("bash")  # a command not found never leaves bash's forked child
        return task(name[:15])

    def _flush(self, argv, ctx: Ctx, rc: int, stdout_to, stderr_to, merge_err: bool,
               merge_out: bool) -> int:
        """The command's output to its redirections, written by its own process."""
        if merge_err:
            ctx.stdout.extend(ctx.stderr)
            ctx.stderr.clear()
        if merge_out:
            ctx.stderr.extend(ctx.stdout)
            ctx.stdout.clear()
        for stream, dest in ((ctx.stdout, stdout_to), (ctx.stderr, stderr_to)):
            if dest is None:
                continue
            text = "".join(stream)
            stream.clear()
            if dest != "/dev/null" and text:
                rc = self._write(dest, text, argv[0] if argv else "bash", ctx) or rc
        return rc

    def _dispatch(self, argv: list[str], ctx: Ctx) -> int:
        name = argv[0]
        if "/" in name and posixpath.dirname(name) in BIN_DIRS:
            name = posixpath.basename(name)
        if name in BUILTINS:
            return getattr(self, "_builtin_" + {":": "true"}.get(name, name))(argv, ctx)
        tool = TOOLS.get(name)
        if tool is None:
            ctx.err(f"bash: {ansic_quote(argv[0])}: command not found\n")
            return 127
        return tool(ctx, [name, *argv[1:]])

    # ------------------------------------------------------------------ expansion
    def _expand(self, word: Word, ctx: Ctx | None = None) -> list[str]:
        """One word -> zero or more arguments: variables, $(...), then globbing. What a
        command substitution prints on stderr goes to `ctx` (bash shows it, in order)."""
        pieces: list[tuple[str, bool]] = []  # (text, may be split/globbed)
        glob = False
        for part in word.parts:
            if part.kind == "bad":
                raise BadSubstitution(part.text)
            if part.kind in ("lit", "glob"):
                pieces.append((part.text, False))
                glob = glob or part.kind == "glob"
            elif part.kind == "var":
                pieces.append((self._variable(part.text), not part.quoted))
            else:
                pieces.append((self._substitute(part.text, ctx), not part.quoted))
        text = "".join(t for t, _ in pieces)
        if any(split for _, split in pieces) and not any(p.quoted for p in word.parts):
            words = text.split()
        else:
            words = [text]
        if glob:
            expanded = []
            for w in words:
                expanded += self._glob(w) or [w]
            return expanded
        return words

    def _substitute(self, text: str, ctx: Ctx | None) -> str:
        """$(text): its stdout without trailing newlines. The inner line was checked when the
        outer one was parsed; its run must not count as the outer line's syntax error."""
        saved = self.syntax_error
        result = self.run(text)
        self.syntax_error = saved
        out = result.stdout.rstrip("\n")
        errs = result.stderr
        if "\0" in out:  # bash 5.2 subst.c read_comsub
            out = out.replace("\0", "")
            errs += "bash: warning: command substitution: ignored null byte in input\n"
        if ctx is not None and errs:
            ctx.err(errs)
        return out

    def _variable(self, name: str) -> str:
        return {"?": str(self.status), "HOME": HOME, "PWD": self.cwd, "OLDPWD": self.oldpwd,
                "USER": "root", "$": "1", "0": "bash", "#": "0"}.get(name, "")

    def _glob(self, pattern: str) -> list[str]:
        absolute = pattern.startswith("/")
        parts = [p for p in pattern.split("/") if p]
        found = ["/" if absolute else ""]
        for part in parts:
            nxt = []
            for base in found:
                vbase = self.fs.abspath(self.cwd, base or ".")
                if any(c in part for c in "*?["):
                    try:
                        names = sorted(e.name for e in self.fs.listdir(vbase))
                    except FsError:
                        continue
                    hidden = part.startswith(".")
                    nxt += [posixpath.join(base, n) for n in names
                            if fnmatch.fnmatchcase(n, part) and (hidden or not n.startswith("."))]
                elif self.fs.exists(self.fs.abspath(vbase, part)):
                    nxt.append(posixpath.join(base, part))
            found = nxt
        return sorted(found, key=lambda s: s.encode())

    def _single(self, word: Word | None, ctx: Ctx) -> str:
        words = self._expand(word, ctx) if word is not None else []
        if len(words) != 1:
            raise _Ambiguous("".join(p.text for p in word.parts) if word else "")
        return words[0]

    # ------------------------------------------------------------------ files
    def _check_writable(self, vpath: str, shown: str) -> None:
        """What open(O_WRONLY|O_CREAT|O_TRUNC) would say, before the command runs."""
        kind, _ = self.fs.locate(vpath)
        if kind == "virtual":
            raise FsError(21, shown)  # EISDIR
        if kind != "kernel":
            # fs/namei.c: the path is looked up before the read-only mount is noticed, so a
            # missing folder is ENOENT (a file in the way, ENOTDIR); else EROFS
            parent = posixpath.dirname(vpath)
            if not self.fs.is_dir(parent):
                raise FsError(20 if self.fs.exists(parent) else 2, shown)
            if self.fs.is_dir(vpath):
                raise FsError(21, shown)
            raise FsError(30, shown)
        try:
            entry = self.fs.stat(vpath)
        except FsError:
            parent = posixpath.dirname(vpath)
            raise FsError(13 if self.fs.is_dir(parent) else 2, shown) from None
        if entry.kind == "dir":
            raise FsError(21, shown)
        if not entry.mode & 0o222:
            raise FsError(13, shown)  # kernfs_fop_open: no write permission bit -> EACCES

    def _write(self, vpath: str, text: str, prog: str, ctx: Ctx) -> int:
        try:
            self.fs.write_text(vpath, text)
        except FsError as err:
            if err.errno == 13:
                ctx.err(f"bash: {vpath}: {err.strerror}\n")
            elif prog in BUILTINS:
                ctx.err(f"bash: {prog}: write error: {err.strerror}\n")
            else:
                ctx.err(f"{prog}: write error: {err.strerror}\n")
            return 1
        return 0

    def _open_fd(self, fd: int, vpath: str, shown: str) -> None:
        kind, _ = self.fs.locate(vpath)
        if not self.fs.exists(vpath):
            raise FsError(2, shown)
        handle = None
        if kind == "kernel" and vpath.startswith("/dev/"):
            try:
                handle = self.kernel.open(vpath)
            except TaskKilled:
                raise
            except KcourseError as err:
                raise FsError(getattr(err, "errno", 5) or 5, shown) from None
        self._close_fds([fd])
        self.fds[fd] = (vpath, handle)

    def _close_fds(self, fds: list[int]) -> None:
        for fd in fds:
            path, handle = self.fds.pop(fd, (None, None))
            if handle is not None:
                self.kernel.close(handle)

    # ------------------------------------------------------------------ builtins
    def _exec(self, argv: list[str], command: Command, ctx: Ctx) -> int:
        if len(argv) > 1:
            ctx.err("kshell: exec COMMAND is not supported (it would replace the shell); "
                    "use exec with redirections only, e.g. exec 3</dev/kcdev\n")
            return 1
        for r in command.redirects:
            if r.fd in (0, 1, 2):
                ctx.err("kshell: exec redirections of stdin/stdout/stderr are not "
                        "supported\n")
                return 1
            if r.op == "close":
                self._close_fds([r.fd])
                continue
            if r.op == "dup":
                ctx.err("kshell: exec N>&M is not supported\n")
                return 1
            try:
                target = self._single(r.target, ctx)
                vpath = self.fs.abspath(self.cwd, target)
                if r.op != "<":
                    self._check_writable(vpath, target)
                self._open_fd(r.fd, vpath, target)
            except FsError as err:
                ctx.err(f"bash: {err.path}: {err.strerror}\n")
                return 1
            except _Ambiguous as amb:
                ctx.err(f"bash: {amb}: ambiguous redirect\n")
                return 1
        return 0

    def _builtin_cd(self, argv: list[str], ctx: Ctx) -> int:
        if len(argv) > 2:
            ctx.err("bash: cd: too many arguments\n")
            return 1
        target = argv[1] if len(argv) > 1 else HOME
        if target == "-":
            target = self.oldpwd
            ctx.out(f"{target}\n")
        vpath = self.fs.abspath(self.cwd, target)
        if not self.fs.exists(vpath):
            ctx.err(f"bash: cd: {target}: No such file or directory\n")
            return 1
        if not self.fs.is_dir(vpath):
            ctx.err(f"bash: cd: {target}: Not a directory\n")
            return 1
        self.oldpwd, self.cwd = self.cwd, vpath
        return 0

    def _builtin_pwd(self, argv: list[str], ctx: Ctx) -> int:
        ctx.out(f"{self.cwd}\n")
        return 0

    def _builtin_echo(self, argv: list[str], ctx: Ctx) -> int:
        return coreutils.echo(ctx, argv)

    def _builtin_true(self, argv: list[str], ctx: Ctx) -> int:
        return 0

    def _builtin_false(self, argv: list[str], ctx: Ctx) -> int:
        return 1

    def _builtin_sleep(self, argv: list[str], ctx: Ctx) -> int:
        return 0  # the simulated machine does not wait

    def _builtin_help(self, argv: list[str], ctx: Ctx) -> int:
        ctx.out("kshell: a root shell on a simulated Debian 12 machine (kernel "
                f"{self.release}, kmod 30)\n"
                f"tools: {' '.join(sorted(TOOLS))}\n"
                f"builtins: {' '.join(b for b in BUILTINS if b != ':')}\n"
                "files: /proc /sys /dev (the simulated kernel), /lib/modules (the module tree), "
                "/root/modules (the course modules, read-only)\n")
        return 0


class _Ambiguous(Exception):
    pass


class BadSubstitution(Exception):
    """${...} bash cannot expand: the line stops there with status 1."""


_C_ESCAPES = {"\a": "a", "\b": "b", "\x1b": "E", "\f": "f", "\n": "n", "\r": "r",
              "\t": "t", "\v": "v", "'": "'", "\\": "\\"}


def ansic_quote(word: str) -> str:
    """How bash 5.2 names a command it cannot find when the name holds bytes that do not
    print (lib/sh/strtrans.c ansic_shouldquote / ansic_quote): $'...' with C escapes and
    octal for the rest. A name that prints is returned as it is."""
    if all(c.isprintable() and not 0xDC80 <= ord(c) <= 0xDCFF for c in word):
        return word
    out = []
    for c in word:
        if c in _C_ESCAPES:
            out.append("\\" + _C_ESCAPES[c])
        elif c.isprintable() and not 0xDC80 <= ord(c) <= 0xDCFF:
            out.append(c)
        else:
            out += [f"\\{b:03o}" for b in c.encode("utf-8", "surrogateescape")]
    return "$'" + "".join(out) + "'"


def script_commands(text: str) -> list[tuple[int, str]]:
    """(line number, line) for each line of a script that runs a command: continuations
    joined, blank lines and comment lines left out (the real-kernel runner sends the same)."""
    return [(number, line) for number, line in join_continuations(text)
            if line.strip() and not line.lstrip().startswith("#")]


def join_continuations(text: str) -> list[tuple[int, str]]:
    """(line number, line) for a script, a trailing backslash joining a line to the next."""
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        start = start or number
        if raw.endswith("\\") and not raw.endswith("\\\\"):
            pending += raw[:-1]
            continue
        lines.append((start, pending + raw))
        pending, start = "", 0
    if pending:
        lines.append((start, pending))
    return lines
