"""What an error points at, kept even when it is not an error line itself:

- the code or SQL line a line reference names: `LINE 13:` (PostgreSQL), `line 15` (Jinja, YAML), `error line 11
  at position 22` (Snowflake), `[19:148]` (BigQuery), `line 17:6` (Trino). The reference's own record often
  shows the code (a numbered listing `12 | ...`, the indented line after `line 15`, a caret `^` under it);
  otherwise the line is taken from the last SQL statement the log printed (dbt's debug `On model.x: /* ... */`
  followed by the statement), whose line 1 is that `On ...:` line;
- the run's outcome lines (dbt's ``Command `dbt run` failed``, `Done. PASS=.. ERROR=..`, `Completed with n
  errors`, per-node `ERROR`/`SKIP` results, `Nothing to do`, a selection that matches no node), including
  those of several runs interleaved in one log;
- a caret line (`^` under a column of the line above), that line and the parser's message after it;
- placeholders left unexpanded (`${VAR}`, `{{ ... }}`, `{% ... %}`): a value used as written, never rendered.

Memory is bounded by the constants below, never by the log's length.
"""

import re
from dataclasses import dataclass

from ddpui.core.summaries.condense.lines import RECORD_START, Line
from ddpui.core.summaries.fingerprint import normalize_line, template_of

REF_WINDOW = 12  # lines after a reference where its listing line, code line or caret is looked for
MAX_REFS = 8
MAX_STATEMENT_LINES = 500  # of the last SQL statement printed
STATEMENT_REACH = 400  # a reference this many lines after the statement ended still names its lines
MAX_OUTCOMES = 12
MAX_NODE_RESULTS = 8
MAX_PLACEHOLDERS = 6
MAX_CARET_LINES = 12  # three-line groups: the code, the caret under it, the message after it

# Searched in the line's shape (lower-cased, digits deleted: "1 of 2 ERROR" is " of  error").
OUTCOME_CUE = re.compile(
    rb"done\. pass=|command `[^`]*` (?:failed|succeeded)|nothing to do|does not match any (?:enabled )?nodes"
    rb"|completed successfully|completed with\s+errors?|finished running|\bof\s+(?:error|fail|skip)\b"
)
# A node's result ("3 of 10 ERROR creating ...", "2 of 2 SKIP relation ..."), as opposed to the run's.
NODE_RESULT = re.compile(r"\b\d+ of \d+ (?:ERROR|FAIL|SKIP)\b", re.I)
PLACEHOLDER = re.compile(r"\$\{[A-Za-z_][\w.]*\}|\{\{[^{}\n]{1,200}\}\}|\{%[^%\n]{1,200}%\}")
LINE_REF = re.compile(r"\bline\s+(\d{1,6})\b|\[(\d{1,6}):\d{1,6}\]", re.I)
LISTING = re.compile(r"^\s*(\d{1,6})\s*(?:\||:(?!\d))")
CARET = re.compile(r"^\s*\^[\s^~]*$")
STATEMENT_START = re.compile(r"\bOn [\w.$-]+: ")


@dataclass
class Reference:
    """A line reference waiting for the lines that show the code it names."""

    key: dict  # the incident's lines that its key lines point at, where the named lines go
    number: int
    expires: int
    wants_code: bool  # the reference line shows no code itself: the next indented line is the code


class Pointers:
    """The streaming state of what errors point at (see the module docstring)."""

    def __init__(self) -> None:
        """Empty state."""
        self.refs: list[Reference] = []
        self.statement: list[Line] = []  # being read
        self.sql: list[Line] = []  # the last statement of more than one line (a "BEGIN" does not replace it)
        self.sql_end = 0
        self.outcomes: dict[str, Line] = {}  # the runs' outcome lines by normalized text, oldest first
        self.node_results: dict[str, Line] = {}  # failed or skipped nodes, oldest first
        self.placeholders: dict[str, Line] = {}  # by template, oldest first
        self.carets: dict[int, Line] = {}  # caret groups by line number, oldest first
        self.previous: Line | None = None
        self.after_caret = False

    def read(self, line: Line, outcome_cue: bool) -> None:
        """See one line: follow pending references, track the SQL statement, note outcomes and placeholders."""
        text = line.text
        if self.refs:
            self._follow(line)
        if "On " in text and STATEMENT_START.search(text):
            self._end_statement()
            self.statement = [line]
        elif self.statement:
            if RECORD_START.match(text) or len(self.statement) >= MAX_STATEMENT_LINES:
                self._end_statement()
            else:
                self.statement.append(line)
        if outcome_cue:
            if NODE_RESULT.search(text):
                _remember(self.node_results, normalize_line(text), line, MAX_NODE_RESULTS)
            else:
                _remember(self.outcomes, normalize_line(text), line, MAX_OUTCOMES)
        if ("{{" in text or "${" in text or "{%" in text) and PLACEHOLDER.search(text):
            _remember(self.placeholders, template_of(text), line, MAX_PLACEHOLDERS)
        if "^" in text and CARET.match(text):
            for pointed in (self.previous, line):
                if pointed is not None:
                    _remember(self.carets, pointed.number, pointed, MAX_CARET_LINES)
            self.after_caret = True
        elif self.after_caret and text.strip():
            _remember(self.carets, line.number, line, MAX_CARET_LINES)
            self.after_caret = False
        self.previous = line

    def note_key_line(self, key: dict, line: Line) -> None:
        """A line became a key line of an incident: if it references a line, put the code it names in ``key``
        (the incident's pointed-at lines)."""
        match = LINE_REF.search(line.text)
        if match is None:
            return
        number = int(match.group(1) or match.group(2))
        self._end_statement()
        if 1 <= number <= len(self.sql) and 0 < line.number - self.sql_end <= STATEMENT_REACH:
            named = self.sql[number - 1]
            key[named.number] = named
        if len(self.refs) >= MAX_REFS:
            self.refs.pop(0)
        rest = line.text[match.end():].strip(" :,")
        self.refs.append(Reference(key, number, line.number + REF_WINDOW,
                                   wants_code=not rest or bool(re.fullmatch(r"column \d+:?", rest))))

    def _end_statement(self) -> None:
        """The statement being read is complete: it becomes the one references name if it has SQL lines."""
        if len(self.statement) > 1:
            self.sql, self.sql_end = self.statement, self.statement[-1].number
        self.statement = []

    def _follow(self, line: Line) -> None:
        """Give the line to the references still waiting for their code."""
        waiting = []
        for ref in self.refs:
            if line.number > ref.expires:
                continue
            text = line.text
            listing = LISTING.match(text)
            if CARET.match(text) or (listing and int(listing.group(1)) == ref.number):
                ref.key[line.number] = line
            elif ref.wants_code and text.strip():
                if text[:1] in (" ", "\t"):
                    ref.key[line.number] = line
                ref.wants_code = False
            waiting.append(ref)
        self.refs = waiting


def _remember(lines: dict, key: str | int, line: Line, limit: int) -> None:
    """Keep ``line`` under ``key`` as the newest entry; the oldest goes when over ``limit``."""
    lines.pop(key, None)
    lines[key] = line
    if len(lines) > limit:
        del lines[next(iter(lines))]
