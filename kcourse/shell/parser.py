"""Parse one shell line into commands, the way bash splits it (a small, honest subset).

Supported: words with '...' and "..." quoting and backslash escapes; comments (`#` at the
start of a word); `;`, `&&`, `||`, background `&`; pipes `|`; redirections `>`, `>>`, `<`,
`N>`, `N<`, `N>&M`, `N<&-` (close); `$?`, `$!`, `$NAME`, `${NAME}` and `$(command)`
expansion; `NAME=value` assignments; `for NAME [in WORDS]; do LIST; done` and
`while|until LIST; do LIST; done`; globs (`*`, `?`, `[...]`) are marked here and expanded by
the shell against the simulated file system. Anything else bash would accept (subshells,
`if`, `case`, here-documents, ...) is refused with one line saying so, and nothing runs: a
refused line changes no state.

The grammar (bash's parse.y, cut down), one function each below:

    list     := and_or ((';' | '&') and_or)* [';' | '&']
    and_or   := pipeline (('&&' | '||') pipeline)*
    pipeline := command ('|' command)*
    command  := for_loop | while_loop | simple
    for_loop := 'for' NAME [';'] ['in' WORD* ';'] 'do' list 'done'
    while    := ('while' | 'until') list 'do' list 'done'

Reserved words (for, while, until, do, done, in, ...) are reserved only unquoted and where
a command starts, as in bash. Errors raise ShellSyntaxError, whose message is the one line to
print (bash prints `bash: syntax error near unexpected token ...` and exits with status 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kcourse.errors import KcourseError

SYNTAX_RC = 2  # bash's status for a syntax error
MAX_NESTING = 32  # $( $( ... ) ) levels; bash has no small limit, Python's stack does
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]|[?$#0!]")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
# bash's reserved words that this shell does not run (parse.y word_token_alist)
_UNSUPPORTED_WORDS = {
    "if": "'if ... fi'", "then": "'if ... fi'", "elif": "'if ... fi'", "else": "'if ... fi'",
    "fi": "'if ... fi'", "case": "'case ... esac'", "esac": "'case ... esac'",
    "select": "'select'", "function": "shell functions", "[[": "'[[ ... ]]'",
    "]]": "'[[ ... ]]'", "!": "'!' (pipeline negation)", "coproc": "'coproc'",
    "time": "'time'",
}
MAX_LOOP_NESTING = 16
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
    raw: str = ""  # the word as typed, quotes and all (how `jobs` shows a command)

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
    """A pipeline and the operator that links it to the previous one (None for the first).
    A list is a sequence of these; `;` and `&` start a new and-or list, and `background`
    marks the last pipeline of an and-or list followed by `&` (the whole and-or list is the
    job, as `a && b &` runs `a && b` in the background)."""

    op: str | None  # None | ";" | "&" | "&&" | "||"
    pipeline: Pipeline
    background: bool = False


@dataclass
class ForLoop:
    """for NAME in WORDS; do BODY; done (words None: `for NAME; do`, over "$@")."""

    name: str
    words: list[Word] | None
    body: list[AndOr]


@dataclass
class WhileLoop:
    """while CONDITION; do BODY; done (`until`: the condition negated)."""

    until: bool
    condition: list[AndOr]
    body: list[AndOr]


_GLOB_CHARS = "*?["
_UNSUPPORTED = {
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
        start = self.i
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
        word.raw = s[start:self.i]
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
        if i < len(s) and s[i] in "?$#0!":
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
    parser = _Parser(_Lexer(line, depth).tokens())
    program = parser.list(stop=())
    if parser.pos < len(parser.tokens):  # a reserved word out of place: `done`, `do`
        raise syntax_error(parser.text(parser.pos))
    return program


Token = tuple[str, object]
_RESERVED = ("for", "while", "until", "do", "done", "in", *_UNSUPPORTED_WORDS)


class _Parser:
    """Recursive descent over the lexer's tokens, one method per rule of the grammar."""

    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.pos = 0
        self.loops = 0  # how deep in for/while bodies

    # ---------------------------------------------------------------- tokens
    def text(self, pos: int) -> str:
        """A token as bash names it in a syntax error (`newline` at the end)."""
        if pos >= len(self.tokens):
            return "newline"
        kind, value = self.tokens[pos]
        return str(value) if kind == "op" else "".join(p.text for p in value.parts)

    def reserved(self, pos: int | None = None) -> str | None:
        """The reserved word at `pos`, if the token is one (unquoted, as bash requires)."""
        pos = self.pos if pos is None else pos
        if pos >= len(self.tokens) or self.tokens[pos][0] != "word":
            return None
        word: Word = self.tokens[pos][1]  # type: ignore[assignment]
        text = word.literal()
        if text in _RESERVED and not any(p.quoted for p in word.parts):
            return text
        return None

    def at_op(self, *ops: str) -> bool:
        return self.pos < len(self.tokens) and self.tokens[self.pos] in [("op", o) for o in ops]

    def expect_word(self, word: str) -> None:
        if self.reserved() != word:
            raise self.unexpected()
        self.pos += 1

    def unexpected(self) -> ShellSyntaxError:
        if self.pos >= len(self.tokens):
            return ShellSyntaxError("bash: syntax error: unexpected end of file")
        return syntax_error(self.text(self.pos))

    # ---------------------------------------------------------------- rules
    def list(self, stop: tuple[str, ...]) -> list[AndOr]:
        """and_or lists separated by ; or &, up to the end or a reserved word in `stop`."""
        result: list[AndOr] = []
        op: str | None = None
        while self.pos < len(self.tokens) and self.reserved() not in stop:
            result += self.and_or(op)
            if not self.at_op(";", "&"):
                break
            op = str(self.tokens[self.pos][1])
            if op == "&":
                result[-1].background = True
            self.pos += 1
        if stop and not result:  # `while; do`, `do; done`: bash wants a command here
            raise self.unexpected()
        return result

    def and_or(self, op: str | None) -> list[AndOr]:
        items = [AndOr(op, self.pipeline())]
        while self.at_op("&&", "||"):
            link = str(self.tokens[self.pos][1])
            self.pos += 1
            if self.pos >= len(self.tokens):
                raise ShellSyntaxError("bash: syntax error: unexpected end of file")
            items.append(AndOr(link, self.pipeline()))
        return items

    def pipeline(self) -> Pipeline:
        commands = [self.command()]
        while self.at_op("|"):
            self.pos += 1
            if self.pos >= len(self.tokens):
                raise ShellSyntaxError("bash: syntax error: unexpected end of file")
            commands.append(self.command())
        return Pipeline(commands)

    def command(self):
        word = self.reserved()
        if word in ("for", "while", "until"):
            if self.loops >= MAX_LOOP_NESTING:
                raise unsupported(f"loops nested more than {MAX_LOOP_NESTING} deep")
            self.pos += 1
            self.loops += 1
            loop = self.for_loop() if word == "for" else self.while_loop(word == "until")
            self.loops -= 1
            if self.pos < len(self.tokens) and self.tokens[self.pos][0] == "op" \
                    and str(self.tokens[self.pos][1])[-1:] in "<>":
                raise unsupported("redirections of a whole loop")
            if self.reserved() is not None or (self.pos < len(self.tokens)
                                               and self.tokens[self.pos][0] == "word"):
                raise syntax_error(self.text(self.pos))  # `done done`, `done x`
            return loop
        if word in _UNSUPPORTED_WORDS:
            raise unsupported(_UNSUPPORTED_WORDS[word])
        if word is not None:  # do, done, in where a command should start
            raise syntax_error(word)
        return self.simple()

    def for_loop(self) -> ForLoop:
        if self.pos >= len(self.tokens) or self.tokens[self.pos][0] != "word":
            raise self.unexpected()
        name_word: Word = self.tokens[self.pos][1]  # type: ignore[assignment]
        name = "".join(p.text for p in name_word.parts)
        self.pos += 1
        words: list[Word] | None = None
        if self.at_op(";"):
            self.pos += 1
        if self.reserved() == "in":
            self.pos += 1
            words = []
            while self.pos < len(self.tokens) and self.tokens[self.pos][0] == "word":
                words.append(self.tokens[self.pos][1])  # type: ignore[arg-type]
                self.pos += 1
            if not self.at_op(";"):
                raise self.unexpected()
            self.pos += 1
        self.expect_word("do")
        body = self.list(stop=("done",))
        self.expect_word("done")
        return ForLoop(name, words, body)

    def while_loop(self, until: bool) -> WhileLoop:
        condition = self.list(stop=("do",))
        self.expect_word("do")
        body = self.list(stop=("done",))
        self.expect_word("done")
        return WhileLoop(until, condition, body)

    def simple(self) -> Command:
        command = Command()
        tokens = self.tokens
        while self.pos < len(tokens):
            kind, value = tokens[self.pos]
            if kind == "word":
                command.words.append(value)  # type: ignore[arg-type]
                self.pos += 1
                continue
            op = str(value)
            if op in ("|", ";", "&&", "||", "&"):
                break
            if op in _UNSUPPORTED:
                raise unsupported(_UNSUPPORTED[op])
            if op == ";;":
                raise syntax_error(";;")
            redirect, self.pos = _redirect(tokens, self.pos, op)
            command.redirects.append(redirect)
        if not command.words and not command.redirects:
            raise syntax_error(self.text(self.pos))
        return command


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
