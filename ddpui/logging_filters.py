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
        if record.exc_info or record.exc_text:
            # A traceback ends with the exception's text, which may quote a DSN or a config: render it here
            # (or take what an earlier handler rendered), redacted; formatters print exc_text as they find it.
            record.exc_text = redact_text(record.exc_text or logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True
