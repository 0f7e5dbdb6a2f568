"""Shared fixtures for the redaction and log-condensing tests: the shared failure logs with their labels (repo
copy, tests/fixtures/labelled_logs.py) and the secret corpus (tests/core/secret_corpus.py), as fixtures and
parameters."""

import pytest

from tests.core import secret_corpus
from tests.fixtures.labelled_logs import HARD_LOGS, load_labels


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize tests over corpus entries and shared logs by fixture name."""
    if "secret_entry" in metafunc.fixturenames:
        metafunc.parametrize("secret_entry", secret_corpus.SECRET_LINES,
                             ids=[f"secret{index}" for index in range(len(secret_corpus.SECRET_LINES))])
    if "passed_through_entry" in metafunc.fixturenames:
        metafunc.parametrize("passed_through_entry", secret_corpus.PASSED_THROUGH,
                             ids=[f"shape{index}" for index in range(len(secret_corpus.PASSED_THROUGH))])
    if "ordinary_line" in metafunc.fixturenames:
        metafunc.parametrize("ordinary_line", secret_corpus.ORDINARY_LINES)
    if "shared_log" in metafunc.fixturenames:
        labels = load_labels()
        metafunc.parametrize("shared_log", labels, ids=[label["file"][:2] for label in labels])
    if "hard_log" in metafunc.fixturenames:
        labels = load_labels(HARD_LOGS)
        metafunc.parametrize("hard_log", labels, ids=[label["file"][:2] for label in labels])


@pytest.fixture(scope="session")
def shared_logs() -> list[dict]:
    """All shared logs with their labels."""
    return load_labels()


@pytest.fixture(scope="session")
def hard_logs() -> list[dict]:
    """All real logs of the hard kinds (tests/fixtures/hard_logs) with their labels."""
    return load_labels(HARD_LOGS)


@pytest.fixture(scope="session")
def secret_lines() -> list[tuple[str, list[str]]]:
    """The whole secret corpus: (log text, secrets that must not survive)."""
    return secret_corpus.SECRET_LINES


@pytest.fixture(scope="session")
def passed_through() -> list[tuple[str, list[str]]]:
    """The corpus entries of the shapes that once reached the LLM, the database and the failure email."""
    return secret_corpus.PASSED_THROUGH


def kept_root_causes(label: dict, shown_lines: list[tuple[int, str]]) -> int:
    """How many of the label's root-cause substrings appear in the shown lines."""
    return sum(1 for needle in label["root_cause_lines"] if any(needle in text for _, text in shown_lines))


@pytest.fixture(scope="session")
def count_kept_root_causes():
    """The kept_root_causes helper, as a fixture (test modules cannot import this conftest)."""
    return kept_root_causes
