"""Budget packing: greedy selection of the offered lines by priority while their rendered cost (line, fold
note and the gap markers it adds or removes) fits the token budget, then rendering in log order with the
original line numbers, gap markers for what was left out and fold notes for repeats."""

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from ddpui.core.summaries.condense.lines import Line
from ddpui.core.summaries.fingerprint import template_of
from ddpui.core.summaries.token_estimate import estimate_tokens

FOLD_MIN_RUN = 3  # consecutive same-template tail lines folded into one


@dataclass
class Candidate:
    """A line offered for the excerpt, with its best priority so far."""

    line: Line
    priority: int
    max_chars: int
    note: str
    covers_until: int


class Packer:
    """Greedy budgeted selection of lines, then rendering with gap markers and fold notes."""

    def __init__(self, lines_in: int, budget: int, structured: list[str],
                 skipped: Sequence[tuple[int, int]] = ()) -> None:
        """Start with the fixed parts (header and structured evidence) already counted. ``skipped`` are the
        (first, last) line numbers that were never read (the middle of a huge log)."""
        self.lines_in = lines_in
        self.skipped = sorted(skipped)
        self.budget = budget
        self.structured = structured
        self.width = max(4, len(str(lines_in)))
        self.candidates: dict[int, Candidate] = {}
        self.starts: list[int] = []  # selected intervals, sorted
        self.ends: list[int] = []
        self.chosen: dict[int, Candidate] = {}
        self.folded_templates: set[str] = set()  # messages shown once with a repeat count
        self.templates: dict[int, str] = {}

    def template(self, line: Line) -> str:
        """The line's folding template (computed once per line)."""
        template = self.templates.get(line.number)
        if template is None:
            template = self.templates[line.number] = template_of(line.text)
        return template

    def offer(self, line: Line, priority: int, max_chars: int, note: str = "", covers_until: int = 0,
              is_anchor: bool = False) -> None:
        """Offer a line; the best priority (and longest allowance) of all offers counts. Repeats of a
        message already shown with a repeat count are not offered again (unless ``is_anchor``)."""
        if not is_anchor and self.folded_templates and self.template(line) in self.folded_templates:
            return
        known = self.candidates.get(line.number)
        if known is None:
            self.candidates[line.number] = Candidate(line, priority, max_chars, note, max(covers_until, line.number))
            return
        known.priority = max(known.priority, priority)
        known.max_chars = max(known.max_chars, max_chars)
        known.note = known.note or note
        known.covers_until = max(known.covers_until, covers_until)

    # --- rendering pieces (their token costs are what the packer counts) ---

    def _line_text(self, candidate: Candidate) -> list[str]:
        """The rendered line, plus its note line: a repeat count, or the run of same-template lines it
        stands for (up to ``covers_until``)."""
        number = candidate.line.number
        rendered = [f"{number:>{self.width}} | {candidate.line.rendered(candidate.max_chars)}"]
        end = candidate.covers_until
        note = candidate.note
        if end > number:
            note = f"(repeated {end - number:,} more times, lines {number + 1:,}-{end:,})"
        if note:
            rendered.append(f"{'':>{self.width}}   {note}")
        return rendered

    def _gap_text(self, count: int) -> str:
        """A gap marker for ``count`` omitted lines."""
        return f"{'':>{self.width}}   ... {count:,} line{'s' if count != 1 else ''} omitted ..."

    def _unread_text(self, count: int) -> str:
        """The marker of ``count`` lines that were not read at all (it counts as omitted lines too)."""
        return f"{'':>{self.width}}   ... {count:,} lines omitted: not read, the log is too long ..."

    def _gap_lines(self, first: int, last: int) -> list[str]:
        """Markers for the omitted lines ``first..last``: stretches that were not read are named apart."""
        out = []
        position = first
        for skip_first, skip_last in self.skipped:
            if skip_last < position or skip_first > last:
                continue
            if skip_first > position:
                out.append(self._gap_text(skip_first - position))
            out.append(self._unread_text(min(skip_last, last) - max(skip_first, position) + 1))
            position = min(skip_last, last) + 1
        if position <= last:
            out.append(self._gap_text(last - position + 1))
        return out

    def _header(self) -> list[str]:
        """The fixed lines before the numbered excerpt."""
        header = []
        if self.structured:
            header.append("Structured evidence:")
            header.extend(f"- {item}" for item in self.structured)
            header.append("")
        unread = sum(last - first + 1 for first, last in self.skipped)
        if unread:
            header.append(f"Log excerpt ({self.lines_in:,} lines, {unread:,} of them not read; original line numbers):")
        else:
            header.append(f"Log excerpt ({self.lines_in:,} lines; original line numbers):")
        return header

    def _gap_delta(self, start: int, end: int) -> int:
        """How the number of gap markers changes if lines ``start..end`` are added."""
        position = bisect.bisect_left(self.starts, start)
        previous_end = self.ends[position - 1] if position > 0 else 0
        next_start = self.starts[position] if position < len(self.starts) else self.lines_in + 1
        before = 1 if previous_end + 1 <= next_start - 1 else 0
        after = (1 if previous_end + 1 <= start - 1 else 0) + (1 if end + 1 <= next_start - 1 else 0)
        return after - before

    def _overlaps(self, start: int, end: int) -> bool:
        """Whether lines ``start..end`` touch an already selected interval."""
        position = bisect.bisect_left(self.starts, start)
        if position > 0 and self.ends[position - 1] >= start:
            return True
        return position < len(self.starts) and self.starts[position] <= end

    def _select(self) -> None:
        """Greedy: take candidates by priority while their cost (with gap markers) fits the budget."""
        gap_cost = estimate_tokens(self._gap_text(10**9)) + 1
        spent = sum(estimate_tokens(text) + 1 for text in self._header())
        spent += gap_cost if self.lines_in else 0
        # An unread stretch splits its gap in up to three markers.
        spent += len(self.skipped) * (2 * gap_cost + estimate_tokens(self._unread_text(10**9)) + 1)
        ordered = sorted(self.candidates.values(), key=lambda candidate: (-candidate.priority, candidate.line.number))
        for candidate in ordered:
            start, end = candidate.line.number, candidate.covers_until
            if self._overlaps(start, start):
                continue
            if end > start and self._overlaps(start, end):
                # A run partly shown already: fold only up to the next shown line.
                position = bisect.bisect_left(self.starts, start)
                end = self.starts[position] - 1
                candidate.covers_until = end if end - start + 1 >= FOLD_MIN_RUN else start
                end = candidate.covers_until
            cost = sum(estimate_tokens(text) + 1 for text in self._line_text(candidate))
            cost += self._gap_delta(start, end) * gap_cost
            if spent + cost > self.budget:
                continue
            spent += cost
            position = bisect.bisect_left(self.starts, start)
            self.starts.insert(position, start)
            self.ends.insert(position, end)
            self.chosen[start] = candidate

    def render(self) -> tuple[str, list[tuple[int, str]]]:
        """Select lines and render the excerpt text; also the shown (line number, text) pairs."""
        self._select()
        out = self._header()
        shown: list[tuple[int, str]] = []
        next_expected = 1
        for start, end in zip(self.starts, self.ends, strict=True):
            if start > next_expected:
                out.extend(self._gap_lines(next_expected, start - 1))
            candidate = self.chosen[start]
            out.extend(self._line_text(candidate))
            shown.append((start, candidate.line.rendered(candidate.max_chars)))
            next_expected = end + 1
        if self.lines_in >= next_expected:
            out.extend(self._gap_lines(next_expected, self.lines_in))
        return "\n".join(out), shown

    def omitted(self) -> int:
        """Input lines neither shown nor folded into a shown line."""
        covered = sum(end - start + 1 for start, end in zip(self.starts, self.ends, strict=True))
        return self.lines_in - covered


