"""Fixtures: one started stand-in per test, always stopped afterwards."""

import pytest

from standins.airbyte_api import AirbyteStandin
from standins.llm_api import LlmStandin
from standins.prefect_api import PrefectStandin


@pytest.fixture
def prefect_standin():
    """A running Prefect stand-in with an empty store."""
    with PrefectStandin() as standin:
        yield standin


@pytest.fixture
def airbyte_standin():
    """A running Airbyte stand-in with an empty store and no auth."""
    with AirbyteStandin() as standin:
        yield standin


@pytest.fixture
def llm_standin():
    """A running LLM stand-in with the default JSON-summary responder."""
    with LlmStandin() as standin:
        yield standin
