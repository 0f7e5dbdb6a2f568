"""Python tracebacks and Java stack traces, read as blocks: header, frames, chained causes and the exception
lines that close (Python) or head (Java) them. A block's memory is bounded by its head, tail and exception
limits, however long the trace."""

import re
from collections import deque
from dataclasses import dataclass, field

from ddpui.core.summaries.condense.lines import Line, body_of

MAX_BLOCK_HEAD = 160  # traceback lines kept from the start of a block ...
MAX_BLOCK_TAIL = 80  # ... and from its end
MAX_BLOCK_EXCEPTIONS = 24

PY_HEADER = "Traceback (most recent call last)"
PY_FRAME = re.compile(r"^\s*File \"[^\"]*\", line \d+")
_PY_CHAIN = re.compile(r"^(?:The above exception was the direct cause|During handling of the above exception)")
_PY_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(?::.*)?$|^[A-Za-z_][\w.]*\(.*$")
JAVA_HEAD = re.compile(
    r"^(?:Exception in thread \"[^\"]*\"\s+)?(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Throwable)\b"
    r"|^Exception in thread "
)
JAVA_FRAME = re.compile(r"^\s+at [\w$.<>/\-]+\(.*\)\s*$|^\s+\.\.\. \d+ (?:more|common frames omitted)")
_JAVA_CAUSE = re.compile(r"^\s*(?:Caused by|Suppressed):")


@dataclass
class Block:
    """A traceback or stack trace being read; memory bounded by head/tail/exception limits."""

    language: str  # "python" or "java"
    start: int
    head: list[Line] = field(default_factory=list)
    tail: deque = field(default_factory=lambda: deque(maxlen=MAX_BLOCK_TAIL))
    exceptions: list[Line] = field(default_factory=list)
    frames_since_exception: int = 0
    after_exception: int = -1  # lines read since the last exception line; -1 before the first
    context_before: list[Line] = field(default_factory=list)

    def add(self, line: Line) -> None:
        """Store a line of the block (head first, then a rolling tail)."""
        if len(self.head) < MAX_BLOCK_HEAD:
            self.head.append(line)
        else:
            self.tail.append(line)

    def lines(self) -> list[Line]:
        """The stored lines of the block in log order."""
        return [*self.head, *self.tail]

    @classmethod
    def opened_at(cls, line: Line, body: str, context_before: list[Line]) -> "Block":
        """A block that starts at ``line`` (whose body opens a trace, see :func:`starts_block`)."""
        language = "python" if (PY_HEADER in body or PY_FRAME.match(body)) else "java"
        block = cls(language=language, start=line.number, context_before=context_before)
        block.add(line)
        if language == "python":
            block.frames_since_exception = 1 if PY_FRAME.match(body) else 0
        elif JAVA_HEAD.match(body):
            block.note_exception(line)
        return block

    def note_exception(self, line: Line) -> None:
        """Record an exception line of the block and the frames that explain it."""
        if len(self.exceptions) < MAX_BLOCK_EXCEPTIONS:
            self.exceptions.append(line)
        self.after_exception = 0
        self.frames_since_exception = 0

    def continues_with(self, line: Line) -> bool:
        """Add ``line`` to the block if it belongs to it; False ends the block (line not consumed)."""
        body = body_of(line.text)
        stripped = body.strip()
        if self.language == "java":
            if JAVA_FRAME.match(body):
                self.add(line)
                return True
            if _JAVA_CAUSE.match(body):
                self.add(line)
                self.note_exception(line)
                return True
            return False
        if PY_FRAME.match(body):
            self.add(line)
            self.frames_since_exception += 1
            self.after_exception = -1 if self.after_exception >= 0 else self.after_exception
            return True
        if PY_HEADER in body or _PY_CHAIN.match(stripped):
            self.add(line)
            return True
        if not stripped:
            if self.after_exception > 2:
                return False
            self.add(line)
            if self.after_exception >= 0:
                self.after_exception += 1
            return True
        if body[:1] in (" ", "\t") and self.after_exception < 0:
            self.add(line)  # source line under a frame
            return True
        if self.frames_since_exception > 0 and self.after_exception < 0 and _PY_EXCEPTION.match(stripped):
            self.add(line)
            self.note_exception(line)
            return True
        if 0 <= self.after_exception < 3 and body[:1] in (" ", "\t"):
            self.add(line)  # a multi-line exception message ("  LINE 8: ...")
            self.after_exception += 1
            return True
        return False


def starts_block(body: str) -> bool:
    """Whether a line (its body, see lines.body_of) opens a Python traceback or a Java stack trace."""
    return (
        PY_HEADER in body
        or PY_FRAME.match(body) is not None
        or JAVA_HEAD.match(body) is not None
        or JAVA_FRAME.match(body) is not None
    )
