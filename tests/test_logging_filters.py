"""Our own logs: a record's message and its traceback are redacted before a handler writes them."""

import io
import logging

from ddpui.logging_filters import RedactSecretsFilter


def logged(emit) -> str:
    """What a handler with the redacting filter wrote while `emit(logger)` ran."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger("tests.logging_filters")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_message_arguments_are_redacted():
    text = logged(lambda logger: logger.error("connecting to %s", "postgresql://dalgo:Hunter2pw@db/crm"))
    assert "Hunter2pw" not in text and "[REDACTED:password]" in text


def test_a_traceback_quoting_a_secret_is_redacted():
    def emit(logger):
        try:
            raise RuntimeError(repr({"host": "db", "password": "Hunter3pw"}))
        except RuntimeError:
            logger.exception("step failed")

    text = logged(emit)
    assert "Traceback" in text and "RuntimeError" in text
    assert "Hunter3pw" not in text and "[REDACTED:password]" in text
