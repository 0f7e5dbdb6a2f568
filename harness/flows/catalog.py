"""What the flows and their callers share, importable without prefect: deployment names, the outcomes a
pipeline step can be told to have, and the fake secrets the flows log (which must never leave redacted).
"""

# "<flow name>/<deployment name>", as Prefect names deployments.
PIPELINE_DEPLOYMENT = "dalgo-pipeline/harness"
NESTED_PIPELINE_DEPLOYMENT = "dalgo-nested-pipeline/harness"
TIMEOUT_PIPELINE_DEPLOYMENT = "dalgo-pipeline-with-timeout/harness"
ALL_DEPLOYMENTS = (PIPELINE_DEPLOYMENT, NESTED_PIPELINE_DEPLOYMENT, TIMEOUT_PIPELINE_DEPLOYMENT)

# The flow with a timeout gives up after this many seconds; its steps told to "hang" outlast it.
PIPELINE_TIMEOUT_SECONDS = 4
# How many subflow levels the nested pipeline wraps around its steps.
NESTED_DEPTH = 3

# A config task's optional "harness_outcome" (the real Dalgo config has no such key; the flows read it to
# decide how a dbt or shell step ends). Airbyte steps end as the Airbyte stand-in's job for them says.
STEP_SUCCEEDS = "succeed"
STEP_FAILS = "fail"
STEP_GETS_SIGTERM = "sigterm"
STEP_HANGS = "hang"
# A `dbt test` step whose tests fail: Dalgo's flow then ends the step, and the run, in its own COMPLETED-type
# state DBT_TEST_FAILED (the pipeline goes on after failed tests).
STEP_TESTS_FAIL = "tests-fail"
DBT_TEST_FAILED = "DBT_TEST_FAILED"
FAILING_DBT_TEST = "not_null_stg_households_household_id"

# Logged by every pipeline, in the forms our redaction must catch.
FAKE_PASSWORD = "Tr0ub4dor-and-3"
FAKE_DATABASE_URL = "postgresql://warehouse_user:Wh-S3cret-pw@warehouse.ngo.internal:5432/ngo_dw"
FAKE_API_KEY = "sk-proj-HarnessFakeKey0123456789abcdefABCDEF"
FAKE_SECRET_VALUES = ("Tr0ub4dor-and-3", "Wh-S3cret-pw", "sk-proj-HarnessFakeKey0123456789abcdefABCDEF")
FAKE_SECRET_LOG_LINES = (
    f"Connecting to the warehouse with user=warehouse_user password={FAKE_PASSWORD}",
    f"Using profile target {FAKE_DATABASE_URL}",
    f"OPENAI_API_KEY={FAKE_API_KEY} loaded for the docs generator",
)

# The dbt error a failing dbt step logs (its model is the task's optional "harness_model"); tests look for it
# in the stored evidence. Different models make different fingerprints, so one summary is not reused for another.
DBT_ERROR_MODEL = "stg_households"
DBT_ERROR_DETAIL = 'column "hh_size" does not exist'


def dbt_error_line(model: str = DBT_ERROR_MODEL) -> str:
    """dbt's own error line for a model that failed to build."""
    return f"Database Error in model {model} (models/staging/{model}.sql)"


def dbt_test_failure_lines(test: str = FAILING_DBT_TEST) -> list[str]:
    """What `dbt test` prints when one of its tests fails."""
    return [
        f"3 of 4 START test {test} ........................................ [RUN]",
        f"3 of 4 FAIL 7 {test} ............................................ [FAIL 7 in 0.06s]",
        f"Failure in test {test} (models/staging/schema.yml)",
        "  Got 7 results, configured to fail if != 0",
        "Done. PASS=3 WARN=0 ERROR=1 SKIP=0 TOTAL=4",
    ]
