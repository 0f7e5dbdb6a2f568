"""The real model server's build: portable flags (no -march=native), a marker that rebuilds a venv built with
other flags, and a one-token check that says when a build cannot run here."""

import sys
from pathlib import Path

import pytest

from harness import llm_server
from harness.llm_server import BUILD_CMAKE_ARGS, LlmServerUnavailable, check_inference, ensure_llama_venv, venv_marker


def fake_build(steps: list) -> object:
    """run_build_step recording each command instead of running it (`-m venv DIR` makes DIR)."""
    def run(command, log, **kwargs):
        steps.append((command, kwargs))
        if command[1:3] == ["-m", "venv"]:
            Path(command[3]).mkdir(parents=True, exist_ok=True)
    return run


def test_the_build_compiles_portable_avx2_without_the_pip_cache(tmp_path, monkeypatch):
    """A -march=native build on an AMX CPU faulted at the first token in a VM: the flags are explicit."""
    monkeypatch.setenv("LLAMA_VENV_DIR", str(tmp_path / "llama-venv"))
    steps = []
    monkeypatch.setattr(llm_server, "run_build_step", fake_build(steps))

    ensure_llama_venv()

    install = next((command, kwargs) for command, kwargs in steps if "install" in command)
    assert "--no-cache-dir" in install[0]
    assert install[1]["env"]["CMAKE_ARGS"] == BUILD_CMAKE_ARGS and "-DGGML_NATIVE=OFF" in BUILD_CMAKE_ARGS
    assert venv_marker(tmp_path / "llama-venv").exists()


def test_a_venv_built_before_with_other_flags_is_built_again(tmp_path, monkeypatch):
    directory = tmp_path / "llama-venv"
    directory.mkdir()
    (directory / f".complete-llama-cpp-python-{llm_server.LLAMA_CPP_VERSION}").write_text("native build\n")
    monkeypatch.setenv("LLAMA_VENV_DIR", str(directory))
    steps = []
    monkeypatch.setattr(llm_server, "run_build_step", fake_build(steps))

    ensure_llama_venv()

    assert any("install" in command for command, _ in steps)


def test_a_build_that_cannot_make_one_token_is_refused_with_the_reason(tmp_path):
    """Our own interpreter has no llama_cpp: the check fails as a broken build would, and says why."""
    with pytest.raises(LlmServerUnavailable) as refused:
        check_inference(Path(sys.executable), tmp_path / "model.gguf")
    assert "cannot run model.gguf on this machine" in str(refused.value)
    assert "llama_cpp" in str(refused.value)
