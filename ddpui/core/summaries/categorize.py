"""Offline failure categorizer, used by the offline summarizer when no LLM is configured.

Priority-ordered keyword/regex rules are tried on the selected root-cause lines first (all of them
together, so a dbt "Database Error" line and the database message under it are judged as one), then on
the rest of the excerpt. The first rule that matches decides the category, whether a retry is likely to
help, a plain-language title and generic fix steps written for a non-engineer. The order matters: a
specific cause ("column does not exist") must win over the generic wrapper it is reported in
("Database Error"), and a timeout over the network error that wraps it.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

CATEGORIES = (
    "auth", "config", "schema", "data_quality_test", "sql_error", "dependency", "resource_limit", "timeout",
    "network", "code_bug", "infrastructure", "other",
)

STEP_NOUNS = {
    "dbt": "The dbt transformation",
    "airbyte": "The data sync",
    "task": "A pipeline task",
    "flow": "The pipeline",
    "shell": "A pipeline command",
}


@dataclass
class Category:
    """The offline verdict on a failure: category, whether a retry likely helps, a title and fix steps."""

    category: str
    is_transient: bool
    title: str
    fix_steps: list[str]
    # A rule matched the root-cause lines themselves (not only the rest of the excerpt): a model that
    # disagrees is more likely wrong than the rule.
    clear: bool = False


@dataclass(frozen=True)
class _Rule:
    """One categorization rule: if ``pattern`` matches, the failure is ``category``."""

    category: str
    pattern: re.Pattern
    is_transient: bool
    title: str  # completes "<step noun> failed because ..." / stands alone after the step noun
    fix_steps: tuple[str, ...]


def _rule(category: str, pattern: str, is_transient: bool, title: str, *fix_steps: str) -> _Rule:
    """A rule with a case-insensitive pattern."""
    return _Rule(category, re.compile(pattern, re.I), is_transient, title, tuple(fix_steps))


_RETRY_LATER = "Run it again later; if it keeps failing, contact your Dalgo support team with this summary."

_RULES: tuple[_Rule, ...] = (
    _rule("data_quality_test",
          r"failure in test|got \d+ results?, configured to (?:fail|warn)|\bFAIL \d+\b|data tests? failed"
          r"|expectation (?:failed|not met)|test .{0,80} failed",
          False, "a data quality test found rows that break one of its rules",
          "Open the failing test's name in the log to see which table and column it checks.",
          "Look at the rows it reports: either the data is wrong at the source, or the test's rule (for "
          "example the list of allowed values) needs updating.",
          "Fix the data or the test, then run the transformation again."),
    _rule("resource_limit",
          r"outofmemory|out of memory|memoryerror|java heap space|oomkilled|exit code 137|\bkilled\b.{0,40}memory"
          r"|no space left on device|disk (?:is )?full|quota exceeded|resources? exhausted|too many open files",
          False, "it ran out of memory or another machine resource",
          "Try the run again with less data at once (fewer streams or a shorter date range).",
          "Ask your Dalgo support team to give this job more memory or disk space.",
          "If it started after the data grew, mention how much it grew when you ask for help."),
    _rule("resource_limit",
          r"\b429\b|too many requests|rate.?limit|throttl",
          True, "the data source limited how many requests we may make",
          "Wait a while and run it again; limits usually reset within an hour.",
          "If it happens every run, sync less often or fewer streams at the same time.",
          "Check whether your plan with the data provider allows more requests."),
    _rule("auth",
          r"\b40[13]\b|unauthori[sz]ed|forbidden|permission denied|access denied|not authori[sz]ed"
          r"|authentication failed|invalid (?:credentials|api key|token|password|client)|invalid_grant"
          r"|token (?:has )?expired|expired token|insufficient (?:privileges?|scopes?|permissions?)"
          r"|(?:missing|insufficient|required|correct) (?:oauth )?scopes?\b"
          r"|must be owner of|login failed|password authentication",
          False, "the account or key it uses was refused or lacks permission",
          "Check that the password, API key or token saved in the connection is still valid (keys expire "
          "or get revoked).",
          "Make sure that account has permission to read (or write) what this step uses.",
          "Update the credentials or permissions, then run it again."),
    _rule("timeout",
          r"timeout|timed out|deadline exceeded|cancell?ederror|statement timeout|read timed|took too long",
          True, "an operation took longer than it is allowed to",
          "Run it again: slow responses are often temporary.",
          "If it keeps happening, ask your Dalgo support team to raise the time limit or to split the "
          "work into smaller pieces.",
          "Check whether the source or warehouse was unusually slow or busy at that time."),
    _rule("network",
          r"\b50[234]\b|bad gateway|service unavailable|gateway time|connection (?:refused|reset|aborted|closed)"
          r"|connectionerror|could not connect|failed to connect|name or service not known|name resolution"
          r"|getaddrinfo|network is unreachable|no route to host|ssl(?:error)?\b|eof occurred|remote end closed"
          r"|broken pipe|max retr|retries exceeded",
          True, "it could not reach a server, or the server answered with an error",
          "Run it again; these errors are often temporary.",
          "If it keeps failing, check the service's status page and that its address in the connection is "
          "right.",
          _RETRY_LATER),
    _rule("dependency",
          r"depends on a node|node named .{0,80} (?:was )?not found|ref\(|no module named|modulenotfounderror"
          r"|importerror|cannot import|package .{0,60} not (?:found|installed)|dbt deps|version conflict"
          r"|incompatible|requires? (?:version|package)|could not find (?:a )?(?:package|version)",
          False, "something it depends on (another model, package or module) is missing",
          "Check the name of the model or package the log says is missing; it may have been renamed "
          "or deleted.",
          "Restore it or update the reference to the new name.",
          "Run the transformation again once the reference is fixed."),
    _rule("config",
          r"(?:dataset|schema|database|project|bucket|warehouse|catalog)\s+[\"'`]?[\w.:-]+[\"'`]?\s+"
          r"(?:was\s+)?(?:not found|does not exist)|not found in location|unknown database"
          r"|no such (?:database|schema)",
          False, "it points at a dataset, schema or database that does not exist where it looks",
          "Check the dataset/schema/database name and the region (location) in the connection settings.",
          "Create the missing dataset or schema, or correct the name or region.",
          "Run it again after fixing the setting."),
    _rule("schema",
          r"column .{0,80}(?:does not exist|not found)|no such column|unrecognized name|invalid identifier"
          r"|undefinedcolumn|undefinedtable|relation .{0,80}does not exist|table .{0,80}(?:not found|does not exist)"
          r"|schema (?:mismatch|change|validation)|type mismatch|cannot cast|invalid input syntax for type"
          r"|datatype mismatch|value too long for type|column count|missing column",
          False, "the structure of a table is not what the step expects (a column or table is missing or "
                 "has another type)",
          "Check whether the source data recently changed (a column renamed, removed or retyped).",
          "Update the transformation to use the new column names or types, or refresh the source schema "
          "in the connection.",
          "Run it again after the update."),
    _rule("config",
          r"filenotfounderror|no such file or directory|could not (?:find|load|retrieve|read) .{0,40}"
          r"(?:profile|config|file|flow|deployment)|flow could not be retrieved|profile .{0,40}not found"
          r"|invalid (?:config|configuration|value for)|missing required|required .{0,40}not provided"
          r"|env var required|validationerror|keyerror|is not set|not configured",
          False, "a setting, file or path it needs is missing or wrong",
          "Check the step's settings (paths, names, environment values) against what the log says is "
          "missing.",
          "Correct the setting or provide the missing file, then run it again.",
          "If you did not change anything, ask your Dalgo support team whether the deployment changed."),
    _rule("sql_error",
          r"syntax error|database error|sql compilation error|programmingerror|compilation error"
          r"|division by zero|ambiguous|parsererror|invalid sql|function .{0,60}does not exist"
          r"|operator does not exist|duplicate key|violates .{0,40}constraint",
          False, "a SQL query failed in the warehouse",
          "Open the model named in the log and look at the line the error points to.",
          "Fix the query (or the data that breaks it) and run the transformation again.",
          "If the query did not change recently, check whether the data it reads did."),
    _rule("code_bug",
          r"typeerror|attributeerror|nameerror|indexerror|valueerror|zerodivisionerror|assertionerror"
          r"|notimplementederror|unboundlocalerror|recursionerror|nullpointerexception|classcastexception"
          r"|illegalargumentexception|illegalstateexception|traceback",
          False, "the program hit an internal error (a bug, or data it does not handle)",
          "Run it again once to rule out a one-off problem.",
          "If it fails the same way, send this summary to your Dalgo support team: the fix is in the code "
          "or in the data it could not handle.",
          "Note what changed recently (new data, new settings) to help them."),
    _rule("infrastructure",
          r"docker|container .{0,40}(?:exited|crashed|failed)|\bpod\b|kubernetes|imagepullbackoff|errimagepull"
          r"|crashed|worker (?:died|lost|crashed)|heartbeat|exit code [1-9]|infrastructure|temporal",
          True, "the machine or container running it failed",
          "Run it again: these failures are usually temporary.",
          _RETRY_LATER),
)

_OTHER = _rule("other", r"$^", False, "of an error that could not be classified automatically",
               "Read the highlighted log lines for the error message.",
               "Run it again once; if it fails the same way, share this summary with your Dalgo support team.")


def _first_match(text: str) -> _Rule | None:
    """The highest-priority rule matching ``text``."""
    for rule in _RULES:
        if rule.pattern.search(text):
            return rule
    return None


def categorize(key_lines: Sequence[str], other_text: str = "", step_kind: str = "") -> Category:
    """Categorize a failure from its ranked root-cause lines (then the rest of the excerpt)."""
    rule = _first_match("\n".join(key_lines)) if key_lines else None
    clear = rule is not None
    if rule is None and other_text:
        rule = _first_match(other_text)
    rule = rule or _OTHER
    noun = STEP_NOUNS.get(step_kind, "The pipeline step")
    return Category(
        category=rule.category,
        is_transient=rule.is_transient,
        title=f"{noun} failed because {rule.title}",
        fix_steps=list(rule.fix_steps),
        clear=clear,
    )
