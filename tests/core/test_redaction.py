"""Redaction: no secret of the corpus survives; ordinary log lines are left exactly as they were."""

import base64
import json

import pytest

from ddpui.core.redaction import redact_lines, redact_text, redact_value, secret_kind_of_key


def test_corpus_is_big_enough(secret_lines):
    assert len(secret_lines) >= 100
    assert sum(len(secrets) for _, secrets in secret_lines) >= 100


def test_no_secret_leaks(secret_entry):
    text, secrets = secret_entry
    redacted = redact_text(text)
    for secret in secrets:
        assert secret not in redacted
    assert "[REDACTED:" in redacted
    assert redacted.count("\n") == text.count("\n")  # one output line per input line


def test_streaming_redaction_matches_text_redaction(secret_lines):
    for text, secrets in secret_lines:
        streamed = "\n".join(redact_lines(iter(text.split("\n"))))
        assert streamed == redact_text(text)
        assert not any(secret in streamed for secret in secrets)


def test_ordinary_lines_unchanged(ordinary_line):
    assert redact_text(ordinary_line) == ordinary_line


def test_shared_logs_have_no_false_positives(shared_logs):
    changed = total = 0
    for label in shared_logs:
        for before, after in zip(label["lines"], redact_lines(label["lines"]), strict=True):
            total += 1
            changed += before != after
    assert total > 900
    assert changed == 0


def test_typed_markers():
    assert redact_text("password=hunter2x") == "password=[REDACTED:password]"
    assert redact_text("key AKIAIOSFODNN7EXAMPLE") == "key [REDACTED:aws_access_key]"
    assert "[REDACTED:jwt]" in redact_text("t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlX2hlcmU")
    assert "[REDACTED:private_key]" in redact_text("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----")
    assert redact_text("postgresql://dalgo:s3cret@db/crm") == "postgresql://dalgo:[REDACTED:password]@db/crm"


def test_pem_block_ends_and_following_lines_survive():
    lines = ["before", "-----BEGIN RSA PRIVATE KEY-----", "MIIEabc", "xyz==", "-----END RSA PRIVATE KEY-----", "after"]
    out = list(redact_lines(lines))
    assert out[0] == "before" and out[-1] == "after"
    assert all(line == "[REDACTED:private_key]" for line in out[1:5])


def test_redact_value_walks_structures():
    config = {
        "host": "db.ngo.org",
        "password": "hunter2",
        "credentials": {"auth_type": "OAuth", "client_secret": "abc123", "refresh_token": "zzz"},
        "tunnel_method": {"tunnel_method": "SSH_PASSWORD_AUTH", "tunnel_user_password": "pw"},
        "streams": ["users", "postgresql://u:pw2@h/db"],
        "primary_key": [["id"]],
        "port": 5432,
        "api_key": None,
    }
    out = redact_value(config)
    flat = repr(out)
    for secret in ("hunter2", "abc123", "zzz", "pw2", "'pw'"):
        assert secret not in flat
    assert out["host"] == "db.ngo.org" and out["port"] == 5432 and out["primary_key"] == [["id"]]
    assert out["tunnel_method"]["tunnel_method"] == "SSH_PASSWORD_AUTH"
    assert out["api_key"] is None


@pytest.mark.parametrize("key,kind", [
    ("password", "password"), ("DB_PASSWORD", "password"), ("clientSecret", "secret"), ("api_key", "api_key"),
    ("AIRBYTE_API_TOKEN", "token"), ("refresh_token", "token"), ("credentials_json", "credentials"),
    ("private_key", "private_key"), ("primary_key", None), ("sort_key", None), ("next_page_token", None),
    ("private_key_id", None), ("tokens", None), ("host", None), ("PASS", None),
])
def test_secret_kind_of_key(key, kind):
    assert secret_kind_of_key(key) == kind


def test_passed_through_shapes_are_in_the_corpus(passed_through):
    # every shape of issue 10 item 1: URL password with / or @, split URL, Bearer on the next line, mysql -p,
    # YAML pass:/password:, bare AWS secret key, base64 credentials, exception reprs
    assert len(passed_through) >= 29


def test_url_password_with_slash_or_at_is_redacted_and_the_host_kept():
    assert redact_text("postgresql://dalgo:Ab/cd@ef12@db.ngo.org:5432/crm") == (
        "postgresql://dalgo:[REDACTED:password]@db.ngo.org:5432/crm")
    # a port and a path that holds "@" is not a password
    assert redact_text("GET https://registry.npmjs.org:443/@babel/core") == "GET https://registry.npmjs.org:443/@babel/core"


def test_url_split_over_two_lines_is_redacted_on_both():
    lines = ["ERROR connecting to postgresql://dalgo:SplitPw", "99x@db.ngo.org:5432/crm", "next line"]
    assert list(redact_lines(lines)) == ["ERROR connecting to postgresql://dalgo:[REDACTED:password]",
                                         "[REDACTED:password]@db.ngo.org:5432/crm", "next line"]
    assert list(redact_lines(["url mysql://root:", "Pw98secret@db/kobo"]))[1] == "[REDACTED:password]@db/kobo"
    # a host and port that end a line are not a password
    assert list(redact_lines(["see http://localhost:8080", "user@example.org wrote"])) == [
        "see http://localhost:8080", "user@example.org wrote"]


def test_bearer_token_on_the_next_line_is_redacted():
    out = list(redact_lines(["Authorization: Bearer", "  abcdefGHIJ1234567890tokenXYZ", "Accept: */*"]))
    assert out == ["Authorization: Bearer", "  [REDACTED:bearer_token]", "Accept: */*"]


def test_mysql_glued_password_but_not_ports_or_prompts():
    assert redact_text("mysql -h db -u root -pMyS3cretPw crm") == "mysql -h db -u root -p[REDACTED:password] crm"
    for line in ("mysql -h db -u root -p crm", "mysql -P3306 -h db", "psql -p 5432 && mkdir -p /tmp/x",
                 "mysql -uroot -p$MYSQL_PWD crm"):
        assert redact_text(line) == line


def test_dbt_profile_pass_and_password_fields():
    profile = ["    prod:", "      pass: hunter2pw", "      password: two words, and a comma", "      threads: 4"]
    assert list(redact_lines(profile)) == ["    prod:", "      pass: [REDACTED:password]",
                                           "      password: [REDACTED:password]", "      threads: 4"]
    assert list(redact_lines(["      pass:", "        hunter3pw"]))[1] == "        [REDACTED:password]"
    assert redact_text("Done. PASS=7 WARN=0 ERROR=1") == "Done. PASS=7 WARN=0 ERROR=1"


def test_bare_aws_secret_key_needs_aws_context():
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert redact_text(f"AKIAIOSFODNN7EXAMPLE {secret}") == "[REDACTED:aws_access_key] [REDACTED:aws_secret_key]"
    assert redact_text(f"aws credentials: {secret}") == "aws credentials: [REDACTED:aws_secret_key]"
    assert list(redact_lines(["key id AKIAIOSFODNN7EXAMPLE", secret]))[1] == "[REDACTED:aws_secret_key]"
    # no context: a 40-character string may be an id; git hashes (one case) never qualify
    assert redact_text(f"checkpoint {secret}") == f"checkpoint {secret}"
    sha = "3f786850e387550fdab836ed7e6dc881de23001b"
    assert redact_text(f"aws-sdk commit {sha}") == f"aws-sdk commit {sha}"


def test_base64_blobs_are_redacted_only_when_they_decode_to_credentials():
    account = base64.b64encode(json.dumps({"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\n"
                                           "MIIEvQ\n-----END PRIVATE KEY-----\n"}).encode()).decode()
    assert redact_text(f"GOOGLE_CREDENTIALS_B64={account}") == "GOOGLE_CREDENTIALS_B64=[REDACTED:credentials]"
    state = base64.b64encode(json.dumps({"stream": "users", "cursor": "2024-05-01T12:00:00Z"}).encode()).decode()
    assert redact_text(f"state: {state}") == f"state: {state}"


def test_wrapped_base64_credentials_are_redacted_line_by_line():
    account = json.dumps({"type": "service_account", "project_id": "ngo", "private_key": "k" * 300})
    blob = base64.b64encode(account.encode()).decode()
    wrapped = [blob[index:index + 76] for index in range(0, len(blob), 76)]
    out = list(redact_lines(["creds:", *wrapped, "uploaded"]))
    assert out[0] == "creds:" and out[-1] == "uploaded"
    assert all(line == "[REDACTED:credentials]" for line in out[1:-1])


@pytest.mark.parametrize("text", [
    repr(RuntimeError("connection failed: host=db user=dalgo password=ab'cd9x dbname=crm")),
    repr(ValueError({"host": "db", "password": "ab'cd9x"})),
    repr(KeyError({"password": b"ab'cd9x"})),
    repr(RuntimeError("PasswordAuth(username='dalgo', password=SecretStr('ab9cd9x'))")),
    repr(ValueError({"credentials": {"auth_type": "Client", "tenant_code": "ab9cd9x", "port": None}, "host": "db"})),
])
def test_secrets_inside_exception_reprs(text):
    redacted = redact_text(text)
    assert "cd9x" not in redacted and "[REDACTED:" in redacted


def test_a_text_cut_inside_a_url_password_is_still_redacted():
    # text cut to a column size or a model answer's limit before it reaches the redactor
    text = "run failed: postgresql://dalgo:TruncPw404@db.ngo.org:5432/crm"
    for cut in range(text.index("TruncPw404") + 1, text.index("@") + 1):
        assert redact_text(text[:cut]) == "run failed: postgresql://dalgo:[REDACTED:password]" + text[text.index("@"):cut]
