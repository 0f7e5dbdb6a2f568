"""Excerpt assembly: rank the incidents the reader kept, choose the root-cause lines, offer every kept line
to the packer with a priority (root-cause lines, their traceback and context, what ran, the last lines,
other incidents, the tail) and render the result as the Excerpt sent to the model."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ddpui.core.redaction import redact_text
from ddpui.core.summaries.condense.lines import Line, cut_middle
from ddpui.core.summaries.condense.packing import FOLD_MIN_RUN, Packer
from ddpui.core.summaries.condense.reader import Incident, Reader
from ddpui.core.summaries.condense.scoring import KEY_SCORE_BAND, MIN_KEY_SCORE
from ddpui.core.summaries.fingerprint import template_of
from ddpui.core.summaries.token_estimate import estimate_tokens

MAX_KEY_CHARS = 1500  # a root-cause line is cut in the middle beyond this when rendered
MAX_CONTEXT_CHARS = 400
MAX_KEY_INCIDENTS = 3
MAX_KEY_LINES = 10
MAX_OTHER_ERROR_LINES = 20

# --- packing priorities (higher is kept first) ---
PRIORITY_KEY = 100_000
PRIORITY_NEAR_BLOCK = 80_000  # traceback lines of a root cause, minus PER_BLOCK_DISTANCE per line away
PER_BLOCK_DISTANCE = 200  # from a key line or the block's start: 50 lines away is worth the key context
PRIORITY_KEY_CONTEXT = 70_000
PRIORITY_PLACEHOLDER = 68_000  # a value used as written ("${DB_HOST}", "{{ env_var('X') }}")
PRIORITY_OUTCOME = 66_000  # the run's outcome lines, newest first
PRIORITY_HEAD_INFO = 65_000
PRIORITY_LAST_LINES = 64_000
PRIORITY_NODE_RESULT = 62_000  # failed or skipped nodes' result lines, newest first
LAST_LINES = 8
PRIORITY_OTHER_KEY = 60_000
PRIORITY_OTHER_CONTEXT = 40_000
PRIORITY_BLOCK = 30_000
PRIORITY_TAIL = 20_000
PRIORITY_FIRST_LINES = 15_000
PER_RANK = 1_000
POINTED_COST = 50  # a line a key line points at comes right after the key lines
PER_DISTANCE = 10


@dataclass
class Excerpt:
    """The condensed, redacted evidence of a failure, exactly as it is sent to the LLM."""

    text: str  # structured evidence block, then numbered lines "  123 | ..." with gap markers
    lines: list[tuple[int, str]]  # kept lines: (original 1-based line number, redacted text)
    key_lines: list[tuple[int, str]]  # ranked root-cause lines (first = best)
    structured: list[str]  # redacted structured evidence
    lines_in: int
    tokens_in: int
    tokens_out: int
    budget: int
    omitted: int  # input lines neither shown nor folded into a shown line
    skipped: int = 0  # of the omitted lines, those never read (the middle of a huge log)
    # error lines of the other incidents, by rank: where the fingerprint looks when root-cause lines are generic
    other_error_lines: list[tuple[int, str]] = field(default_factory=list)


def build_excerpt(reader: Reader, structured: Sequence[str], budget: int) -> Excerpt:
    """Rank the reader's incidents, pack lines into the budget and render the excerpt."""
    reader.close()
    ranked = sorted(reader.incidents, key=lambda incident: (-incident.score, incident.anchor))
    key_incidents = root_cause_incidents(ranked)
    key_lines = root_cause_lines(key_incidents, reader.recent)
    structured_text = structured_items(structured, budget)
    packer = Packer(reader.count, budget, structured_text, reader.skipped)
    offer_all(packer, reader, ranked, key_incidents, key_lines)
    text, shown = packer.render()
    return Excerpt(
        text=text,
        lines=shown,
        key_lines=[(line.number, line.rendered(MAX_KEY_CHARS)) for line in key_lines],
        structured=structured_text,
        lines_in=reader.count,
        tokens_in=reader.tally.tokens() + sum(estimate_tokens(item) + 1 for item in structured_text),
        tokens_out=estimate_tokens(text),
        budget=budget,
        omitted=packer.omitted(),
        skipped=sum(last - first + 1 for first, last in reader.skipped),
        other_error_lines=[(line.number, line.rendered(MAX_KEY_CHARS)) for line in other_error_lines(ranked, key_lines)],
    )


def root_cause_incidents(ranked: list[Incident]) -> list[Incident]:
    """The root-cause candidates: the best incident and those scoring within a band of it."""
    if not ranked or ranked[0].score < MIN_KEY_SCORE:
        return []
    floor = max(MIN_KEY_SCORE, ranked[0].score - KEY_SCORE_BAND)
    return [incident for incident in ranked if incident.score >= floor][:MAX_KEY_INCIDENTS]


def root_cause_lines(key_incidents: list[Incident], recent: Iterable[Line]) -> list[Line]:
    """Ranked root-cause lines; with no error found, the last non-blank lines (where runs fail)."""
    lines: list[Line] = []
    for incident in key_incidents:
        for number in sorted(incident.key):
            line = incident.key[number]
            if line.text.strip() and len(lines) < MAX_KEY_LINES:
                lines.append(line)
    if not lines:
        seen: set[str] = set()
        for line in reversed(recent):
            template = template_of(line.text)
            if line.text.strip() and template not in seen:
                seen.add(template)
                lines.insert(0, line)
            if len(lines) == 3:
                break
    return lines


def other_error_lines(ranked: list[Incident], key_lines: list[Line]) -> list[Line]:
    """The error lines of incidents that are not root-cause lines, by rank (warnings left out)."""
    key_numbers = {line.number for line in key_lines}
    lines: list[Line] = []
    for incident in ranked:
        if incident.score < MIN_KEY_SCORE:
            break
        for number in sorted(incident.key):
            line = incident.key[number]
            if number not in key_numbers and line.text.strip():
                lines.append(line)
                if len(lines) >= MAX_OTHER_ERROR_LINES:
                    return lines
    return lines


def structured_items(structured: Sequence[str], budget: int) -> list[str]:
    """Redacted structured evidence; items are cut so that together they use at most half the budget."""
    items = [redact_text(str(item)).strip() for item in structured if str(item).strip()]
    if not items:
        return []
    max_chars = max(200, int(budget * 0.5 * 3 / len(items)))
    return [cut_middle(item, max_chars) for item in items]


def offer_all(packer: Packer, reader: Reader, ranked: list[Incident], key_incidents: list[Incident],
              key_lines: list[Line]) -> None:
    """Offer every candidate line to the packer with its priority."""
    key_numbers = {line.number for line in key_lines}
    packer.folded_templates = {incident.template for incident in ranked if incident.repeats}
    for rank, line in enumerate(key_lines):
        packer.offer(line, PRIORITY_KEY - rank, MAX_KEY_CHARS, is_anchor=True)
    for rank, incident in enumerate(ranked):
        is_key = incident in key_incidents
        rank_cost = rank * PER_RANK
        note = repeat_note(incident)
        for number, line in incident.key.items():
            base = PRIORITY_KEY if number in key_numbers else PRIORITY_OTHER_KEY
            packer.offer(line, base - rank_cost - (number - incident.anchor),
                         MAX_KEY_CHARS if is_key else MAX_CONTEXT_CHARS,
                         note if number == incident.anchor else "", is_anchor=True)
        for line in incident.pointed.values():
            base = PRIORITY_KEY if is_key else PRIORITY_OTHER_KEY
            packer.offer(line, base - rank_cost - POINTED_COST, MAX_KEY_CHARS if is_key else MAX_CONTEXT_CHARS)
        for line, distance in incident.context.values():
            base = PRIORITY_KEY_CONTEXT if is_key else PRIORITY_OTHER_CONTEXT
            packer.offer(line, base - rank_cost - abs(distance) * PER_DISTANCE, MAX_CONTEXT_CHARS)
        # A stack is kept whole when it fits; a long one loses its middle first (head and the frames
        # next to each exception line stay).
        base = PRIORITY_NEAR_BLOCK if is_key else PRIORITY_BLOCK
        for line in incident.block.values():
            distance = min(line.number - incident.block_start,
                           min(abs(line.number - number) for number in incident.key))
            packer.offer(line, base - rank_cost - distance * PER_BLOCK_DISTANCE, MAX_CONTEXT_CHARS)
    for index, line in enumerate(reversed(reader.pointers.placeholders.values())):
        packer.offer(line, PRIORITY_PLACEHOLDER - index, MAX_CONTEXT_CHARS)
    for index, line in enumerate(reversed(reader.pointers.carets.values())):
        packer.offer(line, PRIORITY_PLACEHOLDER - index, MAX_CONTEXT_CHARS)
    for index, line in enumerate(reversed(reader.pointers.outcomes.values())):
        packer.offer(line, PRIORITY_OUTCOME - index, MAX_CONTEXT_CHARS)
    for index, line in enumerate(reversed(reader.pointers.node_results.values())):
        packer.offer(line, PRIORITY_NODE_RESULT - index, MAX_CONTEXT_CHARS)
    for index, line in enumerate(reader.head_info):
        packer.offer(line, PRIORITY_HEAD_INFO - index, MAX_CONTEXT_CHARS)
    for index, line in enumerate(reader.head):
        packer.offer(line, PRIORITY_FIRST_LINES - index, MAX_CONTEXT_CHARS)
    offer_tail(packer, reader.recent)


def offer_tail(packer: Packer, recent: Iterable[Line]) -> None:
    """Offer the tail, newest first, folding runs of lines that share a template."""
    tail = list(recent)
    templates = [packer.template(line) for line in tail]
    index = len(tail) - 1
    age = 0
    while index >= 0:
        start = index
        while start > 0 and templates[start - 1] == templates[index]:
            start -= 1
        run = index - start + 1
        first = tail[start]
        base = PRIORITY_LAST_LINES if age < LAST_LINES else PRIORITY_TAIL
        if run >= FOLD_MIN_RUN:
            packer.offer(first, base - age, MAX_CONTEXT_CHARS, covers_until=tail[index].number)
        else:
            for offset in range(index, start - 1, -1):
                packer.offer(tail[offset], base - age - (index - offset), MAX_CONTEXT_CHARS)
        age += run if run < FOLD_MIN_RUN else 1
        index = start - 1


def repeat_note(incident: Incident) -> str:
    """The fold note of an incident whose message repeated later in the log."""
    if not incident.repeats:
        return ""
    return (f"(same message repeated {incident.repeats:,} more times, "
            f"lines {incident.anchor:,}-{incident.last_repeat:,})")


