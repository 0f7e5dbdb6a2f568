"""A log line as given (LogLine) and as read (Line: numbered, redacted), and the small text helpers
every stage of condensing shares: level names, prefix-stripped bodies, middle cuts."""

import re
from dataclasses import dataclass

LEVEL_NAMES = {50: "CRITICAL", 40: "ERROR", 30: "WARNING", 20: "INFO", 10: "DEBUG", 5: "TRACE"}
ERROR_LEVELS = frozenset({"ERROR", "CRITICAL", "FATAL", "SEVERE", "ERR", "EMERGENCY", "ALERT"})
WARN_LEVELS = frozenset({"WARN", "WARNING"})

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]")

# Body of a line without an Airbyte/log4j-style prefix, indentation kept (frames are recognised by it).
_BODY_PREFIX = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"(?: (?:[A-Z]{3,8}|\[\w+\s*\]))?(?: \(\))?(?: [\w.$-]+(?:\([\w$]*\))?(?::\d+)? (?:>|-))? ?"
)
RECORD_START = re.compile(r"\s*(?:\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}:\d{2}|\[\d|\d{1,2}/\d{1,2}/\d{2,4})")


@dataclass(frozen=True)
class LogLine:
    """One line of a step's log, with the level and timestamp when the source gives them (Prefect gives
    numeric levels such as 40, which are mapped to names)."""

    text: str
    level: str | int | None = None
    timestamp: str | None = None


@dataclass(frozen=True)
class LogGap:
    """Lines of the log that were not read (the middle of a huge log): counted and numbered past, so the
    lines after them keep their place, and named in the excerpt; each unread log record counts as one line."""

    lines: int


@dataclass(slots=True)
class Line:
    """A line as read: original number, redacted text, and the level/timestamp given by the source."""

    number: int
    text: str
    level: str | None = None
    timestamp: str | None = None

    def rendered(self, max_chars: int) -> str:
        """The line's text with timestamp and level, as shown after "123 | "."""
        parts = [part for part in (self.timestamp, self.level) if part]
        return cut_middle(" ".join([*parts, self.text]) if parts else self.text, max_chars)


def cut_middle(text: str, max_chars: int) -> str:
    """``text`` shortened to about ``max_chars`` by cutting its middle, with a marker saying how much."""
    if len(text) <= max_chars:
        return text
    keep_head = max_chars * 2 // 3
    keep_tail = max_chars - keep_head
    cut = len(text) - keep_head - keep_tail
    return f"{text[:keep_head]} …[{cut:,} chars cut]… {text[len(text) - keep_tail:]}"


def level_name(level: str | int | None) -> str | None:
    """A level name such as "ERROR" from a name or a numeric (Python/Prefect) level."""
    if level is None or level == "":
        return None
    if isinstance(level, int):
        return LEVEL_NAMES.get(level) or LEVEL_NAMES.get(level // 10 * 10) or f"LEVEL{level}"
    name = str(level).strip().upper()[:12]
    if name.isdigit():
        return level_name(int(name))
    return name or None


def body_of(text: str) -> str:
    """The line after an Airbyte/log4j-style prefix, with its indentation (for frame detection)."""
    if text[:1].isdigit():
        match = _BODY_PREFIX.match(text)
        if match:
            return text[match.end():]
    return text

