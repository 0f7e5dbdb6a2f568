"""Offline, conservative token estimates for text we send to an LLM.

We cannot run the provider's tokenizer offline, so we over-estimate instead:

- BPE tokenizers (cl100k/o200k and similar) average about 4 characters per token on English prose, but
  logs are full of digits, punctuation, paths, UUIDs and hex ids, which split into much shorter pieces
  (a UUID is ~20 tokens for 36 characters). One token per 3 characters covers ordinary log lines;
- hex-like and digit-heavy text is the worst case, so digits are charged one token per 2 characters on
  top of their share of the character count;
- very short words ("a", "=", "|") are one token each whatever their length, hence the words * 1.35 floor;
- non-ASCII characters (accents, CJK, emoji) are 1-3 tokens each: every extra UTF-8 byte costs a token.

The estimate is additive over lines (the estimate of a concatenation is at most the sum of the parts),
which lets the selector count a budget line by line and stay under it for the whole text.
"""

import math

CHARS_PER_TOKEN = 3.0
WORD_TOKENS = 1.35
DIGIT_EXTRA_PER_CHAR = 0.5 - 1 / CHARS_PER_TOKEN  # a digit costs 1/2 token in total, not 1/3
_DIGITS = "0123456789"
_DELETE_DIGITS = str.maketrans("", "", _DIGITS)


def estimate_tokens(text: str) -> int:
    """A conservative (over-)estimate of the number of LLM tokens in ``text``; see the module docstring."""
    if not text:
        return 0
    chars = len(text)
    digits = chars - len(text.translate(_DELETE_DIGITS))
    by_chars = chars / CHARS_PER_TOKEN + digits * DIGIT_EXTRA_PER_CHAR
    by_words = len(text.split()) * WORD_TOKENS
    extra_bytes = 0 if text.isascii() else len(text.encode("utf-8", "replace")) - chars
    return math.ceil(max(by_chars, by_words) + extra_bytes)
