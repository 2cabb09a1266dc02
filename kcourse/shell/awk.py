"""awk: the part of mawk 1.3.4 (Debian 12's awk) that one-line scripts use to pick fields.

    awk [-F SEP] 'RULE...' [FILE...]

A RULE is PATTERN, {ACTION} or PATTERN {ACTION}, several separated by `;` or newlines.
PATTERN: /ERE/, !/ERE/, EXPR ~ /ERE/, EXPR !~ /ERE/, EXPR OP VALUE (OP one of == != < <= >
>=, VALUE a "string", a number or another EXPR), where EXPR is $N, $NF, NF or NR.
ACTION: print, or print ITEM[, ITEM]... (ITEMs: EXPR or "string", joined by a space, as
OFS is), several separated by `;`. Fields are split as awk splits them: on runs of blanks
by default, on a single character (-F :), or on an ERE (-F '[,;]').

Comparisons follow POSIX awk: numeric when both sides look like numbers (a field that
looks numeric is a "strnum"), else as strings. Anything else a program holds (BEGIN, END,
variables, printf, functions, ...) is refused with one line saying kshell's awk does not
support it; it runs on the real kernel's awk (kcourse sim --real).
"""

from __future__ import annotations

import re

from kcourse.shell.context import Ctx
from kcourse.shell.fs import FsError

UNSUPPORTED = ("kshell: awk: this program is beyond kshell's awk ({why}); it supports "
               "`PATTERN {{print $N, ...}}` with $N == \"str\", /regex/ and -F (run it on the "
               "real kernel: kcourse sim --real)\n")
NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?)\s*")
TOKEN = re.compile(r"""[ \t]*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<re>/(?:[^/\\\n]|\\.)*/)
                   |(?P<field>\$(?:\d+|NF))|(?P<num>\d+(?:\.\d*)?)|(?P<name>[A-Za-z_]\w*)
                   |(?P<op>==|!=|<=|>=|!~|[<>~!{},;\n]))""", re.X)


class _Unsupported(Exception):
    pass


def _tokens(program: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(program):
        if program[pos:].strip(" \t") == "":  # (a newline is a rule separator)
            break
        match = TOKEN.match(program, pos)
        if match is None:
            raise _Unsupported(f"`{program[pos:].strip()[:20]}`")
        kind = match.lastgroup
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, program: str):
        self.tokens = _tokens(program)
        self.pos = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.pos += 1
        return token

    def skip_separators(self) -> None:
        while self.peek()[1] in (";", "\n"):
            self.take()

    def rules(self) -> list[tuple[object, list]]:
        rules = []
        self.skip_separators()
        while self.peek()[0] != "end":
            pattern = None if self.peek()[1] == "{" else self.pattern()
            action = self.action() if self.peek()[1] == "{" else [("print", [])]
            rules.append((pattern, action))
            if self.peek()[0] != "end" and self.peek()[1] not in (";", "\n"):
                raise _Unsupported(f"`{self.peek()[1]}` after a rule")
            self.skip_separators()
        return rules

    def operand(self):
        kind, text = self.take()
        if kind == "field":
            return ("field", text[1:])
        if kind == "name" and text in ("NF", "NR"):
            return ("var", text)
        if kind == "str":
            return ("str", _unescape(text[1:-1]))
        if kind == "num":
            return ("num", text)
        raise _Unsupported(f"`{text}`" if text else "an incomplete program")

    def pattern(self):
        kind, text = self.peek()
        if kind == "re":
            self.take()
            return ("match", ("field", "0"), _regex(text[1:-1]), True)
        if text == "!" and self.tokens[self.pos + 1:self.pos + 2] and \
                self.tokens[self.pos + 1][0] == "re":
            self.take()
            return ("match", ("field", "0"), _regex(self.take()[1][1:-1]), False)
        left = self.operand()
        op = self.take()[1]
        if op in ("~", "!~"):
            kind, text = self.take()
            if kind != "re":
                raise _Unsupported("a dynamic regular expression")
            return ("match", left, _regex(text[1:-1]), op == "~")
        if op not in ("==", "!=", "<", "<=", ">", ">="):
            raise _Unsupported(f"`{op}` in a pattern" if op else "a pattern alone")
        return ("compare", left, op, self.operand())

    def action(self) -> list:
        self.take()  # {
        statements = []
        while True:
            self.skip_separators()
            kind, text = self.peek()
            if text == "}":
                self.take()
                return statements
            if kind != "name" or text != "print":
                raise _Unsupported(f"`{text}`" if text else "an unclosed {")
            self.take()
            items = []
            while self.peek()[1] not in (";", "\n", "}") and self.peek()[0] != "end":
                items.append(self.operand())
                if self.peek()[1] == ",":
                    self.take()
                elif self.peek()[1] not in (";", "\n", "}"):
                    raise _Unsupported(f"`{self.peek()[1]}` in print")
            statements.append(("print", items))


def _unescape(text: str) -> str:
    escapes = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "/": "/"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), "\\" + m.group(1)), text)


def _regex(text: str):
    try:
        return re.compile(text)
    except re.error as err:
        raise _Unsupported(f"the regular expression /{text}/: {err}") from None


class _Record:
    def __init__(self, line: str, number: int, separator: str):
        self.line, self.number = line, number
        if separator == " ":
            self.fields = line.split()
        elif len(separator) == 1 and separator != "\\":
            self.fields = line.split(separator) if line else []
        else:
            self.fields = re.split(separator, line) if line else []

    def value(self, operand) -> tuple[str, bool]:
        """(text, looks like a number: a strnum or a numeric constant)."""
        kind, text = operand
        if kind == "str":
            return text, False
        if kind == "num":
            return text, True
        if kind == "var":
            return str(len(self.fields) if text == "NF" else self.number), True
        index = len(self.fields) if text == "NF" else int(text)
        value = self.line if index == 0 else (
            self.fields[index - 1] if index <= len(self.fields) else "")
        return value, bool(NUMBER.fullmatch(value))


def _compare(left: tuple[str, bool], op: str, right: tuple[str, bool]) -> bool:
    if left[1] and right[1]:
        a, b = float(left[0]), float(right[0])
    else:
        a, b = left[0].encode(), right[0].encode()  # mawk compares bytes (collation off)
    return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b,
            ">=": a >= b}[op]


def _matches(pattern, record: _Record) -> bool:
    if pattern is None:
        return True
    if pattern[0] == "match":
        _, operand, regex, want = pattern
        return bool(regex.search(record.value(operand)[0])) == want
    _, left, op, right = pattern
    return _compare(record.value(left), op, record.value(right))


def awk(ctx: Ctx, argv: list[str]) -> int:
    args, separator = argv[1:], " "
    while args and args[0].startswith("-") and args[0] != "-":
        opt = args.pop(0)
        if opt == "--":
            break
        if opt.startswith("-F"):
            value = opt[2:]
            if not value:
                if not args:
                    ctx.err(f"{argv[0]}: option -F lacks argument\n")
                    return 2
                value = args.pop(0)
            separator = "\t" if value == "\\t" else value
        elif opt[:2] in ("-v", "-f", "-W"):
            ctx.err(UNSUPPORTED.format(why=f"option {opt[:2]}"))
            return 2
        else:
            ctx.err(f"{argv[0]}: not an option: {opt}\n")
            return 2
    if not args:
        ctx.err(USAGE)
        return 0
    program, files = args[0], args[1:] or ["-"]
    try:
        rules = _Parser(program).rules()
    except _Unsupported as err:
        ctx.err(UNSUPPORTED.format(why=err))
        return 2
    number = 0
    for name in files:
        if name == "-":
            text = ctx.stdin
        else:
            try:
                text = ctx.fs.read_bytes(ctx.path(name)).decode("utf-8", "surrogateescape")
            except FsError as err:
                ctx.err(f"{argv[0]}: cannot open {name} ({err.strerror})\n")
                return 2
        for line in text.splitlines():
            number += 1
            record = _Record(line, number, separator)
            for pattern, action in rules:
                if _matches(pattern, record):
                    for _, items in action:
                        shown = [record.value(item)[0] for item in items] or [line]
                        ctx.out(" ".join(shown) + "\n")
    return 0


USAGE = """\
Usage: mawk [Options] [Program] [file ...]

Program:
    The -f option value is the name of a file containing program text.
    If no -f option is given, a "--" ends option processing; the following
    parameters are the program text.

Options:
    -f program-file  Program  text is read from file instead of from the
                     command-line.  Multiple -f options are accepted.
    -F value         sets the field separator, FS, to value.
    -v var=value     assigns value to program variable var.
    --               unambiguous end of options.

    Implementation-specific options are prefixed with "-W".  They can be
    abbreviated:

    -W version       show version information and exit.
    -W dump          show assembler-like listing of program and exit.
    -W help          show this message and exit.
    -W interactive   set unbuffered output, line-buffered input.
    -W exec file     use file as program as well as last option.
    -W random=number set initial random seed.
    -W sprintf=number adjust size of sprintf buffer.
    -W posix_space   do not consider "\\n" a space.
    -W usage         show this message and exit.
"""
