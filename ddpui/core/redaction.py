"""Secret redaction for log text and structured evidence, before anything leaves the process or is stored.

Every secret is replaced by a typed marker such as ``[REDACTED:password]`` so a reader (or an LLM) still
knows that *something* was there. Rules, in the order they run on a line:

1. PEM private keys (one line with escaped newlines here; multi-line blocks are handled by the line state);
2. tokens recognisable by their shape: AWS access key ids, GitHub/GitLab/Slack/OpenAI/Stripe/Google/
   SendGrid/Hugging Face tokens, JWTs, Slack webhooks;
3. credentials inside URLs and connection strings (``scheme://user:pass@host``, ``https://token@host``);
4. HTTP auth headers (Bearer, Basic, ``Authorization:``/``X-Api-Key:`` values, cookies);
5. SQL ``IDENTIFIED BY``/``PASSWORD '...'``, XML elements and CLI flags named like secrets;
6. values of keys named like secrets, in JSON, Python reprs, YAML, env files, Java map dumps and query
   strings (``*password*``, ``*_secret``, ``*_token``, ``*_key`` except ordinary keys such as
   ``primary_key``, ``client_secret``, ``credentials_json``, ...).

Values that are clearly not secrets are left alone so logs stay readable: empty values, ``null``/``None``,
booleans, already-masked ``*****`` values and references such as ``${DB_PASSWORD}`` or
``{{ env_var('DBT_PASSWORD') }}``.

Speed matters (logs of a million lines): a line is only examined by a rule when its lower-cased text
contains one of the rule's cue substrings, and most log lines contain none of them.
"""

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Callable

REDACTED_PREFIX = "[REDACTED:"
DIGIT_BYTES = b"0123456789"
# One pass over the line's *shape* (lower-cased, UTF-8, digits deleted) decides whether any rule can apply.
# The cues hold no digits, so a cue present in a line is present in its shape: no secret is missed, and
# callers may cache the answer per shape (log lines that differ only in numbers share it).
_ANY_CUE = re.compile(
    rb"pass|pwd|secret|token|key|auth|bearer|basic|cred|sig|cookie|://|akia|asia|gh[pousr]_|github_pat|glpat"
    rb"|xox|sk[-_]|rk_|eyj|aiza|sg\.|ya\.|hf_|-----begin|identified|-us"
)


def line_shape(lowered: str) -> bytes:
    """A lower-cased line as UTF-8 without digits: the key under which cue answers can be cached."""
    return lowered.encode("utf-8", "replace").translate(None, DIGIT_BYTES)


def may_hold_secret(shape: bytes) -> bool:
    """Whether a line with this :func:`line_shape` can contain a secret at all (cheap, no false negatives)."""
    return _ANY_CUE.search(shape) is not None


def marker(kind: str) -> str:
    """The text that replaces a secret of the given kind, e.g. ``[REDACTED:password]``."""
    return f"{REDACTED_PREFIX}{kind}]"


# --- what a secret-looking key is ----------------------------------------------------------------------

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_KEY_SEPARATORS = re.compile(r"[\s.\-]+")
# "<word>_key" names that are ordinary data-modelling or routing keys, not credentials.
_ORDINARY_KEY_WORDS = frozenset(
    "primary unique foreign sort sorting partition partitioning cursor cluster clustering dist distribution "
    "shard sharding routing lookup join group grouping dedup deduplication natural surrogate business "
    "composite idempotency cache object s3 file hash public row record message map dict translation order "
    "index redis state stream merge match upsert parent child kms gcs blob bucket item entity dimension "
    "fact incremental unique_key metric label tag sequence sort_key kafka event".split()
)
# "<word>_token" names that are pagination or LLM accounting fields, not credentials.
_ORDINARY_TOKEN_WORDS = frozenset(
    "page next_page pagination continuation cursor sync max num total input output prompt completion bos "
    "eos pad unk stop start end sep cls mask".split()
)
_NOT_SECRET_SUFFIXES = ("_name", "_names", "_arn", "_path", "_file", "_ref", "_ttl", "_type", "_length", "_id",
                        "_ids", "_url", "_uri", "_expiry", "_expires_at", "_expires_in", "_version", "_hint")
# Words glued to "key"/"token" without a separator that still name a credential (apikey, accesstoken).
_GLUED_SECRET_WORDS = frozenset("api access secret master license app auth client private bearer refresh session id".split())
_CREDENTIAL_KEYS = ("credentials", "credential", "credentials_json", "keyfile", "keyfile_json",
                    "service_account_json", "service_account_info", "client_certificate")


def secret_kind_of_key(key: str) -> str | None:
    """The redaction kind for a value stored under ``key`` (``password``, ``api_key``, ...) or None when the
    key does not name a secret. Accepts snake_case, camelCase, kebab-case, dotted and SCREAMING_CASE names."""
    name = _KEY_SEPARATORS.sub("_", _CAMEL_BOUNDARY.sub("_", key.strip(" \t\"'\\-_$"))).lower().strip("_")
    if not name:
        return None
    if "password" in name or "passwd" in name or "passphrase" in name:
        return "password"
    if name.endswith(_NOT_SECRET_SUFFIXES):
        return None
    if name == "pwd" or name.endswith(("_pass", "_pwd")) or name.startswith("pgpass"):
        return "password"
    if name.endswith("private_key") or name == "privatekey":
        return "private_key"
    if "secret" in name:
        return "secret"
    if name.endswith(_CREDENTIAL_KEYS):
        return "credentials"
    if name.endswith("authorization"):
        return "auth_header"
    if name.endswith("cookie"):
        return "cookie"
    if name in ("sig", "signature") or name.endswith(("_sig", "_signature")):
        return "signature"
    if name.endswith("token"):
        prefix = name[:-5].rstrip("_")
        if prefix in _ORDINARY_TOKEN_WORDS or prefix.rsplit("_", 1)[-1] in _ORDINARY_TOKEN_WORDS:
            return None
        return "token" if not prefix or name.endswith("_token") or prefix in _GLUED_SECRET_WORDS else None
    if name.endswith("_key"):
        prefix = name[:-4]
        if prefix in _ORDINARY_KEY_WORDS or prefix.rsplit("_", 1)[-1] in _ORDINARY_KEY_WORDS:
            return None
        return "api_key"
    if name.endswith("key") and name[:-3] in _GLUED_SECRET_WORDS:
        return "api_key"
    return None


# --- values that are not secrets -----------------------------------------------------------------------

_PLACEHOLDER_VALUES = frozenset(
    "none null nil true false undefined redacted <redacted> <hidden> hidden masked <masked> "
    "<password> <secret> <token>".split()
)
# ${DB_PASSWORD}, $API_TOKEN, {{ var }}, *****, xxx, ..., <your-token>, %s / %(password)s
_REFERENCE_VALUE = re.compile(r"^(?:\$\{?[A-Z_][A-Z0-9_]*\}?|\{\{.*\}\}|\*+|[xX]{3,}|\.{3,}|<[\w\s-]*>|%(?:\(\w+\))?s)$")


_BLOCK_INDICATORS = frozenset({"|", ">", "|-", ">-", "|+", ">+"})  # YAML: the value is on the next lines


def _is_placeholder(value: str) -> bool:
    """True for values that carry no secret: empty, null-ish, masked or a reference to one."""
    bare = value.strip().strip("\"'").strip().replace('\\"', "").strip()
    if not bare or bare.startswith(REDACTED_PREFIX) or bare in _BLOCK_INDICATORS:
        return True
    if bare.lower() in _PLACEHOLDER_VALUES:
        return True
    if "env_var(" in bare or "os.environ" in bare or "getenv(" in bare or "secrets." in bare:
        return True
    return _REFERENCE_VALUE.match(bare) is not None


def _quoted(value: str, replacement: str) -> str:
    """``replacement`` wrapped in the same quotes (plain or backslash-escaped) as ``value``."""
    for quote in ('\\"', "\\'", '"', "'"):
        if len(value) >= 2 * len(quote) and value.startswith(quote) and value.endswith(quote):
            return f"{quote}{replacement}{quote}"
    return replacement


# --- the rules -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    """One redaction rule: run ``pattern.sub(replace, line)`` when the lower-cased line contains a cue."""

    cues: tuple[str, ...]
    pattern: re.Pattern
    replace: Callable[[re.Match], str] | str


def _fixed(kind: str) -> str:
    """A plain substitution string for a whole-match secret of ``kind``."""
    return marker(kind)


_PEM_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PEM_INLINE = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:\\n)?|(?=[\"'])|$)"
)


def _basic_auth(match: re.Match) -> str:
    """Redact ``Basic <base64>`` only when the blob decodes to ``user:password`` (so prose stays)."""
    blob = match.group(2)
    try:
        decoded = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
    except (binascii.Error, ValueError):
        return match.group(0)
    if b":" not in decoded:
        return match.group(0)
    return f"{match.group(1)}{marker('basic_auth')}"


_AUTH_SCHEME = re.compile(r"(?i)(bearer|basic|token|digest|apikey|api-key|aws4-hmac-sha256|negotiate)\s+")


def _auth_header(match: re.Match) -> str:
    """Redact an auth header's value, keeping the scheme word (Bearer/Basic/token) for readability."""
    value = match.group("value")
    if REDACTED_PREFIX in value or _is_placeholder(value):
        return match.group(0)
    kind = secret_kind_of_key(match.group("name")) or "auth_header"
    scheme = _AUTH_SCHEME.match(value)
    kept = scheme.group(0) if scheme else ""
    return f"{match.group('head')}{kept}{marker(kind)}"


def _url_password(match: re.Match) -> str:
    """Keep scheme and user of ``scheme://user:password@`` (useful when debugging), drop the password."""
    if _is_placeholder(match.group(3)):
        return match.group(0)
    return f"{match.group(1)}{match.group(2)}:{marker('password')}@"


def _keyed(match: re.Match) -> str:
    """Replace the value of a ``key <sep> value`` pair when the key names a secret."""
    value = match.group("val")
    if value is None:
        return match.group(0)
    key = match.group("key")
    kind = secret_kind_of_key(key)
    if kind is None and key.strip("\\").startswith(("'", '"')) and key.strip("\\\"' ").lower() == "pass":
        kind = "password"  # a quoted "pass" key (dbt profiles); bare PASS=7 is a dbt test count
    if kind is None or _is_placeholder(value):
        return match.group(0)
    if match.string[match.end(): match.end() + 12].lstrip().startswith(REDACTED_PREFIX):
        return match.group(0)  # a scheme word such as "Bearer" whose token was already redacted
    bare = value.strip("\"'\\")
    if kind in ("token", "api_key", "signature") and bare.isdigit() and len(bare) <= 6:
        return match.group(0)  # counts and sizes, e.g. token_limit=4096 after camel-casing
    head = match.group(0)[: match.start("val") - match.start(0)]
    return f"{head}{_quoted(value, marker(kind))}"


def _flag(match: re.Match) -> str:
    """Redact ``--password value`` style command-line arguments."""
    kind = secret_kind_of_key(match.group(1))
    if kind is None or _is_placeholder(match.group(2)):
        return match.group(0)
    return match.group(0)[: match.start(2) - match.start(0)] + marker(kind)


def _xml(match: re.Match) -> str:
    """Redact ``<password>value</password>`` style elements."""
    kind = secret_kind_of_key(match.group(1))
    if kind is None or _is_placeholder(match.group(2)):
        return match.group(0)
    return f"<{match.group(1)}>{marker(kind)}</{match.group(1)}>"


def _sql_password(match: re.Match) -> str:
    """Redact the quoted literal of ``IDENTIFIED BY '...'`` / ``PASSWORD '...'``."""
    if _is_placeholder(match.group(2)):
        return match.group(0)
    return f"{match.group(1)}{_quoted(match.group(2), marker('password'))}"


_KEY_STEMS = r"(?:pass|pwd|secret|token|key|cred|auth|cookie|sig)"
_RULES: tuple[_Rule, ...] = (
    _Rule(("begin",), _PEM_INLINE, _fixed("private_key")),
    _Rule(("akia", "asia", "agpa", "aida", "aroa", "aipa", "anpa", "anva", "apka", "abia", "acca", "asca"),
          re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}(?![A-Z0-9])"),
          _fixed("aws_access_key")),
    _Rule(("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat"),
          re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), _fixed("github_token")),
    _Rule(("glpat", "gldt-", "glrt-"), re.compile(r"\bgl(?:pat|dt|rt)-[A-Za-z0-9_\-]{20,}"), _fixed("gitlab_token")),
    _Rule(("hooks.slack.com",), re.compile(r"https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_\-]+"),
          _fixed("slack_webhook")),
    _Rule(("xox",), re.compile(r"\bxox[abposre]-[A-Za-z0-9\-]{10,}"), _fixed("slack_token")),
    _Rule(("sk-",), re.compile(r"(?<![\w-])sk-(?:proj-|ant-|svcacct-|admin-|None-)?[A-Za-z0-9_\-]{20,}"),
          _fixed("openai_key")),
    _Rule(("sk_", "rk_"), re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"), _fixed("stripe_key")),
    _Rule(("aiza",), re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"), _fixed("google_api_key")),
    _Rule(("ya29.",), re.compile(r"\bya29\.[0-9A-Za-z_\-.]{20,}"), _fixed("google_oauth_token")),
    _Rule(("sg.",), re.compile(r"\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"), _fixed("sendgrid_key")),
    _Rule(("hf_",), re.compile(r"\bhf_[A-Za-z0-9]{30,}"), _fixed("huggingface_token")),
    _Rule(("-us",), re.compile(r"\b[0-9a-f]{32}-us\d{1,2}\b"), _fixed("mailchimp_key")),
    _Rule(("eyj",), re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"), _fixed("jwt")),
    _Rule(("://",), re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.\-]{1,30}://)([^\s/:@'\"<>]*):([^\s/@'\"<>]+)@"),
          _url_password),
    _Rule(("://",), re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.\-]{1,30}://)[A-Za-z0-9_\-.~%]{20,}@"),
          lambda m: f"{m.group(1)}{marker('token')}@"),
    _Rule(("bearer",), re.compile(r"\b([Bb]earer\s+)(?![\[{<])(?=[A-Za-z0-9\-._~+/]*[0-9_\-.])[A-Za-z0-9\-._~+/]{8,}=*"
                                  r"|\b([Bb]earer\s+)[A-Za-z0-9\-._~+/]{20,}=*"),
          lambda m: f"{m.group(1) or m.group(2)}{marker('bearer_token')}"),
    _Rule(("basic",), re.compile(r"\b([Bb]asic\s+)([A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])"), _basic_auth),
    _Rule(("authorization", "api-key", "api_key", "apikey", "auth-token", "auth_token", "access-token",
           "private-token", "cookie"),
          re.compile(r"(?P<head>(?P<name>\b(?:proxy-)?authorization|\bx-(?:api|auth|access)-(?:key|token)|"
                     r"\bprivate-token|\bapi-key|\bset-cookie|\bcookie)[\"']?\s*[:=]\s*[\"']?)"
                     r"(?P<value>[^\"'\n]+)", re.I),
          _auth_header),
    _Rule(("identified", "password"),
          re.compile(r"(?i)(\b(?:identified\s+by|password)\s+)('[^'\n]*'|\"[^\"\n]*\")"), _sql_password),
    _Rule(("<",), re.compile(rf"(?i)<([\w:.\-]*{_KEY_STEMS}[\w:.\-]*)>([^<\n]+)</\1>"), _xml),
    _Rule(("--",), re.compile(rf"(?i)(?<!\S)--?([\w\-]*{_KEY_STEMS}[\w\-]*)\s+(?![-\[])([^\s\"']+|\"[^\"]*\"|'[^']*')"),
          _flag),
    _Rule(("pass", "pwd", "secret", "token", "key", "cred", "auth", "cookie", "sig"),
          re.compile(
              rf"""(?P<key>(?<![\w.\-])\\?["']?[A-Za-z0-9_.\-]*{_KEY_STEMS}[A-Za-z0-9_.\-]*\\?["']?)"""
              r"""(?P<sep>\s*(?::|=>|=)\s*)"""
              r"""(?P<val>\\"(?:(?!\\").)*\\"|\\'(?:(?!\\').)*\\'|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'"""
              r"""|(?![{\[(])[^\s,;&'"}\])]+)?""",
              re.I),
          _keyed),
)


def _redact_one_line(line: str, lowered: str) -> str:
    """Apply every rule whose cue is present; ``lowered`` is ``line.lower()`` (already computed)."""
    for rule in _RULES:
        for cue in rule.cues:
            if cue in lowered:
                line = rule.pattern.sub(rule.replace, line)
                lowered = line.lower()
                break
    return line


# --- multi-line state: PEM blocks and values that continue on the next line ----------------------------

# A secret key that ends its line, as a config dump or YAML writes it: its value is on the next line(s).
_KEY_AT_END = re.compile(
    rf"""(?i)(?:^|[{{,]\s*)\s*(?:-\s+)?["']?(?P<key>[\w.\-]*{_KEY_STEMS}[\w.\-]*)["']?\s*(?::|=)\s*"""
    r"""(?P<block>[|>][+-]?)?\s*$"""
)
_LOOKS_LIKE_KEY_LINE = re.compile(r"""^\s*(?:-\s+)?["']?[\w.\-]+["']?\s*:""")
MAX_BLOCK_LINES = 400  # a PEM or YAML block never spans more lines than this; bounds the state


class LineRedactor:
    """Stateful redactor for a stream of lines: one output line per input line, so line numbers hold.

    Besides the per-line rules it remembers (boundedly) when a secret continues on the following lines:
    a PEM private key block, a YAML block scalar under a secret key (``private_key: |``) and a secret key
    whose value is on the next line (``"password":`` then ``"hunter2"``)."""

    def __init__(self) -> None:
        """Start outside any multi-line secret."""
        self._pem_lines = 0  # > 0 while inside a PEM block
        self._block_indent: int | None = None  # indentation of a YAML block scalar's key line
        self._block_kind = ""
        self._block_lines = 0
        self._pending_kind: str | None = None  # the value of this kind of secret starts on the next line

    def redact(self, line: str, secret_cue: bool | None = None) -> str:
        """The redacted form of the next line of the stream. ``secret_cue`` is :func:`may_hold_secret` of
        the line when the caller already knows it (it is computed otherwise)."""
        if self._pem_lines:
            return self._inside_pem(line)
        if self._block_indent is not None:
            stripped = line.lstrip()
            indent = len(line) - len(stripped)
            if (not stripped or indent > self._block_indent) and self._block_lines < MAX_BLOCK_LINES:
                self._block_lines += 1
                return line[:indent] + marker(self._block_kind) if stripped else line
            self._block_indent = None
        if self._pending_kind is not None:
            kind, self._pending_kind = self._pending_kind, None
            stripped = line.strip()
            if stripped and not _LOOKS_LIKE_KEY_LINE.match(line) and stripped[0] not in "{[":
                indent = len(line) - len(line.lstrip())
                trailing = "," if stripped.endswith(",") else ""
                return line[:indent] + _quoted(stripped.rstrip(","), marker(kind)) + trailing
            if not stripped:
                self._pending_kind = kind
                return line
        if secret_cue is None:
            secret_cue = may_hold_secret(line_shape(line.lower()))
        if not secret_cue:
            return line
        lowered = line.lower()
        begin = _PEM_BEGIN.search(line) if "begin" in lowered else None
        if begin is not None and not line[begin.end():].strip(" \t\r\"',"):
            # The key continues on the next lines: everything from BEGIN on is secret.
            self._pem_lines = 1
            return _redact_one_line(line[: begin.start()], lowered[: begin.start()]) + marker("private_key")
        redacted = _redact_one_line(line, lowered)
        self._remember_open_value(redacted)
        return redacted

    def _inside_pem(self, line: str) -> str:
        """Redact a line inside a PEM block; the END line closes it (text after END is kept)."""
        end = _PEM_END.search(line)
        if end is not None or self._pem_lines >= MAX_BLOCK_LINES:
            self._pem_lines = 0
            rest = line[end.end():] if end is not None else ""
            return marker("private_key") + _redact_one_line(rest, rest.lower())
        self._pem_lines += 1
        return marker("private_key")

    def _remember_open_value(self, line: str) -> None:
        """Note a secret key whose value starts on the next line (empty value or a YAML block scalar)."""
        if not line.rstrip().endswith((":", "=", "|", ">", "|-", ">-", "|+", ">+")):
            return
        match = _KEY_AT_END.search(line)
        if match is None:
            return
        kind = secret_kind_of_key(match.group("key"))
        if kind is None:
            return
        if match.group("block"):
            self._block_indent = len(line) - len(line.lstrip())
            self._block_kind = kind
            self._block_lines = 0
        else:
            self._pending_kind = kind


# --- public API ---------------------------------------------------------------------------------------


def redact_lines(lines: Iterable[str]) -> Iterator[str]:
    """Redact a stream of lines lazily, one output line per input line (multi-line secrets included)."""
    redactor = LineRedactor()
    for line in lines:
        yield redactor.redact(line)


def redact_text(text: str) -> str:
    """Redact secrets in a single- or multi-line string; text without any secret cue is returned as is."""
    if not text:
        return text
    if "\n" not in text:
        return LineRedactor().redact(text)
    return "\n".join(redact_lines(text.split("\n")))


def redact_value(value: Any) -> Any:
    """Redact a JSON-like value recursively: dict values under secret-looking keys become markers (every
    string inside a credentials object too), and every other string goes through :func:`redact_text`."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: _redact_entry(key, item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value(item) for item in value)
    return value


def _redact_entry(key: Any, item: Any) -> Any:
    """The redacted value of one dict entry, judged by its key first."""
    kind = secret_kind_of_key(key) if isinstance(key, str) else None
    if kind is None:
        return redact_value(item)
    if isinstance(item, (dict, list, tuple)):
        return _redact_all_scalars(item, kind)
    if item is None or isinstance(item, bool) or (isinstance(item, str) and _is_placeholder(item)):
        return item
    return marker(kind)


def _redact_all_scalars(value: Any, kind: str) -> Any:
    """Every string and number inside a container stored under a secret key becomes a marker."""
    if isinstance(value, dict):
        return {key: _redact_all_scalars(item, kind) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact_all_scalars(item, kind) for item in value)
    if value is None or isinstance(value, bool):
        return value
    return marker(kind)
