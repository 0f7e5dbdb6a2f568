"""Logging filters: secrets never reach our own logs either."""

import logging

from ddpui.core.redaction import redact_text


class RedactSecretsFilter(logging.Filter):
    """Redacts secrets from every log record's rendered message before a handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message with its redacted rendering; never drops a record."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            return True
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
