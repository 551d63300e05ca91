"""Which variables a shell script takes from its environment: a small bash reader, enough to tell a script's
own variables from the ones it expects to find set.

A name is an environment read where the script expands it (`$X`, `${X}`, `$((X+1))`) and nothing the script
does before could have set it: an assignment (`X=1`, `export X=`, `local`/`declare`/`typeset`/`readonly X=`,
`read X`, `mapfile X`, `getopts .. X`, `printf -v X`, `for X in`, `${X:=d}`, `((i=0))`), in any branch of an
`if` (a variable set in one branch is the script's own), or a file of the code folder it sources. Three
exceptions to "before": a read inside a loop whose body assigns the name later (the next round reads the
script's value), a read inside a function (a function runs when called, usually after the top-level
assignments), and `X=1 cmd` (sets X for that command only: a later `$X` still reads the environment).

A read is optional — listed, never required — when the script has a fallback: `${X:-d}`, `${X-d}`,
`${X:+alt}`, `${X:=d}`, a presence or equality test (`[ -n "$X" ]`, `[[ $X ]]`, `[[ -v X ]]`, `[ "$X" = 1 ]`,
and the reads that test guards: `[ -n "$X" ] && use "$X"`, the `then` of `if [ -v X ]`), `[ -z "$X" ]` followed
by an assignment of X (the default idiom; a `-z` guard that never assigns X is the script demanding it), and any
read after `source` of a file exprun cannot read (outside the folder: it may set the name) or after a command
that changes the environment unseen (`module load|add|restore`, `ml cuda`, `spack load`, `spack env activate`,
`conda activate`, `source activate`, `eval "$(...)"`): each may set names, the reason says which. Single quotes,
`$'..'`, `\\$X`, comments and quoted heredocs (`<<'EOF'`) expand nothing. Special parameters (`$1`, `$@`,
`$#`, `$?`, `$$`, `$!`, `$0`, `$_`) are never names.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ASSIGN_WORD = re.compile(r"([A-Za-z_]\w*)(\[[^\]]*\])?\+?=")
LET_ASSIGN = re.compile(r"([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*(?:[-+*/%&|^]|<<|>>)?=(?!=)|([A-Za-z_]\w*)\s*(?:\+\+|--)")
SPECIAL = set("@*#?-$!0123456789")
DEFAULT_OPS = (":-", "-", ":=", "=", ":+", "+")
TEST_COMMANDS = ("[", "[[", "test")
EQUALITY = ("=", "==", "!=", "=~")
# `source` of one of these sets up an environment (PATH, CONDA_*, VIRTUAL_ENV), not the experiment's variables.
ACTIVATION = re.compile(r"(^|/)(activate|conda\.sh|mamba\.sh|env_vars\.sh)$|/etc/profile\.d/|/modules/init/")
# ... except conda's `activate`: `source activate ENV`, `source ~/miniconda3/bin/activate [ENV]` runs the
# environment's activate.d scripts, which may set anything (CUDA_HOME, ...). A venv's bin/activate takes no
# name and sets only VIRTUAL_ENV and PATH.
CONDA_PATH = re.compile(r"conda|mamba|miniforge")
# Subcommands that change the environment in ways exprun cannot see (a module file, a spack or conda
# environment): after one, a read nothing else sets may be theirs, like a read after an unreadable `source`.
ENVIRONMENT_COMMANDS = {
    "module": {"load", "add", "restore", "swap", "switch"},
    "spack": {"load", "env activate"},
    "conda": {"activate"},
    "mamba": {"activate"},
    "micromamba": {"activate"},
}
ML_LOOKS = {"list", "avail", "av", "spider", "show", "help", "whatis", "keyword", "savelist", "describe", "unload"}
# What bash sets itself, whatever the environment.
BASH_OWN = frozenset(
    "BASH BASHOPTS BASHPID BASH_ALIASES BASH_ARGC BASH_ARGV BASH_COMMAND BASH_LINENO BASH_SOURCE BASH_SUBSHELL "
    "BASH_VERSINFO BASH_VERSION DIRSTACK EPOCHREALTIME EPOCHSECONDS EUID FUNCNAME GROUPS HOSTNAME HOSTTYPE IFS "
    "LINENO MACHTYPE MAPFILE OLDPWD OPTARG OPTERR OPTIND OSTYPE PIPESTATUS PPID PWD RANDOM REPLY SECONDS "
    "SHELLOPTS SHLVL SRANDOM UID".split()
)
WHY_DEFAULT = "the code has a default"
WHY_TESTED = "the script tests whether it is set"


class ShellRead(NamedTuple):
    name: str
    line: int
    required: bool
    why: str = ""  # why an optional read is optional


@dataclass
class _Read:
    name: str
    pos: int
    line: int
    kind: str  # "required", "optional" (a default), "z" (`[ -z "$X" ]`), "tested" (presence/equality test)
    loops: tuple[int, ...]
    in_function: bool
    guarded: bool


@dataclass
class _Word:
    text: str = ""  # the literal text, quotes removed; an expansion is "\0"
    quoted: bool = False
    reads: list[int] = field(default_factory=list)  # indexes into the scanner's reads
    single: str = ""  # the name when the word is exactly one `$X` / `${X}`
    assign: str = ""  # NAME of a `NAME=...` word
    fd: bool = False  # the `2` of `2>&1`
    line: int = 0
    substitutes: bool = False  # holds a command substitution (`$(...)`, backquotes)
    start: int = 0  # where it lies in the text being read
    end: int = 0


@dataclass
class _Command:
    words: list[_Word] = field(default_factory=list)
    assigns: list[tuple[str, int]] = field(default_factory=list)  # (name, index into the scanner's assigns)
    keyword: str = ""  # for, select, case, function


@dataclass
class _Frame:
    kind: str  # loop, brace, function, if
    start: int
    end: int = 1 << 60
    guard: set[str] = field(default_factory=set)  # names known set inside (the `then` of `if [ -n "$X" ]`)
    in_condition: bool = True  # an `if` between `if`/`elif` and `then`
    positive: set[str] = field(default_factory=set)  # what the condition tests as set
    negative: set[str] = field(default_factory=set)  # ... as unset (`-z`)


def reads(text: str, sourced: Callable[[str], str | None] | None = None) -> list[ShellRead]:
    """(name, line, required, why) of each environment read of one script, in order. `sourced(path)` gives the
    text of a file the script sources when it lies in the code folder (None: outside, unknown)."""
    scanner = _Scanner(text, sourced)
    scanner.parse(None)
    return scanner.resolve()


def assigned_names(text: str) -> set[str]:
    """Every name a script assigns anywhere (what sourcing it sets)."""
    scanner = _Scanner(text, None)
    scanner.parse(None)
    return {name for name, _ in scanner.assigns}


class _Scanner:
    def __init__(self, text: str, sourced: Callable[[str], str | None] | None) -> None:
        self.sourced = sourced
        self.reads_: list[_Read] = []
        self.assigns: list[tuple[str, int]] = []  # (name, pos); pos -1: removed (a command-prefix assignment)
        self.barriers: list[tuple[int, str]] = []  # (pos, "~/x.sh (sourced at line N)")
        self.frames: list[_Frame] = []
        self.loops_done: dict[int, _Frame] = {}
        self.cases: list[str] = []  # "pattern" or "body" per open `case`
        self.heredocs: list[tuple[str, bool, bool]] = []  # (delimiter, expands, strips tabs)
        self.pending_function = False
        self.carry_guard: set[str] = set()  # names a `[ -n "$X" ] &&` before this command tested as set
        self.counter = 0
        self.substitutions = 0  # command substitutions seen so far
        self._load(text, 1)

    # ---- text ---------------------------------------------------------------------------------------------
    def _load(self, text: str, line0: int) -> None:
        self.text, self.i, self.line0 = text, 0, line0
        self.newlines = [k for k, c in enumerate(text) if c == "\n"]

    def _sub(self, text: str, line: int, run: Callable[[], object]) -> None:
        saved = (self.text, self.i, self.line0, self.newlines)
        self._load(text, line)
        run()
        self.text, self.i, self.line0, self.newlines = saved

    def line(self) -> int:
        return self.line0 + bisect.bisect_left(self.newlines, self.i)

    def peek(self, n: int = 1) -> str:
        return self.text[self.i : self.i + n]

    def pos(self) -> int:
        """A new place in the script's order (reads, assignments, sources and loop ends are ordered by it)."""
        self.counter += 1
        return self.counter

    # ---- events -------------------------------------------------------------------------------------------
    def read(self, name: str, kind: str = "required", line: int = 0) -> int:
        loops = tuple(id(f) for f in self.frames if f.kind == "loop")
        in_function = any(f.kind == "function" for f in self.frames)
        guarded = name in self.carry_guard or any(name in f.guard for f in self.frames)
        self.reads_.append(_Read(name, self.pos(), line or self.line(), kind, loops, in_function, guarded))
        return len(self.reads_) - 1

    def assign(self, name: str) -> int:
        self.assigns.append((name, self.pos()))
        return len(self.assigns) - 1

    def push(self, kind: str) -> _Frame:
        frame = _Frame(kind, self.pos())
        self.frames.append(frame)
        return frame

    def pop(self, *kinds: str) -> None:
        for k in range(len(self.frames) - 1, -1, -1):
            if self.frames[k].kind in kinds:
                frame = self.frames.pop(k)
                frame.end = self.pos()
                if frame.kind == "loop":
                    self.loops_done[id(frame)] = frame
                return

    # ---- commands -----------------------------------------------------------------------------------------
    def parse(self, stop: str | None) -> None:
        """Commands until `stop` (")" of `$(...)` / a subshell) or the end of the text."""
        cmd = _Command()
        while True:
            self._blanks()
            if self.i >= len(self.text):
                self._end(cmd, "")
                return
            c = self.peek()
            if c == "#":
                while self.i < len(self.text) and self.text[self.i] != "\n":
                    self.i += 1
                continue
            if c == "\n":
                self.i += 1
                self._end(cmd, "\n")
                cmd = _Command()
                self._heredoc_bodies()
                continue
            if self.cases and self.cases[-1] == "pattern" and not cmd.words and not cmd.keyword:
                if self._pattern():
                    continue
            in_test = bool(cmd.words) and cmd.words[0].text == "[[" and not cmd.words[-1].text == "]]"
            if in_test and c in "&|<>()!":
                op = self.peek(2) if self.peek(2) in ("&&", "||") else c
                self.i += len(op)
                cmd.words.append(_Word(op))
                continue
            if c == ")" and stop == ")":
                self.i += 1
                self._end(cmd, ")")
                return
            if self.peek(2) in ("<(", ">("):
                self.i += 2
                self.parse(")")
                continue
            if c in ";&|" and self.peek(2) not in ("&>",):
                op = next(
                    o for o in (";;&", ";;", ";&", "&&", "||", "|&", ";", "&", "|") if self.text.startswith(o, self.i)
                )
                self.i += len(op)
                self._end(cmd, op)
                if op in (";;", ";&", ";;&") and self.cases:
                    self.cases[-1] = "pattern"
                cmd = _Command()
                continue
            if c in "<>&":
                self._redirect()
                continue
            if c == "(":
                cmd = self._paren(cmd)
                continue
            if c == ")":
                self.i += 1
                continue
            word = self._word()
            if word.fd:
                continue
            cmd = self._add(cmd, word)

    def _add(self, cmd: _Command, word: _Word) -> _Command:
        """One word of a command: an assignment or keyword at the command's start, else an argument."""
        if cmd.words or cmd.keyword:
            if cmd.keyword == "case" and len(cmd.words) == 1 and word.text == "in":
                self._end(cmd, "")
                self.cases.append("pattern")
                return _Command()
            cmd.words.append(word)
            return cmd
        if word.assign:
            cmd.assigns.append((word.assign, self.assign(word.assign)))
            return cmd
        keyword = "" if word.quoted else word.text
        if keyword in ("if", "elif"):
            if keyword == "if":
                self.push("if")
            else:
                self._if_branch("elif")
        elif keyword in ("then", "else"):
            self._if_branch(keyword)
        elif keyword == "fi":
            self.pop("if")
        elif keyword in ("while", "until"):
            self.push("loop")
        elif keyword in ("for", "select"):
            self.push("loop")
            cmd.keyword = "for"
        elif keyword == "done":
            self.pop("loop")
        elif keyword == "{":
            self.push("function" if self.pending_function else "brace")
            self.pending_function = False
        elif keyword == "}":
            self.pop("brace", "function")
        elif keyword == "esac":
            if self.cases:
                self.cases.pop()
        elif keyword in ("case", "function"):
            cmd.keyword = keyword
        elif keyword in ("do", "!", "time"):
            pass
        else:
            cmd.words.append(word)
        return cmd

    def _if_branch(self, keyword: str) -> None:
        frame = next((f for f in reversed(self.frames) if f.kind == "if"), None)
        if frame is None:
            return
        frame.in_condition = keyword == "elif"
        if keyword == "then":
            frame.guard = set(frame.positive)
        elif keyword == "else":
            frame.guard = set(frame.negative)
        else:  # elif: the earlier conditions were false; a new one is read
            frame.guard, frame.positive, frame.negative = set(frame.negative), set(), set()

    def _paren(self, cmd: _Command) -> _Command:
        if not cmd.words and not cmd.assigns and not cmd.keyword:
            if self.peek(2) == "((":
                self._arith_until_close(2)
                return cmd
            self.i += 1
            frame = self.push("function" if self.pending_function else "brace")
            self.pending_function = False
            self.parse(")")
            self.pop(frame.kind)
            return cmd
        if cmd.keyword == "for" and self.peek(2) == "((":
            self._arith_until_close(2)
            return cmd
        if len(cmd.words) == 1 and re.match(r"\(\s*\)", self.text[self.i :]) or cmd.keyword == "function":
            self.i = self.text.index(")", self.i) + 1
            self.pending_function = True
            return _Command()
        self.i += 1
        return cmd

    def _pattern(self) -> bool:
        """A `case` pattern list (`a|b)`): its words are no command. True when something was consumed."""
        c = self.peek()
        if c in "(|":
            self.i += 1
            return True
        if c == ")":
            self.i += 1
            self.cases[-1] = "body"
            return True
        if self.text.startswith("esac", self.i) and not NAME.match(self.text[self.i + 4 : self.i + 5] or " "):
            self.i += 4
            self.cases.pop()
            return True
        at = self.i
        self._word()
        self.i += self.i == at
        return True

    def _redirect(self) -> None:
        op = next(
            o
            for o in ("&>>", "<<<", "<<-", "<<", ">>", "<&", ">&", "<>", ">|", "&>", "<", ">")
            if self.text.startswith(o, self.i)
        )
        self.i += len(op)
        self._blanks()
        if op in ("<<", "<<-"):
            word = self._word()
            delimiter = word.text
            self.heredocs.append((delimiter, not word.quoted, op == "<<-"))
            return
        if self.peek(2) in ("<(", ">("):
            return
        if self.i < len(self.text) and self.peek() not in "\n;|&()":
            self._word()

    def _heredoc_bodies(self) -> None:
        for delimiter, expands, strips in self.heredocs:
            start, line = self.i, self.line()
            while self.i < len(self.text):
                end = self.text.find("\n", self.i)
                end = len(self.text) if end < 0 else end
                row = self.text[self.i : end]
                self.i = end + 1
                if (row.lstrip("\t") if strips else row) == delimiter:
                    body = self.text[start : self.i - len(row) - 1]
                    break
            else:
                body = self.text[start:]
            if expands:
                self._sub(body, line, lambda: self._quoted_chars(""))
        self.heredocs = []

    def _end(self, cmd: _Command, op: str) -> None:
        """A simple command is complete: what its name does with its words, its tests, prefix assignments."""
        words = cmd.words
        name = words[0].text if words and not words[0].quoted else ""
        tested: tuple[set[str], set[str]] = (set(), set())
        if cmd.keyword == "for" and words and NAME.fullmatch(words[0].text):
            self.assign(words[0].text)
        elif cmd.keyword == "function" and words:
            self.pending_function = True
        elif words and cmd.assigns:  # `X=1 cmd`: X for that command only
            for assigned, index in cmd.assigns:
                self.assigns[index] = (assigned, -1)
        if name in ("export", "readonly", "local", "declare", "typeset"):
            for word in words[1:]:
                if word.assign:
                    self.assign(word.assign)
                elif name not in ("export", "readonly") and NAME.fullmatch(word.text):
                    self.assign(word.text)
        elif name in ("read", "mapfile", "readarray", "getopts", "printf", "let"):
            for target in _targets(name, [w.text for w in words[1:]]):
                self.assign(target)
        elif name in ("source", ".") and len(words) > 1:
            self._source(words)
        elif _changes_environment(name, words[1:]):
            self._barrier(words)
        elif name in TEST_COMMANDS:
            tested = self._test(words)
        frame = next((f for f in reversed(self.frames) if f.kind == "if"), None)
        if frame is not None and frame.in_condition:
            frame.positive |= tested[0]
            frame.negative |= tested[1]
        if op == "&&":
            self.carry_guard |= tested[0]
        elif op == "||":
            self.carry_guard |= tested[1]
        elif op not in ("|", "|&"):
            self.carry_guard = set()

    def _test(self, words: list[_Word]) -> tuple[set[str], set[str]]:
        """`[ -n "$X" ]`, `[[ $X ]]`, `[ "$X" = 1 ]`, `[[ -v X ]]`: optional reads; the names it shows set (and
        unset, `-z`, `! -v`)."""
        positive: set[str] = set()
        negative: set[str] = set()
        texts = [w.text if not w.quoted else "\0q" for w in words]
        for k, word in enumerate(words):
            named = NAME.match(word.text)
            if (
                k > 0
                and texts[k - 1] == "-v"
                and not word.reads
                and named
                and re.fullmatch(r"(\[.*\])?", word.text[named.end() :])
            ):
                # `-v X` tests X by name: a read of the environment, a switch like `-n "$X"`
                self.read(named.group(0), "tested", word.line)
                (negative if k > 1 and texts[k - 2] == "!" else positive).add(named.group(0))
                continue
            if not word.single or len(word.reads) != 1:
                continue
            before = texts[k - 1] if k > 0 else ""
            after = texts[k + 1] if k + 1 < len(texts) else ""
            read = self.reads_[word.reads[0]]
            if before == "-z":
                read.kind = "z"
                negative.add(word.single)
            elif (
                before in ("-n", *EQUALITY)
                or after in EQUALITY
                or (
                    before in ("[", "[[", "test", "!", "&&", "||", "-a", "-o", "(")
                    and after in ("]", "]]", "-a", "-o", "&&", "||", ")", "")
                )
            ):
                read.kind = "tested" if read.kind == "required" else read.kind
                positive.add(word.single)
        return positive, negative

    def _source(self, words: list[_Word]) -> None:
        word = words[1]
        path = word.text.replace("\0", "")
        if ACTIVATION.search(path):
            if path.endswith("activate") and (path == "activate" or len(words) > 2 or CONDA_PATH.search(path)):
                self._barrier(words)
            return
        relative = path.lstrip("/") if word.text.startswith("\0") else path  # "$HERE/common.sh": the folder's
        local = self.sourced is not None and relative and not relative.startswith(("/", "~"))
        text = self.sourced(relative) if local and self.sourced is not None else None
        if text is not None:
            for name in assigned_names(text):
                self.assign(name)
            return
        shown = word.text.replace("\0", "$..")
        self.barriers.append((self.pos(), f"may be set by {shown}, sourced at line {word.line}"))

    def _barrier(self, words: list[_Word]) -> None:
        """A command that may set names exprun cannot see: later reads nothing else sets are optional."""
        shown = " ".join(re.sub(r"\\\n", " ", self.text[words[0].start : words[-1].end]).split())
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        self.barriers.append((self.pos(), f"may be set by {shown}, run at line {words[0].line}"))

    # ---- words --------------------------------------------------------------------------------------------
    def _blanks(self) -> None:
        while self.i < len(self.text):
            if self.text[self.i] in " \t\r":
                self.i += 1
            elif self.text.startswith("\\\n", self.i):
                self.i += 2
            else:
                return

    def _word(self) -> _Word:
        start, substitutions = self.i, self.substitutions
        word = self._word_parts()
        word.start, word.end, word.substitutes = start, self.i, self.substitutions > substitutions
        return word

    def _word_parts(self) -> _Word:
        word = _Word(line=self.line())
        match = ASSIGN_WORD.match(self.text, self.i)
        if match:
            word.assign = match.group(1)
            word.text = match.group(0)
            self.i = match.end()
            if self.peek() == "(":  # an array: arr=(a "$b")
                self.i += 1
                while True:
                    self._blanks()
                    c = self.peek()
                    if c in ("", ")"):
                        self.i += len(c)
                        return word
                    if c == "\n":
                        self.i += 1
                    elif c == "#":
                        while self.i < len(self.text) and self.text[self.i] != "\n":
                            self.i += 1
                    else:
                        at = self.i
                        word.reads += self._word().reads
                        self.i += self.i == at  # `;`, `|`, ... inside: not a word, not a stop
        parts = 0
        while self.i < len(self.text):
            c = self.peek()
            if c in " \t\r\n;&|<>()":
                break
            parts += 1
            if c == "\\":
                if self.peek(2) == "\\\n":
                    self.i += 2
                    continue
                word.text += self.text[self.i + 1 : self.i + 2]
                word.quoted = True
                self.i += 2
            elif c == "'":
                end = self.text.find("'", self.i + 1)
                end = len(self.text) if end < 0 else end
                word.text += self.text[self.i + 1 : end]
                word.quoted = True
                self.i = end + 1
            elif self.peek(2) == "$'":
                self.i += 2
                while self.i < len(self.text) and self.text[self.i] != "'":
                    self.i += 2 if self.text[self.i] == "\\" else 1
                self.i += 1
                word.quoted = True
            elif c == '"':
                self.i += 1
                word.quoted = True
                before = len(self.reads_)
                text, single = self._quoted_chars('"')
                word.text += text
                word.reads += range(before, len(self.reads_))
                word.single = single
            elif c in "$`":
                before = len(self.reads_)
                single = self._expansion()
                word.text += "\0"
                word.reads += range(before, len(self.reads_))
                word.single = single
            else:
                word.text += c
                self.i += 1
        if word.single and (parts != 1 or word.text.replace("\0", "") or word.assign):
            word.single = ""
        word.fd = word.text.isdigit() and not word.quoted and self.peek() in ("<", ">")
        return word

    def _quoted_chars(self, end: str) -> tuple[str, str]:
        """Inside double quotes (end '"') or a heredoc body (end ''): the text, and the name when the whole
        content is one `$X` / `${X}`."""
        text, single, count = "", "", 0
        while self.i < len(self.text):
            c = self.peek()
            if end and c == end:
                self.i += 1
                break
            count += 1
            if c == "\\":
                text += self.text[self.i + 1 : self.i + 2]
                self.i += 2
            elif c in "$`":
                found = self._expansion()
                single = found if count == 1 else ""
                text += "\0"
            else:
                text += c
                self.i += 1
        return text, single if count == 1 else ""

    def _expansion(self) -> str:
        """One `$...` or backquote at self.i: its reads recorded; the name when it is a plain `$X` / `${X}`."""
        if self.peek() == "`":
            end, k = self.i + 1, self.i + 1
            while k < len(self.text) and self.text[k] != "`":
                k += 2 if self.text[k] == "\\" else 1
            inner, line = self.text[end:k].replace("\\`", "`"), self.line()
            self.i = k + 1
            self.substitutions += 1
            self._sub(inner, line, lambda: self.parse(None))
            return ""
        if self.peek(3) == "$((":
            self._arith_until_close(3)
            return ""
        if self.peek(2) == "$(":
            self.i += 2
            self.substitutions += 1
            self.parse(")")
            return ""
        if self.peek(2) == "${":
            return self._braced()
        self.i += 1
        match = NAME.match(self.text, self.i)
        if match and match.group(0) != "_":
            self.i = match.end()
            self.read(match.group(0))
            return match.group(0)
        if self.peek() in SPECIAL or self.peek() == "_":
            self.i += 1
        return ""

    def _braced(self) -> str:
        """`${...}`: the name, its operator and the word after it (reads there count only in that branch)."""
        start = self.i
        self.i += 2
        prefix = ""
        if self.peek() in "#!" and (
            NAME.match(self.text, self.i + 1) or self.text[self.i + 1 : self.i + 2] in "@*#?$!0123456789"
        ):
            if self.peek(2) not in ("#}", "!}"):
                prefix = self.peek()
                self.i += 1
        match = NAME.match(self.text, self.i)
        name = match.group(0) if match else ""
        if match:
            self.i = match.end()
        elif self.peek() in SPECIAL:
            self.i += 1
            while self.peek().isdigit():
                self.i += 1
        if self.peek() == "[":
            end = self._matching(self.i, "[", "]")
            # an index (`${a[i]}`) or an associative key (`${m[a]}`): only its `$` expansions are sure reads
            self._sub(self.text[self.i + 1 : end], self.line(), lambda: self._quoted_chars(""))
            self.i = end + 1
        op = next((o for o in (":-", ":=", ":?", ":+", "-", "=", "?", "+") if self.text.startswith(o, self.i)), "")
        if prefix == "!" and self.peek() in "*@":  # ${!prefix*}: names, no read
            name = ""
        index = -1
        if name and name != "_":
            kind = "optional" if op in DEFAULT_OPS else "required"
            index = self.read(name, kind)
        # the rest, to the closing brace: quotes and expansions nest; what it reads matters only in one branch
        before = len(self.reads_)
        depth = 0
        while self.i < len(self.text):
            c = self.peek()
            if c == "}" and depth == 0:
                self.i += 1
                break
            if c == "\\":
                self.i += 2
            elif c == "'" and op:
                end = self.text.find("'", self.i + 1)
                self.i = (len(self.text) if end < 0 else end) + 1
            elif c == '"':
                self.i += 1
                self._quoted_chars('"')
            elif c in "$`":
                self._expansion()
            else:
                depth += {"{": 1, "}": -1}.get(c, 0)
                self.i += 1
        if op in DEFAULT_OPS:
            for read in self.reads_[before:]:
                read.kind = "optional" if read.kind == "required" else read.kind
        if op in (":=", "=") and name:
            self.assign(name)
        # `${X}`, and `${X:-}` (the `set -u`-safe spelling of `$X`): what a test may test
        plain = self.text[start : self.i] in ("${" + name + "}", "${" + name + ":-}", "${" + name + "-}")
        return name if index >= 0 and plain else ""

    def _matching(self, start: int, open_: str, close: str) -> int:
        depth, k = 0, start
        while k < len(self.text):
            if self.text[k] == open_:
                depth += 1
            elif self.text[k] == close:
                depth -= 1
                if depth == 0:
                    return k
            k += 1
        return len(self.text)

    def _arith_until_close(self, skip: int) -> None:
        """`$(( ... ))`, `(( ... ))`, `for (( ... ))`: the expression up to its closing parentheses."""
        start = self.i + skip
        depth, k = 2 if skip >= 2 else 1, start
        while k < len(self.text) and depth > 0:
            depth += {"(": 1, ")": -1}.get(self.text[k], 0)
            k += 1
        line = self.line()
        self.i = k
        self._sub(self.text[start : max(start, k - 2)], line, self._arith)

    def _arith(self) -> None:
        """An arithmetic expression: `$` expansions, and bare names (read, or assigned by `=`, `+=`, `++`)."""
        while self.i < len(self.text):
            c = self.peek()
            if c in "$`":
                self._expansion()
            elif c.isdigit():
                while self.i < len(self.text) and (self.text[self.i].isalnum() or self.text[self.i] in "_#@"):
                    self.i += 1
            elif NAME.match(c):
                match = NAME.match(self.text, self.i)
                assert match is not None
                self.i = match.end()
                rest = self.text[self.i :].lstrip(" \t")
                before = self.text[: match.start()].rstrip(" \t")
                if re.match(r"(\[[^\]]*\]\s*)?((?:[-+*/%&|^]|<<|>>)?=(?!=)|\+\+|--)", rest) or before.endswith(
                    ("++", "--")
                ):
                    self.assign(match.group(0))
                else:
                    self.read(match.group(0))
            else:
                self.i += 1

    # ---- the verdict --------------------------------------------------------------------------------------
    def resolve(self) -> list[ShellRead]:
        assigned: dict[str, list[int]] = {}
        for name, pos in self.assigns:
            if pos >= 0:
                assigned.setdefault(name, []).append(pos)
        out = []
        for read in self.reads_:
            if read.name in BASH_OWN:
                continue
            where = assigned.get(read.name, [])
            if where and (
                read.in_function
                or where[0] < read.pos
                or any(self._inside(pos, loop) for loop in read.loops for pos in where)
            ):
                continue
            later = any(pos > read.pos for pos in where)
            required = read.kind == "required" or (read.kind == "z" and not later)
            why = WHY_DEFAULT if read.kind in ("optional", "z") else WHY_TESTED
            if required and read.guarded:
                required, why = False, WHY_TESTED
            barrier = next((text for pos, text in self.barriers if pos < read.pos), "")
            if required and barrier:
                required, why = False, barrier
            out.append(ShellRead(read.name, read.line, required, "" if required else why))
        return out

    def _inside(self, pos: int, loop: int) -> bool:
        frame = self.loops_done.get(loop) or next((f for f in self.frames if id(f) == loop), None)
        return frame is not None and frame.start <= pos <= frame.end


def _changes_environment(command: str, args: list[_Word]) -> bool:
    """`module load`, `ml cuda`, `spack load`, `spack env activate`, `conda activate`, `eval "$(...)"`: a
    command that may set names exprun cannot see (options before the subcommand skipped)."""
    if command == "eval":
        return any(word.substitutes for word in args)
    plain = [word.text for word in args if not word.text.startswith("-")]
    if command == "ml":  # Lmod's short form: `ml cuda` loads, `ml list` looks
        return bool(plain) and plain[0] not in ML_LOOKS
    subcommands = ENVIRONMENT_COMMANDS.get(command, set())
    return bool(plain) and (plain[0] in subcommands or " ".join(plain[:2]) in subcommands)


def _targets(command: str, args: list[str]) -> list[str]:
    """The names `read`, `mapfile`, `getopts`, `printf -v` and `let` assign."""
    if command == "let":
        return [m.group(1) or m.group(2) for arg in args for m in LET_ASSIGN.finditer(arg)]
    if command == "getopts":
        return args[1:2] if len(args) > 1 and NAME.fullmatch(args[1]) else []
    if command == "printf":
        return [args[k + 1] for k, a in enumerate(args[:-1]) if a == "-v" and NAME.fullmatch(args[k + 1])]
    with_value = {"read": "adinNptu", "mapfile": "dnOsuCc", "readarray": "dnOsuCc"}[command]
    names, k = [], 0
    while k < len(args):
        arg = args[k]
        if arg.startswith("-") and len(arg) > 1:
            if arg[-1] in with_value:
                if arg[-1] == "a" and k + 1 < len(args):
                    names.append(args[k + 1])
                k += 1
        elif NAME.fullmatch(arg):
            names.append(arg)
        k += 1
    return names[-1:] if command != "read" else names
