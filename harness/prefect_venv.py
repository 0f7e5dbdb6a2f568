"""The cached virtualenvs that hold the full `prefect` package (server, CLI and flow runner), one per version.

PREFECT_SERVER_VERSION chooses the version (default PREFECT_VERSION, the newest 3.x we test; Dalgo's own
prefect-proxy runs 3.6.29). Each version is built on demand in its own directory `<base>-<version>`, where the
base is PREFECT_VENV_DIR or `.cache/prefect-venv`, so switching versions never rebuilds. A lock file stops two
runs from building the same one at once; a marker file, written last, says the build finished, so a half-built
venv is never used.
"""

import fcntl
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from harness import REPO_ROOT
from harness.processes import HarnessError, wait_until

# The newest Prefect 3 release; the default server (and flow runner) of the e2e tests and the demo.
PREFECT_VERSION = "3.9.1"
# Packages an older server needs pinned beside it: prefect 3.6.x does not pin FastAPI's upper bound, and with
# FastAPI 0.165 its server fails at import on `Body(min_items=...)`; 0.128.8 works.
EXTRA_PINS = {"3.6.29": ["fastapi==0.128.8"]}
DEFAULT_VENV_DIR = REPO_ROOT / ".cache" / "prefect-venv"
# pip resolving and downloading ~270 MB takes 1-2 minutes here; a stalled index should not hang CI for long.
BUILD_TIMEOUT_SECONDS = 600
LOCK_TIMEOUT_SECONDS = BUILD_TIMEOUT_SECONDS + 60


class BuildUnavailable(RuntimeError):
    """Something cached (a virtualenv, a model) could not be built or fetched (typically: no network to PyPI)."""


class PrefectVenvUnavailable(BuildUnavailable):
    """The prefect virtualenv could not be built (typically: no network to PyPI)."""


def server_version() -> str:
    """The Prefect version to run: PREFECT_SERVER_VERSION, else PREFECT_VERSION."""
    return os.environ.get("PREFECT_SERVER_VERSION", "").strip() or PREFECT_VERSION


def venv_dir(version: str) -> Path:
    """Where that version's venv lives: `<base>-<version>`, the base being PREFECT_VENV_DIR or
    .cache/prefect-venv in the repository."""
    base = Path(os.environ.get("PREFECT_VENV_DIR") or DEFAULT_VENV_DIR)
    return base.parent / f"{base.name}-{version}"


def marker_path(directory: Path, version: str) -> Path:
    """The file whose presence means the build of that version completed."""
    return directory / f".complete-prefect-{version}"


def python_path(directory: Path) -> Path:
    """The venv's interpreter."""
    return directory / "bin" / "python"


@contextmanager
def build_lock(
    directory: Path, *, timeout: float = LOCK_TIMEOUT_SECONDS, error: type[BuildUnavailable] = PrefectVenvUnavailable
):
    """Hold an exclusive lock beside `directory` for the duration of a build (bounded wait, then `error`)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    lock_file = directory.parent / f"{directory.name}.lock"
    with open(lock_file, "w") as handle:

        def locked() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        try:
            wait_until(locked, timeout=timeout, what=f"the build lock {lock_file}", interval=1)
        except HarnessError:
            raise error(f"another build held {lock_file} for too long") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_build_step(
    command: list[str], log, *, timeout: float = BUILD_TIMEOUT_SECONDS,
    error: type[BuildUnavailable] = PrefectVenvUnavailable, env: dict[str, str] | None = None,
) -> None:
    """Run one build command (in `env`, else ours), its output appended to the build log; a failure (`error`)
    says where to look."""
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    try:
        subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=timeout, env=env)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        raise error(f"{' '.join(command[:4])} ... failed ({exc}); see {log.name}") from exc


def ensure_prefect_venv(progress=None, version: str | None = None) -> Path:
    """The interpreter of a venv with prefect==`version` (default: server_version()), building it first if needed.

    `progress(message)` is told when a build starts. Raises PrefectVenvUnavailable when it cannot be built.
    """
    version = version or server_version()
    directory = venv_dir(version)
    if marker_path(directory, version).exists():
        return python_path(directory)
    with build_lock(directory):
        # Another run may have finished the build while we waited for the lock.
        if marker_path(directory, version).exists():
            return python_path(directory)
        if progress:
            progress(f"building the prefect {version} virtualenv in {directory} (once; 1-2 minutes)")
        shutil.rmtree(directory, ignore_errors=True)
        build_log_path = directory.parent / f"{directory.name}-build.log"
        requirements = [f"prefect=={version}", *EXTRA_PINS.get(version, [])]
        with open(build_log_path, "w") as log:
            run_build_step([sys.executable, "-m", "venv", str(directory)], log)
            run_build_step([str(python_path(directory)), "-m", "pip", "install", "--quiet", *requirements], log)
            run_build_step([str(python_path(directory)), "-c", "import prefect.server.api.server, prefect.flows"], log)
        marker_path(directory, version).write_text("\n".join(requirements) + "\n")
        return python_path(directory)


if __name__ == "__main__":
    print(ensure_prefect_venv(progress=print))
