"""Summary quality with a real local model, beside the offline summarizer, on the 10 shared failure logs.

    python -m bench.llm_quality [--model 1.5b|0.5b] [--base-url URL --model-name NAME] [--logs N] [--tokens]

Starts llama-cpp-python's OpenAI-compatible server with the model (harness/llm_server.py: built and fetched once,
cached) unless --base-url names a running one, then for each log of tests/fixtures/shared_logs (labels.json)
does what the pipeline does: condense to the excerpt budget (SUMMARY_TOKEN_BUDGET less the fixed prompt),
summarize with the default settings (json_schema asked first, fallbacks, grounding) and, for comparison,
summarize offline. Prints one table row per log:

- latency and tokens in/out as the server counted them (tokens in: the whole request, to compare with the budget);
- the response format the server honoured (json_schema, json_object or none), or the error that made it fall back;
- grounded: the model's quotes were all found in the excerpt and included a top root-cause line;
- evidence: how many of the labelled root-cause lines the stored evidence holds, model and offline;
- category: right or wrong against the label, model (with the model's own answer when the rules' clear
  category replaced it) and offline.

`--tokens` also prints, per log, the excerpt's token estimate beside the model tokenizer's real count
(llama-cpp-python's /extras/tokenize/count). `--token-fixture` only counts (no summaries) and prints the JSON
kept in tests/fixtures/qwen_token_counts.json: each shared log's real token count, raw and numbered as an
excerpt numbers lines. A 1.5B model takes about 1-2 minutes per log on 2 CPU cores.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import httpx
from django.conf import settings
from django.utils import timezone  # noqa: E402

import bench.bench_django  # noqa: F401  (first of ours: Django set up on the bench database)
from bench.condense import table  # noqa: E402
from bench.processes import bench_env, fresh_database, run_directory  # noqa: E402
from ddpui.core.auth.orgs import create_org_with_admin  # noqa: E402
from ddpui.core.summaries.condense import condense  # noqa: E402
from ddpui.core.summaries.prompt import build_messages, prompt_overhead_tokens  # noqa: E402
from ddpui.core.summaries.summarize import offline_summary, summarize_logs  # noqa: E402
from ddpui.core.summaries.token_estimate import estimate_tokens  # noqa: E402
from ddpui.models import Org, OrgPreferences  # noqa: E402
from harness.llm_server import MODELS, start_llm_server  # noqa: E402
from harness.processes import ProcessStack  # noqa: E402
from tests.fixtures.labelled_logs import load_labels  # noqa: E402

STEP_KINDS = {"airbyte": "airbyte", "dbt": "dbt", "prefect": "prefect_task"}
# A CPU model call with a ~3,000-token prompt; the bench waits rather than falls back.
BENCH_LLM_TIMEOUT_SECONDS = 900


def failed_step(label: dict) -> dict:
    """The failed step the pipeline would describe for a shared log."""
    return {"kind": STEP_KINDS.get(label["system"], "flow"), "label": label["file"].rsplit(".", 1)[0],
            "flow_run_id": "bench"}


def evidence_hits(label: dict, evidence: list[dict]) -> str:
    """How many labelled root-cause lines the stored evidence holds, as k/n."""
    text = "\n".join(str(item.get("text", "")) for item in evidence)
    return f"{sum(needle in text for needle in label['root_cause_lines'])}/{len(label['root_cause_lines'])}"


def real_token_count(base_url: str, model: str, text: str) -> int:
    """The model tokenizer's count of `text` (llama-cpp-python's extras endpoint beside /v1)."""
    root = base_url.removesuffix("/v1")
    response = httpx.post(f"{root}/extras/tokenize/count", json={"input": text, "model": model}, timeout=120)
    response.raise_for_status()
    return int(response.json()["count"])


def numbered_text(lines: list[str]) -> str:
    """A log's lines numbered the way an excerpt numbers them ("  12 | text")."""
    width = len(str(len(lines)))
    return "\n".join(f"{number:>{width}} | {text}" for number, text in enumerate(lines, start=1))


def token_fixture(base_url: str, model: str) -> list[dict]:
    """Each shared log's real token count under the model's tokenizer, raw and numbered."""
    return [
        {"file": label["file"], "system": label["system"],
         "raw_tokens": real_token_count(base_url, model, "\n".join(label["lines"])),
         "numbered_tokens": real_token_count(base_url, model, numbered_text(label["lines"]))}
        for label in load_labels()
    ]


def opted_in_org() -> Org:
    """The bench org on a freshly migrated bench database, opted in to LLM summaries as its admin would."""
    run_dir = run_directory("llm-quality")
    fresh_database(bench_env(run_dir), run_dir)
    org, _, _ = create_org_with_admin(name="Bench NGO", email="admin@bench.example")
    OrgPreferences.objects.filter(org=org).update(llm_optin=True, llm_optin_date=timezone.now())
    return org


def run(base_url: str, model: str, count: int | None, with_tokens: bool, only: str = "") -> None:
    """Summarize each shared log with the model and offline; print the quality table (and the token table)."""
    settings.OPENAI_API_KEY = "sk-local-bench"
    settings.OPENAI_BASE_URL = base_url
    settings.LLM_MODEL = model
    settings.LLM_TIMEOUT_SECONDS = BENCH_LLM_TIMEOUT_SECONDS
    labels = [label for label in load_labels() if only in label["file"]][:count]
    org = opted_in_org()
    rows, token_rows = [], []
    totals = {"model_evidence": 0, "offline_evidence": 0, "model_category": 0, "offline_category": 0,
              "honoured": 0, "grounded": 0, "labelled": 0}
    for label in labels:
        step = failed_step(label)
        budget = settings.SUMMARY_TOKEN_BUDGET - prompt_overhead_tokens(step)
        excerpt = condense(label["lines"], budget_tokens=budget)
        offline = offline_summary(excerpt, step, "Failed")
        began = time.monotonic()
        result = summarize_logs(org=org, excerpt=excerpt, failed_step=step, state_name="Failed")
        seconds = time.monotonic() - began
        model_right = result.category == label["category"]
        offline_right = offline.category == label["category"]
        model_hits, offline_hits = evidence_hits(label, result.evidence), evidence_hits(label, offline.evidence)
        totals["model_evidence"] += int(model_hits.split("/")[0])
        totals["offline_evidence"] += int(offline_hits.split("/")[0])
        totals["labelled"] += len(label["root_cause_lines"])
        totals["model_category"] += model_right and result.provider != "offline"
        totals["offline_category"] += offline_right
        totals["honoured"] += result.provider != "offline"
        totals["grounded"] += bool(result.grounded)
        shown_category = result.category + (f" (model: {result.model_category})" if result.model_category else "")
        rows.append([
            label["file"][:38], f"{seconds:.0f}", f"{result.tokens_in or 0:,}/{result.tokens_out or 0:,}",
            result.response_format if result.provider != "offline" else f"fell back: {(result.llm_error or '')[:40]}",
            {True: "yes", False: "no", None: "-"}[result.grounded], model_hits, offline_hits,
            f"{'right' if model_right else 'WRONG'} {shown_category}",
            f"{'right' if offline_right else 'WRONG'} {offline.category}", label["category"],
        ])
        print(" | ".join(rows[-1]), flush=True)
        if with_tokens:
            user_text = build_messages(excerpt, step)[1]["content"]
            token_rows.append([label["file"][:38], label["system"], f"{estimate_tokens(excerpt.text):,}",
                               f"{real_token_count(base_url, model, excerpt.text):,}",
                               f"{estimate_tokens(user_text):,}", f"{real_token_count(base_url, model, user_text):,}"])
    print(f"\nModel {model} via {base_url}; SUMMARY_TOKEN_BUDGET {settings.SUMMARY_TOKEN_BUDGET}, "
          f"LLM_MAX_OUTPUT_TOKENS {settings.LLM_MAX_OUTPUT_TOKENS}\n")
    print(table(["log", "latency s", "tokens in/out", "format honoured", "grounded", "evidence model",
                 "evidence offline", "category model", "category offline", "label"], rows, text_columns=10))
    print(f"\nmodel summaries stored: {totals['honoured']}/{len(labels)}; grounded: {totals['grounded']}; "
          f"labelled root-cause lines in the evidence: model {totals['model_evidence']}/{totals['labelled']}, "
          f"offline {totals['offline_evidence']}/{totals['labelled']}; categories right: model "
          f"{totals['model_category']}/{len(labels)}, offline {totals['offline_category']}/{len(labels)}")
    if token_rows:
        print("\nToken estimate against the model's tokenizer\n")
        print(table(["log", "system", "excerpt est.", "excerpt real", "user msg est.", "user msg real"], token_rows,
                    text_columns=2))


def main() -> None:
    """Start (or use) a model server and run the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=list(MODELS), default="1.5b")
    parser.add_argument("--base-url", help="a running OpenAI-compatible server (its /v1 URL)")
    parser.add_argument("--model-name", default="", help="the model name to ask a running server for")
    parser.add_argument("--logs", type=int, default=None, help="only the first N shared logs")
    parser.add_argument("--only", default="", help="only the shared logs whose file name contains this")
    parser.add_argument("--tokens", action="store_true", help="also compare the token estimate with real counts")
    parser.add_argument("--token-fixture", action="store_true", help="only print the real token counts as JSON")
    args = parser.parse_args()
    stack = ProcessStack(Path(tempfile.mkdtemp(prefix="bench-llm-")))
    try:
        if args.base_url:
            base_url, model = args.base_url, args.model_name or MODELS[args.model].name
        else:
            server = start_llm_server(stack, args.model, progress=print)
            base_url, model = server.base_url, server.model
        if args.token_fixture:
            print(json.dumps(token_fixture(base_url, model), indent=1))
        else:
            run(base_url, model, args.logs, args.tokens, args.only)
    finally:
        stack.stop_all()


if __name__ == "__main__":
    main()
