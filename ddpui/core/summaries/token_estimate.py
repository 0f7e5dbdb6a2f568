"""Offline, conservative token estimates for text we send to an LLM.

We cannot run the provider's tokenizer offline, so we over-estimate instead:

- BPE tokenizers (cl100k/o200k and similar) average about 4 characters per token on English prose, but
  logs are full of digits, punctuation, paths, UUIDs and hex ids, which split into much shorter pieces
  (a UUID is ~20 tokens for 36 characters). One token per 3 characters covers ordinary log lines;
- digits are charged one token each: Qwen2.5's tokenizer (and others like it) splits every digit into its own
  token, and dbt's timestamps ("22:59:55.110841"), ids and line numbers are full of them. Charged at half a
  token, the estimate undercounted dbt logs by 6-9% (8-12% numbered as an excerpt), measured with the
  model's tokenizer (tests/fixtures/qwen_token_counts.json);
- very short words ("a", "=", "|") are one token each whatever their length, hence the words * 1.35 floor;
- non-ASCII characters (accents, CJK, emoji) are 1-3 tokens each: every extra UTF-8 byte costs a token.

The estimate is additive over lines (the estimate of a concatenation is at most the sum of the parts),
which lets the selector count a budget line by line and stay under it for the whole text.
"""

import math

CHARS_PER_TOKEN = 3.0
WORD_TOKENS = 1.35
DIGIT_EXTRA_PER_CHAR = 1 - 1 / CHARS_PER_TOKEN  # a digit costs 1 token in total, not 1/3
DIGIT_BYTES = b"0123456789"


def estimate_tokens(text: str) -> int:
    """A conservative (over-)estimate of the number of LLM tokens in ``text``; see the module docstring."""
    if not text:
        return 0
    chars = len(text)
    encoded = text.encode("utf-8", "replace")  # bytes.translate is several times faster than str's
    digits = len(encoded) - len(encoded.translate(None, DIGIT_BYTES))
    by_chars = chars / CHARS_PER_TOKEN + digits * DIGIT_EXTRA_PER_CHAR
    by_words = len(text.split()) * WORD_TOKENS
    return math.ceil(max(by_chars, by_words) + len(encoded) - chars)


class TokenTally:
    """Running totals for the token estimate of a long text read line by line (the input log), cheaper
    than estimating each line: the caller already knows each line's digit count."""

    def __init__(self) -> None:
        """Start at zero."""
        self.chars = 0
        self.digits = 0
        self.words = 0
        self.extra_tokens = 0

    def add(self, text: str, digits: int) -> None:
        """Count one line (plus its newline) holding ``digits`` digits."""
        if not text.isascii():
            self.extra_tokens += estimate_tokens(text) + 1  # rare: exact per-line estimate
            return
        self.chars += len(text) + 1
        self.digits += digits
        self.words += len(text.split())

    def tokens(self) -> int:
        """The conservative estimate for everything added so far (same formula as estimate_tokens)."""
        by_chars = self.chars / CHARS_PER_TOKEN + self.digits * DIGIT_EXTRA_PER_CHAR
        return math.ceil(max(by_chars, self.words * WORD_TOKENS)) + self.extra_tokens
