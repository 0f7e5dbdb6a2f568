"""What keeping internals out of an answer costs a read: Dalgo's result pairs and the traceback/path scrub.

Run from the repository root: ``python -m bench.public_answer`` (a few seconds, no database: the rows are
built in memory). Prints, per row shape, the microseconds per call of the progress poll's answer
(`progress_of`: the two pairs) and of the read API's answer (`summary_out`: every text field scrubbed), as the
median of 7 rounds of 2,000 calls.
"""

import os
import statistics
import time
import uuid

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ddpui.settings")

import django  # noqa: E402

django.setup()

from django.utils import timezone  # noqa: E402

from ddpui.api.dalgo_api import progress_of  # noqa: E402
from ddpui.api.schemas import summary_out  # noqa: E402
from ddpui.models import LlmSession, SummaryStatus  # noqa: E402

ROUNDS, CALLS = 7, 2000
TRACEBACK = ["Traceback (most recent call last):"] + [
    f'  File "/home/ddp/prefect/flows/step_{n}.py", line {n * 7}, in run_{n}\n    result = call_{n}(config)'
    for n in range(1, 30)
] + ["RuntimeError: dbt run failed with exit code 1"]


def row(evidence_lines: int, traceback_frames: int) -> LlmSession:
    """A ready summary with `evidence_lines` evidence lines and a state message quoting a traceback."""
    now = timezone.now()
    return LlmSession(
        public_id=uuid.uuid4(), flow_run_id=str(uuid.uuid4()), step_key="task:x", status=SummaryStatus.READY,
        title="dbt run failed: a column is missing in stg_households",
        summary="The transformation stopped because the model stg_households reads a column that no longer "
                "exists in the source table. Nothing after it ran.",
        root_cause='column "hh_size" does not exist in /home/ddp/clientdbts/ngo/dbtrepo/models/staging',
        fix_steps=["Open the model stg_households.", "2. Rename hh_size to the new column name.",
                   "Run the pipeline again."],
        evidence=[{"line": 100 + n, "text": f"Database Error in model stg_{n} (models/staging/stg_{n}.sql)"}
                  for n in range(evidence_lines)],
        failed_step={"kind": "dbt", "label": "dbtjob-dbt-run", "path": ["stage-1"], "task_slug": "dbt-run",
                     "state_message": "\n".join(TRACEBACK[: traceback_frames + 1] + TRACEBACK[-1:])},
        last_error="", created_at=now, updated_at=now, ready_at=now,
    )


def microseconds_per_call(function, value) -> float:
    """Median over ROUNDS of the mean time of CALLS calls."""
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(CALLS):
            function(value)
        rounds.append((time.perf_counter() - started) / CALLS * 1e6)
    return statistics.median(rounds)


def main() -> None:
    """Measure both answers for a typical and a large row; print a table."""
    shapes = [("typical: 8 evidence lines, 5-frame traceback", row(8, 5)),
              ("large: 50 evidence lines, 29-frame traceback", row(50, 29))]
    print(f"{'row':<48} {'progress_of (us)':>17} {'summary_out (us)':>17}")
    for name, session in shapes:
        print(f"{name:<48} {microseconds_per_call(progress_of, session):>17.1f} "
              f"{microseconds_per_call(summary_out, session):>17.1f}")


if __name__ == "__main__":
    main()
