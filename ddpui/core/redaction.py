"""Secret redaction for log text and structured evidence, before anything leaves the process or is stored.

Every secret is replaced by a typed marker such as ``[REDACTED:password]`` so a reader (or an LLM) still
knows that *something* was there. First, every value inside an inline object under a credentials key
(``{'credentials': {'x': '...'}}``, as reprs print connector configs) is redacted. Then the rules, in the
order they run on a line:

1. PEM private keys (one line with escaped newlines here; multi-line blocks are handled by the line state);
2. tokens recognisable by their shape: AWS access key ids, GitHub/GitLab/Slack/OpenAI/Stripe/Google/
   SendGrid/Hugging Face tokens, JWTs, Slack webhooks; a bare 40-character AWS secret access key only where
   the line names AWS or a secret, or an AWS key id is on it or on the lines just before (a bare 40-character
   string alone could be a hash or an id);
3. base64 blobs that decode to credentials (``GOOGLE_CREDENTIALS_B64=<service-account JSON>``): a long
   base64 run is decoded and redacted whole when the decoded text holds a secret or names a private key,
   password, secret or service account; the lines of a blob that continues wrapped are redacted too;
4. credentials inside URLs and connection strings (``scheme://user:pass@host``, ``https://token@host``), a
   password holding ``/`` or ``@`` included (the host follows the last ``@``), and a URL split over two lines;
5. HTTP auth headers (Bearer, Basic, ``Authorization:``/``X-Api-Key:`` values, cookies), the token also when
   it is on the line after ``Authorization: Bearer``;
6. SQL ``IDENTIFIED BY``/``PASSWORD '...'``, XML elements, CLI flags named like secrets and the MySQL
   client's glued ``-p<password>``;
7. values of keys named like secrets, in JSON, Python reprs (``b'...'`` and ``SecretStr('...')`` values and
   escaped quotes included, as exception reprs print them), YAML (a YAML line's whole value, and a dbt
   profile's ``pass:``), env files, Java map dumps and query strings (``*password*``, ``*_secret``,
   ``*_token``, ``*_key`` except ordinary keys such as ``primary_key``, ``client_secret``,
   ``credentials_json``, ...).

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
    rb"|xox|sk[-_]|rk_|eyj|aiza|sg\.|ya\.|hf_|-----begin|identified|-us|mysql|mariadb|aws"
)
# A long base64 run, which may decode to credentials (digits are deleted from the shape, so a 40-character
# blob leaves about 34). Apart from the words above: one alternation of literals is searched much faster.
_LONG_RUN = re.compile(rb"[a-z+/]{24,}+")


def line_shape(lowered: str) -> bytes:
    """A lower-cased line as UTF-8 without digits: the key under which cue answers can be cached."""
    return lowered.encode("utf-8", "replace").translate(None, DIGIT_BYTES)


def may_hold_secret(shape: bytes) -> bool:
    """Whether a line with this :func:`line_shape` can contain a secret at all (cheap, no false negatives)."""
    return _ANY_CUE.search(shape) is not None or _LONG_RUN.search(shape) is not None


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
_SCHEME_ONLY = re.compile(r"(?i)\s*(?:bearer|basic|token|digest|negotiate)\s*$")  # its token is on the next line


def _auth_header(match: re.Match) -> str:
    """Redact an auth header's value, keeping the scheme word (Bearer/Basic/token) for readability."""
    value = match.group("value")
    if REDACTED_PREFIX in value or _is_placeholder(value) or _SCHEME_ONLY.match(value):
        return match.group(0)
    kind = secret_kind_of_key(match.group("name")) or "auth_header"
    scheme = _AUTH_SCHEME.match(value)
    kept = scheme.group(0) if scheme else ""
    return f"{match.group('head')}{kept}{marker(kind)}"


_PORT_THEN_PATH = re.compile(r"\d{1,5}(?:/|$)")


def _url_password(match: re.Match) -> str:
    """Keep scheme and user of ``scheme://user:password@`` (useful when debugging), drop the password.

    The password may hold ``/`` and ``@`` (unencoded, as people paste them; drivers split at the last ``@``),
    but ``host:443/path/@scope`` is a port and a path, not a password."""
    password = match.group(3)
    if _is_placeholder(password) or _PORT_THEN_PATH.match(password):
        return match.group(0)
    return f"{match.group(1)}{match.group(2)}:{marker('password')}@"


def _holds_secret_value(kind: str | None, value: str) -> bool:
    """Whether a value under a key of this secret ``kind`` is to be redacted: not a placeholder, not a
    count such as ``token_limit=4096``."""
    if kind is None or _is_placeholder(value) or (kind == "auth_header" and _SCHEME_ONLY.match(value)):
        return False
    bare = value.strip("\"'\\")
    return not (kind in ("token", "api_key", "signature") and bare.isdigit() and len(bare) <= 6)


def _keyed(match: re.Match) -> str:
    """Replace the value of a ``key <sep> value`` pair when the key names a secret."""
    value = match.group("val")
    if value is None:
        return match.group(0)
    key = match.group("key")
    kind = secret_kind_of_key(key)
    if kind is None and _is_pass_key(key, match):
        kind = "password"
    if not _holds_secret_value(kind, value):
        return match.group(0)
    if match.string[match.end(): match.end() + 12].lstrip().startswith(REDACTED_PREFIX):
        return match.group(0)  # a scheme word such as "Bearer" whose token was already redacted
    head = match.group(0)[: match.start("val") - match.start(0)]
    return f"{head}{_quoted(value, marker(kind))}"


def _is_pass_key(key: str, match: re.Match) -> bool:
    """A dbt profile's ``pass`` key: quoted, or lower-case at the start of a YAML line (``  pass: ...``).
    Bare ``PASS=7`` is dbt's count of passed tests and stays."""
    if key.strip("\\").startswith(("'", '"')):
        return key.strip("\\\"' ").lower() == "pass"
    return key == "pass" and match.group("sep").lstrip().startswith(":") and _YAML_INDENT.fullmatch(
        match.string[: match.start()]) is not None


_YAML_INDENT = re.compile(r"\s*(?:-\s+)?")
# A YAML line whose key names a secret: its unquoted value is the rest of the line (spaces, commas and all).
_YAML_SECRET_LINE = re.compile(r"^(?P<head>\s*(?:-\s+)?(?P<key>[A-Za-z_][\w.\-]*)\s*:\s+)(?P<val>[^\s\"'{\[|>&*!#](?:.*\S)?)\s*$")


def _yaml_line(match: re.Match) -> str:
    """Redact a YAML secret's whole unquoted value (a password may hold spaces or commas)."""
    key, value = match.group("key"), match.group("val")
    kind = secret_kind_of_key(key) or ("password" if key == "pass" else None)
    if REDACTED_PREFIX in value or not _holds_secret_value(kind, value):
        return match.group(0)
    return f"{match.group('head')}{marker(kind)}"


def _mysql_password(match: re.Match) -> str:
    """Redact the MySQL client's ``-p<password>`` (glued to the flag; ``-p`` alone prompts)."""
    if _is_placeholder(match.group(2)):
        return match.group(0)
    return f"{match.group(1)}{marker('password')}"


_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=_\-])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=_\-])")
_AWS_CONTEXT = re.compile(r"(?i)aws|secret|(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}")


def looks_like_aws_secret(candidate: str) -> bool:
    """A 40-character base64 string with upper- and lower-case letters and a digit or ``/``/``+``: git
    hashes and hex ids (one case) do not qualify. Only asked where AWS context is present."""
    return (
        len(candidate) == 40
        and any(char.isupper() for char in candidate)
        and any(char.islower() for char in candidate)
        and any(char.isdigit() or char in "/+" for char in candidate)
    )


def _aws_secret(match: re.Match) -> str:
    """Redact a bare AWS secret access key (the caller checked the context)."""
    return marker("aws_secret_key") if looks_like_aws_secret(match.group(0)) else match.group(0)


def redact_aws_secrets(line: str) -> str:
    """Redact bare 40-character AWS secret keys in a line that has AWS context (or follows one)."""
    return _AWS_SECRET.sub(_aws_secret, line)


def _aws_secret_in_context(match: re.Match) -> str:
    """A bare AWS secret key, only on a line that names AWS or a secret or holds an AWS key id."""
    if _AWS_CONTEXT.search(match.string) is None and "[REDACTED:aws_access_key]" not in match.string:
        return match.group(0)
    return _aws_secret(match)


# A long base64 run (standard or URL-safe alphabet); short ones are words, hashes or ids.
_BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{40,}={0,2}")
_CREDENTIAL_WORDS = ("private_key", "service_account", "-----begin", "password", "secret", "refresh_token",
                     "access_token", "aws_access_key_id", "client_secret")
MAX_DECODED_CHARS = 200_000  # bounds the work on one blob


def decoded_base64_text(blob: str) -> str | None:
    """The UTF-8 text a base64 (or URL-safe base64) blob decodes to, or None when it is not text."""
    body = blob.rstrip("=")
    body = body[: len(body) - len(body) % 4] if len(body) % 4 == 1 else body
    padded = body + "=" * (-len(body) % 4)
    for altchars in (None, b"-_"):
        try:
            raw = base64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
        try:
            text = raw[:MAX_DECODED_CHARS].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if sum(char.isprintable() or char in "\n\r\t" for char in text) >= 0.95 * len(text):
            return text
    return None


def holds_credentials(text: str) -> bool:
    """Whether decoded text is a credential: it names one, or our own redaction would change it."""
    lowered = text.lower()
    return any(word in lowered for word in _CREDENTIAL_WORDS) or redact_text(text) != text


def _base64_blob(match: re.Match) -> str:
    """Redact a base64 blob whole when it decodes to credentials (a service-account JSON, a .env, a PEM)."""
    blob = match.group(0)
    if not any(char.isdigit() for char in blob) or not any(char.isupper() for char in blob):
        return blob  # words joined by dashes or underscores, paths, hex: not base64 of anything
    decoded = decoded_base64_text(blob)
    if decoded is None or not holds_credentials(decoded):
        return blob
    return marker("credentials")


# A credentials object printed inline: {'credentials': {'auth_type': 'OAuth', 'x': '...'}} as reprs and JSON show it.
_CREDENTIALS_OBJECT = re.compile(r"""(?i)(?<![\w.\-])["']?[\w.\-]*(?:credentials?|keyfile|service_account_info)(?:_json)?["']?\s*[:=]\s*\{""")
_OBJECT_SCALAR = re.compile(r"""(?P<sep>[:=]\s*)(?P<val>[bu]?'(?:[^'\\\n]|\\.)*'|[bu]?"(?:[^"\\\n]|\\.)*"|[^\s,{}\[\]'"]+)""")
_KEPT_SCALARS = frozenset({"none", "null", "true", "false"})


def _object_end(text: str, start: int) -> int:
    """The index after the brace that closes the object opened at ``start`` (quotes skipped), or the end."""
    depth, quote, index = 0, "", start
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return len(text)


def redact_credentials_objects(line: str) -> str:
    """Every value inside an inline object stored under a credentials key becomes a marker (its keys stay):
    such objects hold secrets under names no rule knows (``{'credentials': {'x': '...'}}``)."""
    position, parts = 0, []
    for match in _CREDENTIALS_OBJECT.finditer(line):
        if match.start() < position:
            continue
        end = _object_end(line, match.end() - 1)
        body = _OBJECT_SCALAR.sub(
            lambda m: m.group(0) if m.group("val").strip("'\"").lower() in _KEPT_SCALARS
            else f"{m.group('sep')}{_quoted(m.group('val'), marker('credentials'))}",
            line[match.end(): end])
        parts.append(line[position: match.end()] + body)
        position = end
    return "".join(parts) + line[position:] if parts else line


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
    _Rule(("aws", "secret"), _AWS_SECRET, _aws_secret_in_context),
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
    _Rule(("",), _BASE64_RUN, _base64_blob),
    # the password's length is bounded: a long run without "@" is then given up after 200 characters, not its end
    _Rule(("://",), re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.\-]{1,30}://)([^\s/:@'\"<>]{0,200}):([^\s'\"<>]{1,200})@"
                               r"(?=[A-Za-z0-9.\-\[\]%]*(?:[:/?#\s'\"<>,;)]|$))"),
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
    _Rule(("<",), re.compile(rf"(?i)<(?=[\w:.\-]*{_KEY_STEMS})([\w:.\-]*+)>([^<\n]+)</\1>"), _xml),
    _Rule(("--",), re.compile(rf"(?i)(?<!\S)--?(?=[\w\-]*{_KEY_STEMS})([\w\-]*+)\s+(?![-\[])([^\s\"']+|\"[^\"]*\"|'[^']*')"),
          _flag),
    _Rule(("mysql", "mariadb"), re.compile(r"(?<!\S)(-p)(?![\s-])('[^'\n]*'|\"[^\"\n]*\"|\S+)"), _mysql_password),
    _Rule(("pass", "pwd", "secret", "token", "key", "cred", "auth", "cookie", "sig"), _YAML_SECRET_LINE, _yaml_line),
    _Rule(("pass", "pwd", "secret", "token", "key", "cred", "auth", "cookie", "sig"),
          re.compile(
              # the key holds a stem (a lookahead, then one possessive run: a long word is scanned once, not once per stem)
              rf"""(?P<key>(?<![\w.\-])\\?["']?(?=[A-Za-z0-9_.\-]*{_KEY_STEMS})[A-Za-z0-9_.\-]*+\\?["']?)"""
              r"""(?P<sep>\s*(?::|=>|=)\s*)"""
              r"""(?P<val>(?:[bBrRuU]{1,2}(?=["']))?(?:\\"(?:(?!\\").)*\\"|\\'(?:(?!\\').)*\\'"""
              r"""|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"""
              # a wrapper call around the value, as reprs print it: SecretStr('...'), Secret("...")
              r"""|[A-Za-z_]\w*\((?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')\)"""
              # a bare value; an escaped quote (\' in a repr) and a quote inside it (not closing a string) belong to it
              r"""|(?![{\[(])(?:\\[^\s]|[^\s,;&'"}\])\\]|['"](?=[^\s,;&'"}\])\\]))+)?""",
              re.I),
          _keyed),
)


def _redact_one_line(line: str, lowered: str) -> str:
    """Apply every rule whose cue is present; ``lowered`` is ``line.lower()`` (already computed)."""
    if ("cred" in lowered or "keyfile" in lowered or "service_account_info" in lowered) and "{" in line:
        line = redact_credentials_objects(line)
        lowered = line.lower()
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
    rf"""(?i)(?:^|[{{,]\s*)\s*(?:-\s+)?["']?(?P<key>(?=[\w.\-]*{_KEY_STEMS})[\w.\-]*+)["']?\s*(?::|=)\s*"""
    r"""(?P<block>[|>][+-]?)?\s*$"""
)
_LOOKS_LIKE_KEY_LINE = re.compile(r"""^\s*(?:-\s+)?["']?[\w.\-]+["']?\s*:""")
MAX_BLOCK_LINES = 400  # a PEM or YAML block never spans more lines than this; bounds the state
# "Authorization: Bearer" that ends its line: the token is on the next line.
_AUTH_SCHEME_AT_END = re.compile(
    r"(?i)\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(bearer|basic|token|digest|negotiate)\s*$")
# A URL whose credentials the line's end cuts off: scheme://user, scheme://user: or scheme://user:pass-start.
_URL_OPEN_AT_END = re.compile(
    r"\b[a-zA-Z][a-zA-Z0-9+.\-]{1,30}://[^\s/:@'\"<>]{0,200}(?P<colon>:(?P<password>[^\s@'\"<>]{0,200}))?$")
_URL_REST_OF_PASSWORD = re.compile(r"^(\s*)([^\s@'\"<>]+)@")
_URL_REST_OF_USER = re.compile(r"^(\s*[^\s/:@'\"<>]*:)([^\s'\"<>]+)@")
_BASE64_LINE = re.compile(r"\s*[A-Za-z0-9+/_\-]{4,}={0,2}\s*")
AWS_CONTEXT_LINES = 3  # an AWS key id or "aws ... secret" makes a bare secret key on the next lines one
WRAP_WIDTHS = (64, 76)  # base64 tools wrap their output at these columns (openssl and PEM 64, base64 76)


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
        self._url_open = ""  # "user" or "password": a URL's credentials continue on the next line
        self._aws_context = 0  # lines left on which a bare AWS secret key is redacted
        self._blob_width = 0  # > 0 while a wrapped base64 credential blob continues, its line width

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
        if self._blob_width:
            if _BASE64_LINE.fullmatch(line):
                if len(line.strip()) < self._blob_width:
                    self._blob_width = 0  # a shorter line is the blob's last
                return line[: len(line) - len(line.lstrip())] + marker("credentials")
            self._blob_width = 0
        if self._url_open:
            line = self._rest_of_url(line)
        if self._aws_context:
            self._aws_context -= 1
            line = redact_aws_secrets(line)
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
        if "://" in redacted:
            redacted = self._cut_off_url(redacted)
        self._remember_context(line, lowered, redacted)
        return redacted

    def _remember_context(self, line: str, lowered: str, redacted: str) -> None:
        """Note what makes the next lines' secrets recognisable: AWS context (a key id, or AWS named with a
        secret) and a base64 credential blob that a tool wrapped over several lines."""
        if ("aws" in lowered or "akia" in lowered or "asia" in lowered) and _AWS_CONTEXT.search(line) is not None:
            self._aws_context = AWS_CONTEXT_LINES
        if redacted.endswith(marker("credentials")):
            runs = _BASE64_RUN.findall(line.rstrip())
            if runs and line.rstrip().endswith(runs[-1]) and len(runs[-1]) in WRAP_WIDTHS:
                self._blob_width = len(runs[-1])

    def _cut_off_url(self, line: str) -> str:
        """A line that ends inside a URL's credentials (a logger wrapped it): redact the password's start
        here and remember that its rest, up to ``@``, starts the next line. A port (``host:5432``) stays."""
        self._url_open = ""
        match = _URL_OPEN_AT_END.search(line)
        if match is None:
            return line
        password = match.group("password")
        if match.group("colon") is None:
            self._url_open = "user"
            return line
        if password and (_PORT_THEN_PATH.match(password) or REDACTED_PREFIX in password):
            return line
        self._url_open = "password"
        return line[: match.start("password")] + marker("password") if password else line

    def _rest_of_url(self, line: str) -> str:
        """The line after one that cut a URL's credentials off: redact the password's rest before ``@``."""
        state, self._url_open = self._url_open, ""
        if state == "password":
            return _URL_REST_OF_PASSWORD.sub(lambda m: f"{m.group(1)}{marker('password')}@", line, count=1)
        match = _URL_REST_OF_USER.match(line)
        if match is None or _PORT_THEN_PATH.match(match.group(2)) or _is_placeholder(match.group(2)):
            return line
        return f"{match.group(1)}{marker('password')}@{line[match.end():]}"

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
        """Note a secret key whose value starts on the next line (empty value or a YAML block scalar), or an
        ``Authorization: Bearer`` whose token does."""
        scheme = _AUTH_SCHEME_AT_END.search(line) if line.rstrip()[-1:].isalpha() else None
        if scheme is not None:
            self._pending_kind = "basic_auth" if scheme.group(1).lower() == "basic" else "bearer_token"
            return
        if not line.rstrip().endswith((":", "=", "|", ">", "|-", ">-", "|+", ">+")):
            return
        match = _KEY_AT_END.search(line)
        if match is None:
            return
        key = match.group("key")
        kind = secret_kind_of_key(key)
        if kind is None and key == "pass" and not line[: match.start("key")].strip(" \t-\"'"):
            kind = "password"  # a dbt profile's "pass:" with its value on the next line
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
