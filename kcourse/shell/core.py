"""Shell: runs shell lines against a simulated kernel and returns what a root shell shows.

    sh = Shell()                       # a fresh Kernel(seed=0), working directory /root/modules
    r = sh.run("insmod hello/hello.ko")
    r.stdout, r.stderr, r.rc, r.dmesg  # r.dmesg: the kernel log lines this command caused

Each line is parsed like bash (kcourse.shell.parser), its words expanded ($?, $VAR, $(...),
globs against the simulated file system), redirections applied as bash applies them (a
redirection that cannot be opened stops the command before it runs), and each command is
either a shell builtin (cd, pwd, exec, echo, true, false, help, kill, wait, jobs, break,
continue) or a tool: kmod's insmod, rmmod, lsmod, modprobe, modinfo, depmod; cat, ls, dmesg,
uname, grep, head, tail, wc, sort, stat, od, dd, mknod, rm (kcourse.shell.bytetools,
nodecmds) and a field-picking awk (kcourse.shell.awk). `for` and `while`/`until` loops run
their bodies here; background jobs (`&`) are kcourse.shell.jobs'. A line the shell cannot
parse prints one line, returns status 2 and runs nothing.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath

from kcourse.backend import CommandResult
from kcourse.errors import KcourseError
from kcourse.kernel.kernel import SimulatorLimit
from kcourse.paths import modules_dir
from kcourse.shell import awk, bytetools, coreutils, jobs, kmodtools, modprobe, nodecmds, statcmd
from kcourse.shell.context import Ctx, TaskKilled
from kcourse.shell.fs import COURSE_DIR, HOME, FsError, SimFS
from kcourse.shell.moddir import ModuleTree
from kcourse.shell.parser import (
    ASSIGNMENT,
    IDENTIFIER,
    AndOr,
    Command,
    ForLoop,
    ShellSyntaxError,
    WhileLoop,
    Word,
    parse,
)

TOOLS = {
    "insmod": kmodtools.insmod, "rmmod": kmodtools.rmmod, "lsmod": kmodtools.lsmod,
    "modprobe": modprobe.modprobe, "modinfo": modprobe.modinfo, "depmod": modprobe.depmod,
    "cat": coreutils.cat, "ls": coreutils.ls, "dmesg": coreutils.dmesg,
    "uname": coreutils.uname, "grep": coreutils.grep, "head": bytetools.head,
    "tail": coreutils.tail, "wc": coreutils.wc, "sort": coreutils.sort,
    "stat": statcmd.stat, "od": bytetools.od, "dd": bytetools.dd, "awk": awk.awk,
    "mknod": nodecmds.mknod, "rm": nodecmds.rm,
}
BUILTINS = ("cd", "pwd", "exec", "echo", "true", "false", "help", "sleep", ":", "kill", "wait",
            "jobs", "break", "continue")
MAX_ROUNDS = 1000  # a while loop the simulator stops (bash would go on for ever)
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
        if workdir:
            workdir = os.path.abspath(workdir)  # a relative folder is the caller's
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
        self.vars: dict[str, str] = {}  # NAME=value and for-loop variables
        self.jobs = jobs.JobTable(backend)
        self.loop_depth = 0
        self._background_job: list | None = None  # [seconds slept, ran after a sleep]
        self._job: jobs.Job | None = None  # the job whose commands run now
        self._file_refs: dict[int, int] = {}  # kernel fd -> jobs holding it (inherited)

    # ------------------------------------------------------------------ public
    def run(self, line: str, top: bool = True) -> CommandResult:
        """Run one line; returns its output, status and the dmesg lines it caused. (`top`:
        a line typed, not a $(...) inside one: finished jobs are forgotten before it.)"""
        if top:
            if self.jobs.asleep():  # bash waits for the line: what was woken runs now
                self.kernel.run_deferred()
            self.jobs.new_line()
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
            rc = self._list(program, out, errs) if program else rc
        except BadSubstitution as bad:
            errs.append(f"bash: {bad}: bad substitution\n")
            rc = self.status = 1
        except _LoopControl:  # break/continue N left every loop: the line goes on no more
            rc = self.status
        if top:  # what background jobs printed meanwhile, on the terminal
            self.jobs.drain(out, errs)
        return CommandResult(line, "".join(out), "".join(errs), rc, self._log_since(before))

    def close(self) -> None:
        """The session ends: jobs still asleep in the kernel are ended where they sleep (their
        files closed), so that nothing of them outlives the shell."""
        for job in self.jobs.asleep():
            job.task.abort()

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
        records = self.kernel.log.records  # in sequence order (printk.LogBuffer appends)
        return records[-1].seq if records else -1

    def _log_since(self, seq: int) -> tuple[str, ...]:
        """The texts of the records after `seq`, found from the end: a command's own lines
        are the last few, however long the log has grown."""
        records = self.kernel.log.records
        start = len(records)
        while start > 0 and records[start - 1].seq > seq:
            start -= 1
        return tuple(r.text for r in records[start:])

    # ------------------------------------------------------------------ lists and loops
    def _list(self, items: list[AndOr], out: list[str], errs: list[str]) -> int:
        """and-or lists one after the other; one that ends with `&` is a background job."""
        rc = self.status
        start = 0
        for i, item in enumerate(items):
            if i + 1 < len(items) and items[i + 1].op not in (";", "&") and \
                    not item.background:
                continue
            group, start = items[start:i + 1], i + 1
            if item.background:
                rc = self._background(group, out, errs)
            else:
                rc = self._and_or(group, out, errs)
            self.status = rc
        return rc

    def _and_or(self, group: list[AndOr], out: list[str], errs: list[str]) -> int:
        rc = 0
        for item in group:
            if item.op == "&&" and rc != 0 or item.op == "||" and rc == 0:
                continue
            rc = self._pipeline(item.pipeline.commands, out, errs)
            self.status = rc
        return rc

    def _background(self, group: list[AndOr], out: list[str], errs: list[str]) -> int:
        """`LIST &`: bash says `[N] PID`, the job runs (at once, see kcourse.shell.jobs) until
        it ends or sleeps in the kernel, and the status is 0. The job's process inherits the
        shell's open files (fork): a file stays open until the job closes it too."""
        job = self.jobs.start(_job_text(group))
        job.single = len(group) == 1 and len(group[0].pipeline.commands) == 1
        errs.append(f"[{job.number}] {job.pid}\n")
        for _fd, (_path, handle) in self.fds.items():
            if handle is not None:
                job.files[_fd] = handle
                self._file_refs[handle] = self._file_refs.get(handle, 0) + 1

        def body() -> None:
            from kcourse.machine.processes import ProcessExit

            self._background_job, self._job = [0.0, False], job
            try:
                status = self._and_or(group, job.out, job.err)
            except ProcessExit as gone:  # killed by a signal, or ended by the simulator
                status, job.killed = 128 + gone.signal, gone.signal
                if task is not None:
                    task.close_files()
            finally:
                if job.files:  # the job's process exits: its copies of the files go
                    with self.kernel.task(job.comm):
                        for fd in list(job.files):
                            self._drop_job_file(job, fd)
            slept, after = self._background_job
            self.jobs.finish(job, status, slept, after)

        task = None
        if not hasattr(self.kernel, "memory"):  # not a simulated kernel: no process to sleep
            status_before, saved = self.status, self._background_job
            try:
                body()
            finally:
                self.status, self._background_job, self._job = status_before, saved, None
        else:
            from kcourse.machine.processes import UserTask

            task = UserTask(self.kernel, body, _job_text(group),
                            ((self._job_state, self._put_job_state),))
            task.start()
            if not task.done:
                job.task = task
        self.jobs.drain(out, errs)
        return 0

    def _job_state(self):
        return self.status, self._background_job, self._job, self.loop_depth

    def _put_job_state(self, state) -> None:
        self.status, self._background_job, self._job, self.loop_depth = state

    def _drop_job_file(self, job: jobs.Job, fd: int) -> None:
        """The job's copy of fd goes (its `N<&-`, or its end): the file is closed when no
        copy is left (fs/file_table.c fput: the last reference releases it)."""
        handle = job.files.pop(fd, None)
        if handle is None:
            return
        self._file_refs[handle] -= 1
        if self._file_refs[handle] == 0:
            del self._file_refs[handle]
            if all(h != handle for _path, h in self.fds.values()) and not self.kernel.panicked:
                try:
                    self.kernel.close(handle)
                except TaskKilled:  # an oops in ->release as the job exits: printed
                    pass

    def _loop(self, loop: ForLoop | WhileLoop, ctx: Ctx) -> int:
        """for/while/until (bash's execute_cmd.c execute_for_command, execute_while_or_until):
        the status is the body's last, 0 when the body never ran."""
        if isinstance(loop, ForLoop) and not IDENTIFIER.fullmatch(loop.name):
            ctx.err(f"bash: `{loop.name}': not a valid identifier\n")
            return 1
        rc, rounds = 0, 0
        self.loop_depth += 1
        try:
            values = iter(()) if isinstance(loop, WhileLoop) else iter(
                [v for w in (loop.words or []) for v in self._expand(w, ctx)])
            while True:
                if isinstance(loop, ForLoop):
                    value = next(values, None)
                    if value is None:
                        break
                    self.vars[loop.name] = value
                else:
                    cond = self._list(loop.condition, ctx.stdout, ctx.stderr)
                    if (cond == 0) == loop.until:
                        break
                    rounds += 1
                    if rounds > MAX_ROUNDS:
                        ctx.err(f"kshell: loop stopped after {MAX_ROUNDS} rounds (bash would go "
                                "on; the simulator does not run endless loops)\n")
                        return 1
                try:
                    rc = self._list(loop.body, ctx.stdout, ctx.stderr)
                except _LoopControl as jump:
                    if jump.levels > 1 and self.loop_depth > 1:
                        jump.levels -= 1
                        raise
                    rc = 0
                    if jump.kind == "break":
                        break
        finally:
            self.loop_depth -= 1
        return rc

    # ------------------------------------------------------------------ execution
    def _pipeline(self, commands: list[Command], out: list[str], errs: list[str]) -> int:
        if self._background_job is not None and self._background_job[0] > 0:
            self._background_job[1] = True  # a pipeline after the job's sleep
        stdin, rc = "", 0
        for i, command in enumerate(commands):
            ctx = Ctx(self, stdin=stdin)
            try:
                rc = self._command(command, ctx)
            except _LoopControl:  # break/continue inside a loop: keep what it printed
                errs.extend(ctx.stderr)
                out.extend(ctx.stdout)
                raise
            except TaskKilled as killed:
                # The process died in the kernel (an oops in module code): SIGKILL, status
                # 128 + 9. Whether bash says so is its mode's (bash 5.2 jobs.c
                # notify_of_job_status, for the pipeline's last process): an interactive
                # bash with job control (a terminal) prints "Killed"; an interactive one
                # without (the lab's `bash -i`: no controlling terminal, `set +m`) prints nothing; a
                # non-interactive one (`bash -c`, a script) prints "bash: line N: PID Killed
                # ...". This shell imitates the lab's unless job_control is set. (A builtin
                # such as echo runs in the shell itself, whose death would end a real
                # session; this shell survives.) A stopped machine is always said.
                said = killed.args[0] if killed.args else "Killed"
                if said != "Killed" or self.job_control and i == len(commands) - 1:
                    ctx.err(f"{said}\n")
                for note in self.kernel.take_notes():  # e.g. what a stop left mid-call
                    ctx.err(note + "\n")
                rc = 1 if isinstance(killed, SimulatorLimit) else 137
            errs.extend(ctx.stderr)
            if i == len(commands) - 1:
                out.extend(ctx.stdout)
            stdin = "".join(ctx.stdout)
        return rc

    def _command(self, command: Command | ForLoop | WhileLoop, ctx: Ctx) -> int:
        if isinstance(command, (ForLoop, WhileLoop)):
            return self._loop(command, ctx)
        words = command.words
        assigned = 0
        while assigned < len(words) and _assignment(words[assigned]):
            assigned += 1
        if assigned and assigned == len(words) and not command.redirects:
            for word in words:  # NAME=value: a shell variable (no splitting, no globbing)
                first = word.parts[0]
                name = ASSIGNMENT.match(first.text).group(1)
                rest = [type(first)(first.kind, first.text[len(name) + 1:]), *word.parts[1:]]
                self.vars[name] = self._expand(Word(rest), ctx, split=False)[0]
            return 0
        argv: list[str] = []
        for word in words[assigned:]:  # NAME=value before a command: its environment only
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
                    if self._job is not None and self._job.single:  # the job's own process
                        self._drop_job_file(self._job, r.fd)
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
                    if self.fs.tmp_writable(vpath):  # bash opens (and truncates) it now
                        self.fs.tmp_open(vpath, append=r.op == ">>")
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
            for note in self.kernel.take_notes():  # the simulator's own words, on stderr
                ctx.err(note + "\n")
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
        if self._job is not None and self._job.single:
            # the job's process is this program: the pid bash printed (`[1] PID`), a task of
            # its own (two jobs asleep at once are two tasks on the wait queue)
            self._job.comm = name[:15]
            return task(name[:15], pid=self._job.pid)
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
    def _expand(self, word: Word, ctx: Ctx | None = None, split: bool = True) -> list[str]:
        """One word -> zero or more arguments: variables, $(...), then globbing. What a
        command substitution prints on stderr goes to `ctx` (bash shows it, in order).
        split=False: an assignment's value, one string, neither split nor globbed."""
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
        if not split:
            return [text]
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
        result = self.run(text, top=False)
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
        if name in self.vars:
            return self.vars[name]
        last = "" if self.jobs.last_pid is None else str(self.jobs.last_pid)
        return {"?": str(self.status), "HOME": HOME, "PWD": self.cwd, "OLDPWD": self.oldpwd,
                "USER": "root", "$": "1", "0": "bash", "#": "0", "!": last}.get(name, "")

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
        if self.fs.tmp_writable(vpath):
            return
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
        if self._module_file(vpath):  # the file system says (root passes DAC, kernfs not)
            err = self.kernel.may_open(vpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            if err:
                raise FsError(err, shown)
            return
        if not entry.mode & 0o222:
            raise FsError(13, shown)  # kernfs_fop_open: no write permission bit -> EACCES

    def _module_file(self, vpath: str) -> bool:
        """A file a module made (kcourse.kernel.nodes): its open and writes are the module's."""
        nodes = getattr(self.kernel, "nodes", None)
        return nodes is not None and nodes.get(vpath) is not None

    def _write(self, vpath: str, text: str, prog: str, ctx: Ctx) -> int:
        try:
            self.fs.write_text(vpath, text)
        except FsError as err:
            if err.errno == 13 and not self._module_file(vpath):
                ctx.err(f"bash: {vpath}: {err.strerror}\n")
            elif prog in BUILTINS:
                ctx.err(f"bash: {prog}: write error: {err.strerror}\n")
            else:
                ctx.err(f"{prog}: write error: {err.strerror}\n")
            return 1
        return 0

    def _open_fd(self, fd: int, vpath: str, shown: str, flags: int = os.O_RDONLY) -> None:
        kind, _ = self.fs.locate(vpath)
        if not self.fs.exists(vpath):
            raise FsError(2, shown)
        handle = None
        if kind == "kernel" and (vpath.startswith("/dev/") or self._module_file(vpath)):
            try:  # a device, or a file a module made in /proc or /sys: its open runs
                handle = self.kernel.open(vpath, flags)
            except TaskKilled:
                raise
            except KcourseError as err:
                raise FsError(getattr(err, "errno", 5) or 5, shown) from None
        self._close_fds([fd])
        self.fds[fd] = (vpath, handle)

    def _close_fds(self, fds: list[int]) -> None:
        for fd in fds:
            path, handle = self.fds.pop(fd, (None, None))
            if handle is not None and not self._file_refs.get(handle):  # no job holds it
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
                flags = os.O_RDONLY
                if r.op != "<":
                    self._check_writable(vpath, target)
                    if self.fs.tmp_writable(vpath):
                        self.fs.tmp_open(vpath, append=r.op == ">>")
                    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if r.op == ">>" else
                                                        os.O_TRUNC)
                self._open_fd(r.fd, vpath, target, flags)
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
        """coreutils sleep: the machine does not wait, the shell's logical clock moves (a
        background job's sleep keeps the job running that long: kcourse.shell.jobs)."""
        total = 0.0
        for arg in argv[1:]:
            number, unit = (arg[:-1], arg[-1]) if arg[-1:] in "smhd" else (arg, "s")
            try:
                total += float(number) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
            except ValueError:
                ctx.err(f"sleep: invalid time interval '{arg}'\n"
                        "Try 'sleep --help' for more information.\n")
                return 1
        if len(argv) < 2:
            ctx.err("sleep: missing operand\nTry 'sleep --help' for more information.\n")
            return 1
        if self._background_job is not None:
            self._background_job[0] += total
        else:
            self.jobs.clock += total
            pass_time = getattr(self.kernel, "pass_time", None)  # timers fire, threads run
            if pass_time is not None:
                pass_time(round(total * 1_000_000))
        return 0

    def _builtin_kill(self, argv: list[str], ctx: Ctx) -> int:
        return jobs.kill(self.jobs, argv, ctx)

    def _builtin_wait(self, argv: list[str], ctx: Ctx) -> int:
        return jobs.wait(self.jobs, argv, ctx)

    def _builtin_jobs(self, argv: list[str], ctx: Ctx) -> int:
        return jobs.jobs(self.jobs, argv, ctx)

    def _builtin_break(self, argv: list[str], ctx: Ctx) -> int:
        return self._jump("break", argv, ctx)

    def _builtin_continue(self, argv: list[str], ctx: Ctx) -> int:
        return self._jump("continue", argv, ctx)

    def _jump(self, kind: str, argv: list[str], ctx: Ctx) -> int:
        """break/continue [N] (builtins/break.def)."""
        if not self.loop_depth:
            ctx.err(f"bash: {kind}: only meaningful in a `for', `while', or `until' loop\n")
            return 0
        levels = 1
        if len(argv) > 1:
            if not argv[1].lstrip("-").isdigit():
                ctx.err(f"bash: {kind}: {argv[1]}: numeric argument required\n")
                return 128
            levels = int(argv[1])
            if levels < 1:
                ctx.err(f"bash: {kind}: {argv[1]}: loop count out of range\n")
                return 1
        raise _LoopControl(kind, levels)

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


class _LoopControl(Exception):
    """break/continue: leaves the body of `levels` loops."""

    def __init__(self, kind: str, levels: int):
        super().__init__(kind)
        self.kind, self.levels = kind, levels


def _assignment(word: Word) -> bool:
    """Whether a word is NAME=value (the NAME= part unquoted, as bash requires)."""
    first = word.parts[0] if word.parts else None
    return bool(first is not None and first.kind in ("lit", "glob") and not first.quoted
                and ASSIGNMENT.match(first.text))


def _job_text(group: list[AndOr]) -> str:
    """A job's command as `jobs` shows it: its words as typed, one space apart, the
    operators between (bash's print_cmd.c make_command_string; a loop is shown as `...`)."""
    parts = []
    for item in group:
        if item.op in ("&&", "||"):
            parts.append(item.op)
        texts = []
        for command in item.pipeline.commands:
            words = getattr(command, "words", None)
            texts.append("..." if words is None else " ".join(
                [*(w.raw for w in words), *map(_redirect_text, command.redirects)]))
        parts.append(" | ".join(texts))
    return " ".join(parts)


def _redirect_text(r) -> str:
    """print_cmd.c print_redirection: `< f`, `2> f`, `>> f` (the default fd left out), `2>&1`,
    `1>&2`, and a close as `3>&-` (whichever way it was typed)."""
    if r.op == "close":
        return f"{r.fd}>&-"
    if r.op == "dup":
        return f"{r.fd}>&{r.dup_fd}"
    default = 0 if r.op == "<" else 1
    return f"{'' if r.fd == default else r.fd}{r.op} {r.target.raw}"


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
