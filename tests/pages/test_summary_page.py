"""The summary page as a person sees it: in headless Chromium against a live server, signed in through Dalgo's
login API (its cookie), reading stored rows only, with a working "was this helpful?" control."""

import uuid

import pytest
from django.test import Client
from model_bakery import baker
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from ddpui.core.auth.jwt_tokens import issue_pair
from ddpui.core.auth.orgs import add_org_user
from ddpui.models import LlmSession, Org, OrgDataFlow, PrefectFlowRun, SummaryFeedback, SummaryStatus
from harness.browser import chromium_installed, headless_chromium

PASSWORD = "a-long-test-password-7f3"


def stored_summary(org) -> LlmSession:
    """A ready failure summary of a run of a pipeline of `org`, with evidence lines."""
    deployment_id = str(uuid.uuid4())
    OrgDataFlow.objects.create(org=org, name="Daily CRM pipeline", deployment_id=deployment_id)
    run_id = str(uuid.uuid4())
    PrefectFlowRun.objects.create(flow_run_id=run_id, deployment_id=deployment_id, name="crimson-owl",
                                  status="FAILED", state_name="Failed")
    return baker.make(
        LlmSession, org=org, flow_run_id=run_id, step_key="task:x", trigger="failure", status=SummaryStatus.READY,
        title="dbt-run: a column is missing", summary="The model stg_customers reads a column that is gone.",
        root_cause='column "id" does not exist', category="schema",
        fix_steps=["Open models/staging/stg_customers.sql", "Rename id to customer_id", "Re-run the pipeline"],
        evidence=[{"line": 6, "text": "Database Error in model stg_customers"},
                  {"line": 7, "text": 'column "id" does not exist'}],
        failed_step={"kind": "dbt", "label": "dbtjob-dbt-run", "task_slug": "dbt-run"}, is_transient=False,
        provider="offline", model="rules", offline_reason="the org has not opted in to sending its logs to an LLM",
    )


@pytest.mark.django_db
def test_the_page_needs_a_member_of_the_org(org, manager, other_org_token):
    session = stored_summary(org)
    client = Client()
    assert client.get(f"/summaries/{session.public_id}/").status_code == 401, "the login page"
    stranger = add_org_user(org_slug=baker.make(Org, slug="ngo-stranger").slug, email="s@x.test", role="super-admin")
    client.cookies["access_token"] = issue_pair(stranger.user)[0]
    assert client.get(f"/summaries/{session.public_id}/").status_code == 404
    stranger_run = client.get(f"/summaries/run/{session.flow_run_id}/")
    assert stranger_run.status_code == 404 and str(session.public_id).encode() not in stranger_run.content
    assert client.get("/summaries/not-an-id/").status_code == 404
    client.cookies["access_token"] = issue_pair(manager.user)[0]
    page = client.get(f"/summaries/{session.public_id}/")
    assert page.status_code == 200 and b"Daily CRM pipeline" in page.content
    assert client.get(f"/summaries/run/{session.flow_run_id}/").url == f"/summaries/{session.public_id}/"


@pytest.mark.django_db
def test_the_page_reads_stored_rows_only(org, manager, prefect_api, airbyte_api, llm_api, django_assert_max_num_queries):
    session = stored_summary(org)
    client = Client()
    client.cookies["access_token"] = issue_pair(manager.user)[0]
    with django_assert_max_num_queries(12):
        assert client.get(f"/summaries/{session.public_id}/").status_code == 200
    assert prefect_api.request_count == airbyte_api.request_count == llm_api.request_count == 0


@pytest.fixture
def browser():
    """Headless Chromium (Debian's), quit after the test."""
    if not chromium_installed():
        pytest.skip("chromium and chromium-driver are not installed: run scripts/setup_chromium.sh")
    driver = headless_chromium()
    yield driver
    driver.quit()


@pytest.mark.browser
def test_a_person_signs_in_reads_the_summary_and_says_it_helped(live_server, transactional_db, browser, tmp_path):
    org = Org.objects.create(name="NGO One", slug="ngo-one")
    reader = add_org_user(org_slug=org.slug, email="reader@ngo.test", role="analyst", password=PASSWORD)
    session = stored_summary(org)
    wait = WebDriverWait(browser, 15)

    browser.get(f"{live_server.url}/summaries/{session.public_id}/")
    browser.find_element(By.ID, "username").send_keys("reader@ngo.test")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "sign-in").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "fix-steps")))

    text = browser.find_element(By.TAG_NAME, "main").text
    assert "dbt-run: a column is missing" in text and "Daily CRM pipeline" in text and "crimson-owl" in text
    assert "Failed step\ndbt-run" in text
    assert 'Root cause\ncolumn "id" does not exist' in text
    steps = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#fix-steps li")]
    assert steps == session.fix_steps
    evidence = browser.find_element(By.ID, "evidence").text.splitlines()
    assert evidence == ["6Database Error in model stg_customers", '7column "id" does not exist'] or evidence[0].startswith("6")
    assert "offline" in browser.find_element(By.ID, "made-by").text
    assert "Probably not" in browser.find_element(By.ID, "rerun").text

    browser.find_element(By.ID, "feedback-comment").send_keys("Clear, thanks")
    browser.find_element(By.ID, "helpful-yes").click()
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "feedback-status"), "saved"))
    assert "chosen" in browser.find_element(By.ID, "helpful-yes").get_attribute("class")
    feedback = SummaryFeedback.objects.get(session=session, orguser=reader)
    assert (feedback.helpful, feedback.comment) == (True, "Clear, thanks")

    browser.refresh()  # the choice is remembered, and can be changed
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "feedback-status"), "You said: helpful"))
    browser.find_element(By.ID, "helpful-no").click()
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "feedback-status"), "saved"))
    assert SummaryFeedback.objects.get(session=session, orguser=reader).helpful is False
    browser.save_screenshot(str(tmp_path / "summary_page.png"))
