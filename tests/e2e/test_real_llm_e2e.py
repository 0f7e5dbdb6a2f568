"""A real model end to end: a failing Dalgo pipeline on the real Prefect server, summarized by Qwen2.5-Coder-0.5B
(llama-cpp-python's OpenAI-compatible server, harness/llm_server.py) through OPENAI_BASE_URL, with the default
settings: provider openai, strict JSON (json_schema asked first; this server refuses it with HTTP 500 and
honours json_object + schema), evidence grounded in the excerpt, and no fallback to the offline summarizer.

Needs the server's virtualenv (llama.cpp compiled once, ~7 minutes) and the model (491 MB from PyPI), both
cached; `python -m harness.llm_server ensure` makes them. Skipped with the reason when they cannot be made.
"""

import json
import uuid

import pytest
from django.utils import timezone

from ddpui.models import Org, OrgPreferences
from harness.app import run_manage
from harness.flows.catalog import FAKE_SECRET_VALUES, dbt_error_line
from harness.llm_server import LlmServer, LlmServerUnavailable, start_llm_server
from harness.processes import ProcessStack
from harness.scenarios import ScenarioRun, dbt_failure_after_sync, finish_scenario, start_scenario
from harness.stack import DalgoStack

pytestmark = [pytest.mark.e2e, pytest.mark.real_llm, pytest.mark.timeout(3600)]

ALIAS = "e2e"
ORG_SLUG = "real-llm-ngo"
FAILING_MODEL = "fct_real_llm_attendance"
# A CPU model call: ~1 minute on 2 idle cores, over 400 s when 9 agents share them (load 30). Generous; the
# harness's summary wait and the cluster's task timeout follow it.
LLM_TIMEOUT_SECONDS = "1500"


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory) -> LlmServer:
    """The 0.5B model behind llama-cpp-python's server, for this module."""
    stack = ProcessStack(tmp_path_factory.mktemp("llm-server"))
    try:
        server = start_llm_server(stack, "0.5b")
    except LlmServerUnavailable as exc:
        stack.stop_all()
        pytest.skip(f"real_llm skipped: the model server cannot be built or the model fetched here: {exc}")
    try:
        yield server
    finally:
        stack.stop_all()


@pytest.fixture(scope="module")
def real_llm_run(e2e_stack: DalgoStack, llm_server: LlmServer, django_db_blocker) -> ScenarioRun:
    """A dbt failure after a sync, summarized by the real model on a cluster restarted with OPENAI_* set."""
    try:
        e2e_stack.restart_cluster(
            openai_api_key=f"sk-local-{uuid.uuid4().hex}", openai_base_url=llm_server.base_url,
            settings={"LLM_MODEL": llm_server.model, "LLM_TIMEOUT_SECONDS": LLM_TIMEOUT_SECONDS},
        )
        with django_db_blocker.unblock():
            if not Org.objects.using(ALIAS).filter(slug=ORG_SLUG).exists():
                run_manage(e2e_stack.env, "create_org", "--name", "Real LLM NGO", "--email", "manager@real-llm.test",
                           "--slug", ORG_SLUG)
            # Its admin opted in to LLM summaries (Dalgo's llm_optin): this test is about the model's summary.
            OrgPreferences.objects.using(ALIAS).filter(org__slug=ORG_SLUG).update(
                llm_optin=True, llm_optin_date=timezone.now())
            org = Org.objects.using(ALIAS).get(slug=ORG_SLUG)
            scenario = dbt_failure_after_sync(e2e_stack.airbyte, failing_model=FAILING_MODEL)
            scenario.name += ", summarized by Qwen2.5-Coder-0.5B"
            run = finish_scenario(e2e_stack, start_scenario(e2e_stack, org, scenario, using=ALIAS), using=ALIAS)
        line = run.timeline.render(scenario.name)
        print(line)
        e2e_stack.notes.append(line)
        yield run
    finally:
        e2e_stack.restart_cluster(openai_api_key="", openai_base_url="", settings={})


def test_the_real_model_summarizes_the_failure_without_falling_back(real_llm_run):
    session = real_llm_run.session
    assert session.status == "ready", session.last_error
    assert session.provider == "openai" and session.last_error == "", (session.provider, session.last_error)
    assert session.model == "qwen2.5-coder-0.5b-instruct" and session.tokens_out > 0
    assert session.title and session.summary and session.fix_steps
    print(f"real model: {session.latency_ms} ms, {session.tokens_in} tokens in, {session.tokens_out} out, "
          f"category {session.category}, grounded {session.grounded}")


def test_the_stored_evidence_is_grounded_in_the_excerpt_and_holds_dbts_error(real_llm_run):
    session = real_llm_run.session
    excerpt_lines = session.excerpt.splitlines()
    for item in session.evidence:
        assert any(line.endswith(f"| {item['text']}") or item["text"] in line for line in excerpt_lines), item
    assert any(dbt_error_line(FAILING_MODEL) in item["text"] for item in session.evidence), session.evidence
    assert session.grounded is not None


def test_the_real_model_stores_no_secret(real_llm_run):
    session = real_llm_run.session
    stored = json.dumps([session.excerpt, session.evidence, session.title, session.summary, session.root_cause,
                         session.fix_steps, session.response, session.last_error], default=str)
    assert not [secret for secret in FAKE_SECRET_VALUES if secret in stored]
