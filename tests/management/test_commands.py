"""The management commands: create_org, add_org_user, summarize_flow_run, preview_llm_input."""

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ddpui.core.auth.api_tokens import hash_token
from ddpui.models import ApiToken, Org, OrgUser
from tests.fixtures.labelled_logs import SHARED_LOGS

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    """Run a command and return its output."""
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_org_prints_a_token_that_is_stored_hashed(client):
    output = run("create_org", "--name", "Girls Education", "--email", "lead@ngo.test")
    token = re.search(r"token: (\S+)", output).group(1)
    assert Org.objects.get(slug="girls-education") and OrgUser.objects.get(user__email="lead@ngo.test").is_manager
    stored = ApiToken.objects.get()
    assert stored.token_hash == hash_token(token) and token not in stored.token_hash
    assert client.get("/api/v1/summaries", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


def test_create_org_with_a_password_makes_a_super_admin_who_can_log_in(client):
    output = run("create_org", "--name", "Girls Education", "--email", "lead@ngo.test", "--password", "s3cret-pass")
    assert "super-admin" in output
    response = client.post("/api/login/", {"username": "lead@ngo.test", "password": "s3cret-pass"},
                           content_type="application/json")
    assert response.status_code == 200 and response.json()["orgs"][0]["role"] == "super-admin"


def test_add_org_user_lets_an_existing_user_join_another_org(client):
    run("create_org", "--name", "NGO A", "--email", "lead@ngo.test", "--password", "s3cret-pass")
    run("create_org", "--name", "NGO B", "--email", "boss@ngo.test")
    assert "lead@ngo.test is analyst of ngo-b" in run("add_org_user", "--org", "ngo-b", "--email", "lead@ngo.test",
                                                      "--role", "analyst")
    token = client.post("/api/login/", {"username": "lead@ngo.test", "password": "s3cret-pass"},
                        content_type="application/json").json()["token"]
    for slug in ("ngo-a", "ngo-b"):
        assert client.get("/api/v1/summaries", HTTP_AUTHORIZATION=f"Bearer {token}",
                          HTTP_X_DALGO_ORG=slug).status_code == 200
    # Running it again changes the role, it does not add a second membership.
    run("add_org_user", "--org", "ngo-b", "--email", "lead@ngo.test", "--role", "admin")
    assert OrgUser.objects.get(user__email="lead@ngo.test", org__slug="ngo-b").role == "admin"


@pytest.mark.parametrize("args, message", [
    (("--org", "ngo-a", "--role", "owner"), "unknown role 'owner'"),
    (("--org", "no-such-org", "--role", "member"), "no org with slug 'no-such-org'"),
])
def test_add_org_user_refuses_a_bad_role_or_org(args, message):
    run("create_org", "--name", "NGO A", "--email", "lead@ngo.test")
    with pytest.raises(CommandError, match=message):
        run("add_org_user", "--email", "new@ngo.test", *args)
    assert not OrgUser.objects.filter(user__email="new@ngo.test").exists()


def test_summarize_flow_run_prints_the_stored_summary(dalgo_runs):
    run_, _ = dalgo_runs.pipeline(connections=0)
    dalgo_runs.dbt_task(run_)
    output = run("summarize_flow_run", run_["id"])
    assert "failed step: dbt 'dbt-run'" in output and "fix steps:" in output and "evidence:" in output
    data = json.loads(run("summarize_flow_run", run_["id"], "--json"))
    assert data["status"] == "ready" and data["provider"] == "offline"


def test_summarize_flow_run_of_an_unknown_run_is_a_clear_error(prefect_api):
    with pytest.raises(CommandError):
        run("summarize_flow_run", "5f0c6a52-7a8b-4d38-9b7e-3c1d1a0e9a11")


def test_preview_llm_input_for_a_file_prints_the_redacted_numbered_excerpt(tmp_path):
    log = tmp_path / "dbt.log"
    log.write_text("\n".join(["noise"] * 50 + ["Database Error in model x", "password=hunter2hunter2"]))
    output = run("preview_llm_input", "--file", str(log), "--budget", "500")
    assert "Database Error in model x" in output and "hunter2hunter2" not in output
    assert re.search(r"^\s*51 \| .*Database Error in model x", output, re.MULTILINE)
    data = json.loads(run("preview_llm_input", "--file", str(log), "--json"))
    assert data["messages"][0]["role"] == "system" and data["excerpt_tokens"] <= data["budget"]


def test_preview_llm_input_for_a_flow_run_matches_the_automatic_path(dalgo_runs):
    run_, _ = dalgo_runs.pipeline(connections=0)
    dalgo_runs.dbt_task(run_)
    output = run("preview_llm_input", "--flow-run", run_["id"])
    assert 'column "id" does not exist' in output and "S3cretPassw0rd" not in output


def test_preview_llm_input_on_a_shared_log():
    output = run("preview_llm_input", "--file", str(SHARED_LOGS / "15_dbt_postgres-column-does-not-exist.log"))
    assert 'column "id" does not exist' in output
