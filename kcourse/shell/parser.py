"""Parse one shell line into commands, the way bash splits it (a small, honest subset).

Supported: words with '...' and "..." quoting and backslash escapes; comments (`#` at the
start of a word); `;`, `&&`, `||`; pipes `|`; redirections `>`, `>>`, `<`, `N>`, `N<`,
`N>&M`, `N<&-` (close); `$?`, `$NAME`, `${NAME}` and `$(command)` expansion; globs
(`*`, `?`, `[...]`) are marked here and expanded by the shell against the simulated file
system. Anything else bash would accept (background `&`, subshells, here-documents, ...)
is refused with one line saying so, and nothing runs: a refused line changes no state.

Errors raise ShellSyntaxError, whose message is the one line to print (bash prints
`bash: syntax error near unexpected token ...` and exits with status 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kcourse.errors import KcourseError

SYNTAX_RC = 2  # bash's status for a syntax error
MAX_NESTING = 32  # $( $( ... ) ) levels; bash has no small limit, Python's stack does
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]|[?$#0]")
# What bash accepts inside ${...} beyond a name: ${#x}, ${!x}, ${x:-y}, ${x%y}, ${a[1]}, ...
_EXPANSION = re.compile(r"[#!]?([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[?$#@*!-])([:=?+#%/^,\[@-].*)?$",
                        re.S)


class ShellSyntaxError(KcourseError):
    """A line the shell cannot run; the message is the one line to show. `rc` is the status
    an interactive bash leaves in $? (2; 1 for an error inside $(...), as seen on Debian's
    bash 5.2). A script stops at either with status 2."""

    rc = SYNTAX_RC


@dataclass(frozen=True)
class Part:
    """A piece of a word: literal text, or something to expand when the command runs."""

    kind: str  # "lit" | "glob" (unquoted text with * ? [) | "var" | "cmd" | "bad" (${1a})
    text: str
    quoted: bool = False


@dataclass
class Word:
    parts: list[Part] = field(default_factory=list)

    def literal(self) -> str | None:
        """The word's text when it has no expansions, else None."""
        if all(p.kind in ("lit", "glob") for p in self.parts):
            return "".join(p.text for p in self.parts)
        return None


@dataclass
class Redirect:
    fd: int          # the descriptor redirected (0 for <, 1 for >)
    op: str          # "<", ">", ">>", "dup", "close"
    target: Word | None = None  # file name (for <, >, >>)
    dup_fd: int | None = None   # for N>&M / N<&M


@dataclass
class Command:
    words: list[Word] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class Pipeline:
    commands: list[Command]


@dataclass
class AndOr:
    """A pipeline and the operator that links it to the previous one (None for the first)."""

    op: str | None  # None | ";" | "&&" | "||"
    pipeline: Pipeline


_GLOB_CHARS = "*?["
_UNSUPPORTED = {
    "&": "'&' (background jobs)",
    "(": "subshells '( ... )'",
    ")": "subshells '( ... )'",
    "{": "command groups '{ ... }'",
    "}": "command groups '{ ... }'",
    "<<": "here-documents '<<'",
    "<<<": "here-strings '<<<'",
    "`": "backquote command substitution (use $(...))",
}


def unsupported(what: str) -> ShellSyntaxError:
    return ShellSyntaxError(f"kshell: {what} is not supported in this simulated shell")


def syntax_error(token: str) -> ShellSyntaxError:
    return ShellSyntaxError(f"bash: syntax error near unexpected token `{token}'")


class _Lexer:
    """Split a line into words and operators, keeping quoting information per part."""

    def __init__(self, line: str, depth: int = 0):
        self.s = line
        self.i = 0
        self.depth = depth  # how many $(...) this line is inside

    def tokens(self) -> list[tuple[str, object]]:
        out: list[tuple[str, object]] = []
        s = self.s
        while True:
            while self.i < len(s) and s[self.i] in " \t":
                self.i += 1
            if self.i >= len(s) or s[self.i] in "\n\r":
                if self.i < len(s) and s[self.i:].strip():
                    raise unsupported("a line break inside one command")
                return out
            c = s[self.i]
            if c == "#":
                return out
            op = self._operator()
            if op is not None:
                out.append(("op", op))
                continue
            out.append(("word", self._word()))

    def _operator(self) -> str | None:
        s, i = self.s, self.i
        # N>&M, N<&-, N>file: a digit run glued to a redirection operator is its descriptor
        j = i
        while j < len(s) and s[j].isdigit():
            j += 1
        if j > i and j < len(s) and s[j] in "<>":
            op = self._redir_op(j)
            self.i = j + len(op)
            return s[i:j] + op
        if s[i] in "<>":
            op = self._redir_op(i)
            self.i = i + len(op)
            return op
        for op in ("&&", "||", ";;", ";", "|", "&", "(", ")", "`"):
            if s.startswith(op, i):
                self.i = i + len(op)
                return op
        if s[i] in "{}" and (i + 1 == len(s) or s[i + 1] in " \t;"):
            self.i = i + 1
            return s[i]
        return None

    def _redir_op(self, j: int) -> str:
        s = self.s
        for op in ("<<<", "<<", ">>", ">&", "<&", ">|", "<>", "<", ">"):
            if s.startswith(op, j):
                return op
        raise AssertionError("unreachable")

    def _word(self) -> Word:
        s = self.s
        word = Word()
        buf: list[str] = []
        glob = False

        def flush() -> None:
            nonlocal glob
            if buf:
                word.parts.append(Part("glob" if glob else "lit", "".join(buf)))
                buf.clear()
            glob = False

        while self.i < len(s):
            c = s[self.i]
            if c in " \t\n\r;&|<>()`":
                break
            if c == "\\":
                flush()
                if self.i + 1 < len(s):
                    word.parts.append(Part("lit", s[self.i + 1], True))
                self.i += 2
                continue
            if c == "'":
                flush()
                end = s.find("'", self.i + 1)
                if end < 0:
                    raise ShellSyntaxError("bash: unexpected EOF while looking for matching `''")
                word.parts.append(Part("lit", s[self.i + 1:end], True))
                self.i = end + 1
                continue
            if c == '"':
                flush()
                self._double_quoted(word)
                continue
            if c == "$":
                flush()
                word.parts.append(self._dollar(quoted=False))
                continue
            if c == "~" and not word.parts and not buf and self._tilde(word):
                continue
            if c in _GLOB_CHARS:
                glob = True
            buf.append(c)
            self.i += 1
        flush()
        return word

    def _tilde(self, word: Word) -> bool:
        """Tilde expansion at the start of a word: `~` and `~root` are root's home (the only
        user here); `~other` stays as typed, as bash leaves an unknown user's name."""
        s = self.s
        end = self.i + 1
        while end < len(s) and s[end] not in " \t\n\r;&|<>()`/":
            end += 1
        if s[self.i + 1:end] not in ("", "root"):
            return False
        self.i = end
        word.parts.append(Part("var", "HOME", True))  # quoted: the result is not split
        return True

    def _double_quoted(self, word: Word) -> None:
        s = self.s
        self.i += 1
        buf: list[str] = []
        while True:
            if self.i >= len(s):
                raise ShellSyntaxError('bash: unexpected EOF while looking for matching `"\'')
            c = s[self.i]
            if c == '"':
                self.i += 1
                break
            if c == "\\" and self.i + 1 < len(s) and s[self.i + 1] in '"\\$`':
                buf.append(s[self.i + 1])
                self.i += 2
                continue
            if c == "$":
                if buf:
                    word.parts.append(Part("lit", "".join(buf), True))
                    buf.clear()
                word.parts.append(self._dollar(quoted=True))
                continue
            if c == "`":
                raise unsupported(_UNSUPPORTED["`"])
            buf.append(c)
            self.i += 1
        word.parts.append(Part("lit", "".join(buf), True))

    def _dollar(self, quoted: bool) -> Part:
        s = self.s
        i = self.i + 1
        if s.startswith("((", i):
            raise unsupported("arithmetic expansion '$((...))'")
        if s.startswith("(", i):
            depth, j = 1, i + 1
            while j < len(s) and depth:
                if s[j] == "(":
                    depth += 1
                elif s[j] == ")":
                    depth -= 1
                j += 1
            if depth:
                raise ShellSyntaxError("bash: unexpected EOF while looking for matching `)'")
            self.i = j
            inner = s[i + 1:j - 1]
            self._check_substitution(inner)
            return Part("cmd", inner, quoted)
        if s.startswith("{", i):
            end = s.find("}", i)
            if end < 0:
                raise ShellSyntaxError("bash: unexpected EOF while looking for matching `}'")
            name = s[i + 1:end]
            self.i = end + 1
            if not _NAME.fullmatch(name):
                if not _EXPANSION.match(name):
                    # an expansion error, found when the word is expanded: status 1, the
                    # rest of the line is dropped, a script goes on (bash subst.c)
                    return Part("bad", f"${{{name}}}", quoted)
                raise unsupported(f"the parameter expansion '${{{name}}}'")
            return Part("var", name, quoted)
        if i < len(s) and s[i] in "?$#0":
            self.i = i + 1
            return Part("var", s[i], quoted)
        j = i
        while j < len(s) and (s[j].isascii() and s[j].isalnum() or s[j] == "_"):
            j += 1
        if j == i:  # a lone '$' is literal
            self.i = i
            return Part("lit", "$", quoted)
        self.i = j
        return Part("var", s[i:j], quoted)


    def _check_substitution(self, inner: str) -> None:
        """Parse what $(...) holds now, as bash does: a syntax error inside it is an error of
        the whole line, and nothing on the line runs."""
        if self.depth + 1 >= MAX_NESTING:
            raise unsupported(f"command substitution nested more than {MAX_NESTING} deep")
        try:
            parse(inner, self.depth + 1)
        except ShellSyntaxError as err:
            if str(err) == "bash: syntax error: unexpected end of file":
                err = syntax_error(")")  # bash meets the `)' first
            if str(err).startswith("bash: "):
                err.rc = 1  # (our own "not supported" refusals keep status 2)
            raise err from None


def parse(line: str, depth: int = 0) -> list[AndOr]:
    """Parse one line. An empty list means nothing to run (blank line or comment)."""
    tokens = _Lexer(line, depth).tokens()
    result: list[AndOr] = []
    op: str | None = None
    pos = 0
    while pos < len(tokens):
        pipeline, pos = _pipeline(tokens, pos)
        result.append(AndOr(op, pipeline))
        if pos >= len(tokens):
            break
        kind, value = tokens[pos]
        if value not in (";", "&&", "||"):
            raise syntax_error(str(value))
        op = str(value)
        pos += 1
        if pos >= len(tokens):
            if op == ";":
                break
            raise ShellSyntaxError("bash: syntax error: unexpected end of file")
    return result


def _pipeline(tokens: list[tuple[str, object]], pos: int) -> tuple[Pipeline, int]:
    commands = []
    while True:
        command, pos = _command(tokens, pos)
        commands.append(command)
        if pos < len(tokens) and tokens[pos] == ("op", "|"):
            pos += 1
            if pos >= len(tokens):
                raise ShellSyntaxError("bash: syntax error: unexpected end of file")
            continue
        return Pipeline(commands), pos


def _command(tokens: list[tuple[str, object]], pos: int) -> tuple[Command, int]:
    command = Command()
    while pos < len(tokens):
        kind, value = tokens[pos]
        if kind == "word":
            command.words.append(value)  # type: ignore[arg-type]
            pos += 1
            continue
        op = str(value)
        if op in ("|", ";", "&&", "||"):
            break
        if op in _UNSUPPORTED:
            raise unsupported(_UNSUPPORTED[op])
        if op == ";;":
            raise syntax_error(";;")
        redirect, pos = _redirect(tokens, pos, op)
        command.redirects.append(redirect)
    if not command.words and not command.redirects:
        token = str(tokens[pos][1]) if pos < len(tokens) else "newline"
        raise syntax_error(token)
    return command, pos


def _redirect(tokens: list[tuple[str, object]], pos: int, op: str) -> tuple[Redirect, int]:
    digits = ""
    while op and op[0].isdigit():
        digits, op = digits + op[0], op[1:]
    if op in ("<<", "<<<"):
        raise unsupported(_UNSUPPORTED[op])
    if op in ("<>", ">|"):
        raise unsupported(f"the '{op}' redirection")
    fd = int(digits) if digits else (0 if op.startswith("<") else 1)
    pos += 1
    if pos >= len(tokens) or tokens[pos][0] != "word":
        token = str(tokens[pos][1]) if pos < len(tokens) else "newline"
        raise syntax_error(token)
    target: Word = tokens[pos][1]  # type: ignore[assignment]
    pos += 1
    if op in (">&", "<&"):
        text = target.literal()
        if text == "-":
            return Redirect(fd, "close"), pos
        if text is not None and text.isdigit():
            return Redirect(fd, "dup", dup_fd=int(text)), pos
        if op == ">&" and text is not None:
            # bash: `>&file` sends stdout and stderr to file; keep it simple and refuse
            raise unsupported("'>&FILE' (use '>FILE 2>&1')")
        raise ShellSyntaxError(f"bash: {text or '?'}: ambiguous redirect")
    return Redirect(fd, op, target=target), pos
