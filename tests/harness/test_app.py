"""The app processes' environment: the caller's explicit settings reach them, inherited ones do not."""

from harness.app import AppConfig, app_env


def test_explicit_q_and_llm_settings_reach_the_app_while_inherited_q_settings_are_dropped(monkeypatch):
    monkeypatch.setenv("Q_WORKERS", "9")
    config = AppConfig(database_url="postgresql://x/y", prefect_api_url="http://p/api", webhook_key="k",
                       airbyte_port=1, settings={"Q_TIMEOUT_SECONDS": "400", "LLM_TIMEOUT_SECONDS": "300"})
    env = app_env(config, "/tmp/prefect-home")
    assert env["Q_TIMEOUT_SECONDS"] == "400" and env["LLM_TIMEOUT_SECONDS"] == "300"
    assert "Q_WORKERS" not in env
