"""The one harness of tests, benches (`python -m bench.<name>`) and scripts/demo.py: every process they start
(harness/processes.py, harness/app.py), every wait and HTTP probe (harness/processes.py).

End to end, it builds (once, cached) a virtualenv holding the full `prefect` package, starts a real Prefect
server, our app (gunicorn) and a real qcluster against a PostgreSQL database, serves Dalgo-shaped flows, and
stops everything it started. The full `prefect` package never enters the project's own virtualenv: it ships the
same `prefect` module as `prefect-client` and the two overwrite each other.
"""

from pathlib import Path

# The repository: the working directory of every process the harness starts.
REPO_ROOT = Path(__file__).resolve().parent.parent
