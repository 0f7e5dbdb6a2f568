"""Redaction: no secret of the corpus survives; ordinary log lines are left exactly as they were."""

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
        for before, after in zip(label["lines"], redact_lines(label["lines"])):
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
