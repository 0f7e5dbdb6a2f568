"""A corpus of realistic log lines, each holding a known (fake) secret, plus ordinary lines that hold none.

Secrets are generated from a fixed seed in the shapes real ones have (no real credential is in here), so
the corpus is the same on every run. SECRET_LINES entries are (log text, secret substrings that must not
survive redaction); the text may span several lines (PEM blocks, pretty-printed configs).
"""

import base64
import json
import random
import string

_rng = random.Random(20240501)


def _chars(alphabet: str, length: int) -> str:
    """A random string from ``alphabet``."""
    return "".join(_rng.choice(alphabet) for _ in range(length))


ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
URLSAFE = ALNUM + "-_"
HEX = "0123456789abcdef"


def _password() -> str:
    """A password with letters, digits and symbols."""
    return _chars(ALNUM, 10) + _rng.choice("!#%^*~") + _chars(string.digits, 2)


def _jwt() -> str:
    """A JWT-shaped token."""
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    payload = base64.urlsafe_b64encode(json.dumps({"sub": _chars(ALNUM, 12), "exp": 1714560000}).encode())
    return f"{header}.{payload.decode().rstrip('=')}.{_chars(URLSAFE, 43)}"


def _pem_body() -> list[str]:
    """Base64 lines of a fake private key."""
    return [_chars(ALNUM + "+/", 64) for _ in range(6)]


TS = "2024-05-01 12:00:01"
_entries: list[tuple[str, list[str]]] = []


def _add(text: str, *secrets: str) -> None:
    """Register a corpus entry."""
    _entries.append((text, list(secrets)))


# Passwords in config dumps, env lines, CLI flags, DSNs.
for template in (
    "{ts} source > Connecting with config {{'host': 'db.ngo.org', 'port': 5432, 'username': 'dalgo', 'password': '{s}'}}",
    '{ts} destination > {{"host": "warehouse.internal", "database": "analytics", "password": "{s}", "ssl": true}}',
    "{ts} INFO env: DB_PASSWORD={s}",
    "{ts} INFO export POSTGRES_PASSWORD='{s}'",
    "{ts} DEBUG running: psql --host db --username dalgo --password={s} -c 'select 1'",
    "{ts} DEBUG running: mysqldump --user=root --password {s} crm",
    "    password: {s}",
    "  db_password: \"{s}\"",
    "{ts} source > Using DSN host=db.ngo.org user=dalgo password={s} dbname=crm sslmode=require",
    "{ts} INFO tunnel_method={{tunnel_method=SSH_PASSWORD_AUTH, tunnel_host=bastion.ngo.org, tunnel_user=ubuntu, tunnel_user_password={s}}}",
    '{ts} INFO config: {{"tunnel_method": {{"tunnel_method": "SSH_PASSWORD_AUTH", "tunnel_user_password": "{s}"}}}}',
    "{ts} WARN PGPASSWORD={s} pg_dump -h db crm",
    "{ts} INFO <password>{s}</password>",
    "{ts} DEBUG CREATE USER reporter WITH PASSWORD '{s}'",
    "{ts} DEBUG GRANT ALL ON *.* TO 'etl'@'%' IDENTIFIED BY '{s}'",
    "{ts} INFO snowflake: account=xy12345 user=DALGO_ETL password={s} warehouse=COMPUTE_WH",
    "{ts} INFO MYSQL_PWD={s} mysql -h db -u root",
    "{ts} INFO passwd={s}",
    "{ts} INFO mongo_password: {s}",
    "{ts} INFO 'smtp_pass': '{s}'",
):
    secret = _password()
    _add(template.format(ts=TS, s=secret), secret)

# Connection strings and URLs with credentials.
for template in (
    "{ts} source > Connecting to postgresql://dalgo:{s}@db.ngo.org:5432/crm",
    "{ts} INFO DATABASE_URL=postgres://etl_user:{s}@10.0.3.12/analytics?sslmode=require",
    "{ts} ERROR could not connect to mysql://root:{s}@mysql.internal:3306/kobo",
    "{ts} INFO broker: amqp://guest:{s}@rabbitmq:5672//",
    "{ts} INFO redis: redis://:{s}@cache.internal:6379/0",
    "{ts} DEBUG mongodb+srv://atlas_admin:{s}@cluster0.ab1cd.mongodb.net/survey?retryWrites=true",
    "{ts} INFO sqlalchemy_url: snowflake://DALGO:{s}@xy12345/ANALYTICS/PUBLIC",
    "{ts} INFO jdbc:postgresql://db.ngo.org:5432/crm?user=dalgo&password={s}&ssl=true",
):
    secret = _password().replace("#", "x").replace("%", "y").replace("^", "z")
    _add(template.format(ts=TS, s=secret), secret)
for _ in range(3):
    token = "ghp_" + _chars(ALNUM, 36)
    _add(f"{TS} INFO cloning https://{token}@github.com/ngo/dbt-project.git", token)
token = _chars(ALNUM, 32)
_add(f"{TS} INFO git clone https://x-access-token:{token}@github.com/ngo/dbt.git", token)
token = _chars(ALNUM, 40)
_add(f"{TS} INFO fetching https://{token}@gitlab.ngo.org/data/dbt.git", token)

# Cloud and SaaS keys recognisable by shape.
for _ in range(6):
    key = "AKIA" + _chars(UPPER_ALNUM, 16)
    secret_key = _chars(ALNUM + "/+", 40)
    _add(f"{TS} destination > S3 config: access_key_id={key} secret_access_key={secret_key} bucket=ngo-lake",
         key, secret_key)
for template in (
    "{ts} INFO aws_secret_access_key = {s}",
    "{ts} INFO AWS_SECRET_ACCESS_KEY={s}",
    '{ts} INFO {{"aws_access_key_id": "ASIA{u}", "aws_secret_access_key": "{s}"}}',
):
    upper = _chars(UPPER_ALNUM, 16)
    secret = _chars(ALNUM + "/+", 40)
    line = template.format(ts=TS, s=secret, u=upper)
    _add(line, secret, *([f"ASIA{upper}"] if "ASIA" in line else []))
for prefix in ("ghp_", "gho_", "ghs_", "ghu_", "ghr_"):
    token = prefix + _chars(ALNUM, 36)
    _add(f"{TS} WARN GitHub API call with token {token} returned 401", token)
token = "github_pat_" + _chars(ALNUM + "_", 82)
_add(f"{TS} INFO GITHUB_PAT is {token}", token)
for _ in range(3):
    token = "glpat-" + _chars(URLSAFE, 20)
    _add(f"{TS} INFO gitlab token {token} used for repo ngo/dbt", token)
for prefix in ("xoxb-", "xoxp-", "xoxa-"):
    token = prefix + "-".join(_chars(string.digits, 12) for _ in range(2)) + "-" + _chars(ALNUM, 24)
    _add(f"{TS} INFO notify: slack client initialised with {token}", token)
hook = f"https://hooks.slack.com/services/T{_chars(UPPER_ALNUM, 8)}/B{_chars(UPPER_ALNUM, 8)}/{_chars(ALNUM, 24)}"
_add(f"{TS} INFO posting failure notice to {hook}", hook.rsplit("/", 1)[1])
for prefix in ("sk-", "sk-proj-", "sk-ant-api03-"):
    key = prefix + _chars(URLSAFE, 48)
    _add(f"{TS} DEBUG openai client: api_key={key}", key)
    _add(f"{TS} ERROR LLM call failed: Incorrect API key provided: {key}.", key)
key = "sk_live_" + _chars(ALNUM, 24)
_add(f"{TS} source > stripe: Authorization header set for key {key}", key)
key = "AIza" + _chars(URLSAFE, 35)
_add(f"{TS} INFO GET https://sheets.googleapis.com/v4/spreadsheets/abc?key={key}", key)
key = "SG." + _chars(URLSAFE, 22) + "." + _chars(URLSAFE, 43)
_add(f"{TS} source > SendGrid client created with {key}", key)
key = "hf_" + _chars(ALNUM, 34)
_add(f"{TS} INFO HUGGINGFACE_TOKEN={key}", key)
key = _chars(HEX, 32) + "-us21"
_add(f"{TS} source > mailchimp key {key} datacenter us21", key)
token = "ya29." + _chars(URLSAFE, 60)
_add(f"{TS} DEBUG google oauth access token {token}", token)

# JWTs, bearer and basic auth, API-key headers, cookies.
for template in (
    "{ts} DEBUG GET /api/v1/jobs Authorization: Bearer {s}",
    "{ts} DEBUG headers={{'Authorization': 'Bearer {s}', 'Accept': 'application/json'}}",
    "{ts} INFO id_token={s}",
    "{ts} INFO received token {s} from auth server",
):
    token = _jwt()
    _add(template.format(ts=TS, s=token), token.split(".")[2])
for _ in range(3):
    token = _chars(ALNUM, 32)
    _add(f"{TS} DEBUG curl -H 'Authorization: Bearer {token}' https://api.kobotoolbox.org/api/v2/assets", token)
for _ in range(3):
    user_pass = f"etl:{_password()}"
    blob = base64.b64encode(user_pass.encode()).decode()
    _add(f"{TS} DEBUG request headers: Authorization: Basic {blob}", blob)
token = _chars(HEX, 40)
_add(f"{TS} DEBUG Authorization: token {token}", token)
key = _chars(ALNUM, 32)
_add(f"{TS} DEBUG sending X-Api-Key: {key}", key)
key = _chars(ALNUM, 40)
_add(f"{TS} DEBUG response Set-Cookie: sessionid={key}; Path=/; HttpOnly", key)
key = _chars(ALNUM, 20)
_add(f"{TS} DEBUG PRIVATE-TOKEN: {key}", key)

# Variables named *_KEY, *_SECRET, *_TOKEN in env, YAML, JSON, Python reprs, Java maps.
for name in ("API_KEY", "STRIPE_SECRET", "AIRBYTE_API_TOKEN", "KOBO_TOKEN", "SENTRY_AUTH_TOKEN",
             "DJANGO_SECRET_KEY", "ENCRYPTION_KEY", "SLACK_SIGNING_SECRET", "PREFECT_API_KEY", "FERNET_KEY"):
    secret = _chars(URLSAFE, 32)
    _add(f"{TS} INFO {name}={secret}", secret)
for template in (
    "{ts} INFO export CLIENT_SECRET={s}",
    "  client_secret: {s}",
    '{ts} source > {{"client_id": "1234.apps.googleusercontent.com", "client_secret": "{s}", "refresh_token": "{r}"}}',
    "{ts} source > {{'access_token': '{s}', 'refresh_token': '{r}', 'expires_in': 3600}}",
    "{ts} INFO {{apiKey={s}, endpoint=https://api.commcarehq.org}}",
    "{ts} INFO config.api_key = \"{s}\"",
    "    api_key: \"{s}\"",
    "{ts} INFO accessToken: {s}",
    "{ts} INFO AccountName=ngolake;AccountKey={s}==;EndpointSuffix=core.windows.net",
    "{ts} INFO webhook_secret={s}",
    "{ts} INFO https://api.example.org/v1/export?format=csv&access_token={s}",
    "{ts} INFO https://storage.googleapis.com/b/o?X-Goog-Signature={s}&X-Goog-Expires=900",
    "{ts} INFO --api-key {s}",
    "{ts} INFO auth_token => '{s}'",
):
    secret, refresh = _chars(URLSAFE, 32), _chars(URLSAFE, 40)
    line = template.format(ts=TS, s=secret, r=refresh)
    _add(line, secret, *([refresh] if refresh in line else []))

# Escaped JSON inside JSON (Airbyte connector configs echoed as strings) and service-account keys.
secret = _password()
_add(f'{TS} INFO config: "{{\\"password\\": \\"{secret}\\", \\"host\\": \\"db\\"}}"', secret)
pem_lines = _pem_body()
escaped_key = "-----BEGIN PRIVATE KEY-----\\n" + "\\n".join(pem_lines) + "\\n-----END PRIVATE KEY-----\\n"
_add(f'{TS} source > {{"type": "service_account", "project_id": "ngo-data", "private_key_id": "{_chars(HEX, 40)}", '
     f'"private_key": "{escaped_key}", "client_email": "etl@ngo-data.iam.gserviceaccount.com"}}', *pem_lines)
pem_lines = _pem_body()
escaped_key = "-----BEGIN PRIVATE KEY-----\\n" + "\\n".join(pem_lines) + "\\n-----END PRIVATE KEY-----\\n"
inner = json.dumps({"type": "service_account", "private_key": escaped_key})
_add(f"{TS} INFO credentials_json={json.dumps(inner)}", *pem_lines)

# Multi-line secrets: PEM blocks, pretty-printed configs, YAML block scalars, values on the next line.
for kind in ("RSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY"):
    body = _pem_body()
    _add("\n".join([f"{TS} INFO loading ssh key for tunnel:", f"-----BEGIN {kind}-----", *body,
                    f"-----END {kind}-----", f"{TS} INFO tunnel opened"]), *body)
secret, other = _password(), _chars(URLSAFE, 40)
_add("\n".join([f"{TS} INFO Source config:", "{", '  "host": "db.ngo.org",', '  "port": 5432,',
                f'  "password": "{secret}",', '  "credentials": {', '    "auth_type": "Client",',
                f'    "client_secret": "{other}"', "  }", "}"]), secret, other)
body = _pem_body()
_add("\n".join(["ssh:", "  private_key: |", *[f"    {line}" for line in body], "  user: ubuntu"]), *body)
secret = _password()
_add("\n".join(['{', '  "password":', f'    "{secret}"', '}']), secret)

# Python/dbt-style reprs and structured payloads.
secret = _password()
_add(f"{TS} DEBUG profile: {{'type': 'postgres', 'host': 'db', 'user': 'dbt', 'pass': '{secret}', 'dbname': 'analytics'}}", secret)
secret = _chars(URLSAFE, 30)
_add(f"{TS} DEBUG Prefect block value: SecretStr(secret_value='{secret}')", secret)
secret = _chars(URLSAFE, 30)
_add(f"{TS} ERROR request failed: POST https://api.ngo.org/token client_id=dalgo&client_secret={secret}&grant_type=client_credentials", secret)

# Shapes that once passed through (each seen reaching the LLM request, the stored row and the failure email).
_passed_through_from = len(_entries)
# A URL password holding "/" or "@" (unencoded, as people paste it).
for password in ("Pw/" + _chars(ALNUM, 8), _chars(ALNUM, 6) + "@" + _chars(ALNUM, 5), "a/b@" + _chars(ALNUM, 9)):
    _add(f"{TS} ERROR could not connect to postgresql://dalgo:{password}@db.ngo.org:5432/crm", password)
# A URL split over two lines by a logger's wrapping: in the password, after the colon, in the user.
secret = _chars(ALNUM, 12)
_add(f"{TS} ERROR connecting to postgresql://dalgo:{secret[:5]}\n{secret[5:]}@db.ngo.org:5432/crm", secret[:5], secret[5:])
secret = _chars(ALNUM, 12)
_add(f"{TS} ERROR connecting to mysql://root:\n{secret}@mysql.internal:3306/kobo", secret)
secret = _chars(ALNUM, 12)
_add(f"{TS} ERROR connecting to postgresql://dal\ngo:{secret}@db.ngo.org/crm", secret)
# "Authorization: Bearer" with the token on the next line.
token = _chars(URLSAFE, 40)
_add(f"{TS} DEBUG request headers: Authorization: Bearer\n  {token}", token)
token = _jwt()
_add(f"{TS} DEBUG Authorization: Bearer\n{token}\n{TS} DEBUG Accept: application/json", token.split(".")[2])
# The MySQL client's password glued to -p.
for template in ("{ts} INFO running: mysql -h db -u root -p{s} crm", "{ts} INFO mysqldump -uetl -p'{s}' --databases kobo",
                 '{ts} INFO mariadb --host=db -u etl -p"{s}" -e "select 1"'):
    secret = _password()
    _add(template.format(ts=TS, s=secret), secret)
# A dbt profile's YAML pass: / password: fields (unquoted values with spaces and commas too).
secret, other = _password(), _chars(ALNUM, 8) + " " + _chars(ALNUM, 6) + ", " + _chars(ALNUM, 4)
_add("\n".join(["ngo_analytics:", "  target: prod", "  outputs:", "    prod:", "      type: postgres",
                "      host: db.ngo.org", "      user: dbt", f"      pass: {secret}", f"      password: {other}",
                "      dbname: analytics", "      threads: 4"]), secret, *other.replace(",", "").split())
secret = _password()
_add("\n".join(["    prod:", "      type: redshift", "      pass:", f"        {secret}", "      port: 5439"]), secret)
# A bare AWS secret access key, next to its key id, after an AWS word, or on the line after the key id.
for template in ("{ts} INFO using AWS credentials {k} {s}", "{ts} INFO aws: {s} (region ap-south-1)",
                 "{ts} INFO Access key ID,Secret access key\n{k},{s}", "{ts} INFO key id {k}\n{ts} INFO {s}"):
    key, secret = "AKIA" + _chars(UPPER_ALNUM, 16), _chars(ALNUM, 38) + "/+"
    secret = "".join(_rng.sample(secret, len(secret)))
    _add(template.format(ts=TS, k=key, s=secret), key, secret)
# Base64 blobs that decode to credentials: a service-account JSON, a .env, a PEM; on one line and wrapped.
pem_lines = _pem_body()
service_account = json.dumps({
    "type": "service_account", "project_id": "ngo-data", "private_key_id": _chars(HEX, 40),
    "private_key": "-----BEGIN PRIVATE KEY-----\n" + "\n".join(pem_lines) + "\n-----END PRIVATE KEY-----\n",
    "client_email": "etl@ngo-data.iam.gserviceaccount.com"})
blob = base64.b64encode(service_account.encode()).decode()
_add(f"{TS} INFO env: GOOGLE_CREDENTIALS_B64={blob}", blob[40:120], blob[-80:])
_add(f"{TS} DEBUG config {{'credentials_b64': '{blob}'}}", blob[40:120])
wrapped = [blob[index:index + 76] for index in range(0, len(blob), 76)]
_add("\n".join([f"{TS} INFO base64 service_account.json:", *wrapped, f"{TS} INFO uploaded"]), *wrapped[1:])
secret = _password()
blob = base64.b64encode(f"DB_HOST=db.ngo.org\nDB_PASSWORD={secret}\n".encode()).decode()
_add(f"{TS} INFO secret volume content: {blob}", blob)
blob = base64.urlsafe_b64encode(json.dumps({"user": "etl", "password": _password()}).encode()).decode()
_add(f"{TS} DEBUG state blob {blob} restored", blob)
# Secrets inside exception reprs (Prefect's state message and tracebacks print them).
secret = _chars(ALNUM, 6) + "'" + _chars(ALNUM, 6)  # a quote in the password: the repr escapes it or not
message = repr(RuntimeError(f"connection failed: host=db user=dalgo password={secret} dbname=crm"))
_add(f"{TS} ERROR Flow run encountered an exception: {message}", *secret.split("'"))
message = repr(RuntimeError(f'connection failed: "host=db" password={secret} dbname=crm'))
_add(f"{TS} ERROR Flow run encountered an exception: {message}", *[part for part in secret.split("'") if len(part) >= 4])
secret = _password()
_add(f"{TS} ERROR Task run failed with exception: {repr(ValueError({'host': 'db', 'password': secret}))}", secret)
secret = _password()
_add(f"{TS} ERROR {repr(ValueError(repr({'password': secret})))} - retrying", secret)
secret = _password()
_add(f"{TS} ERROR Crash detected! {repr(KeyError({'password': secret.encode()}))}", secret)
secret = _chars(URLSAFE, 30)
_add(f"{TS} ERROR {repr(RuntimeError(f'PasswordAuth(username=dalgo, password=SecretStr({secret!r}))'))}", secret)
secret = _chars(URLSAFE, 30)
_add(f"{TS} ERROR check failed: {repr(ValueError({'credentials': {'auth_type': 'Client', 'tenant_code': secret}}))}",
     secret)

PASSED_THROUGH: list[tuple[str, list[str]]] = _entries[_passed_through_from:]
SECRET_LINES: list[tuple[str, list[str]]] = _entries

ORDINARY_LINES: list[str] = [
    "2024-05-01 12:00:01 replication-orchestrator > Records read: 5000 (1 MB)",
    "2024-05-01 12:00:01 INFO i.a.w.g.DefaultReplicationWorker(lambda$getReplicationRunnable$6):321 - Records read: 12000 (3 MB)",
    "01:03:22.043154 [info ] [Thread-1 (]: 1 of 40 OK created sql table model analytics.fct_program_reach [SELECT 1234 in 0.52s]",
    "14:05:19.447056 [debug] [Thread-1 (]: Database Error in model stg_customers (models/staging/stg_customers.sql)",
    "  column \"id\" does not exist",
    "select id, first_name, last_name from dbt.dev_data.jaffle_shop_customers where created_at > '2024-01-01'",
    "Submitting flow run '837896b9-42a7-4a51-a539-bf685acc38e9'",
    "Checking commit e43b469b0e1f2a3b4c5d6e7f8091a2b3c4d5e6f7 for job 48213 attempt 2",
    "Airbyte job 123456 attempt 3 for connection 9f8e7d6c-5b4a-3928-1706-f5e4d3c2b1a0 failed",
    "FileNotFoundError: [Errno 2] No such file or directory: '/flows/test_flow/test_flow.py'",
    "FATAL:  password authentication failed for user \"dalgo\"",
    "psycopg2.OperationalError: connection to server at \"db.ngo.org\" (10.0.3.12), port 5432 failed: FATAL:  password authentication failed",
    "Done. PASS=7 WARN=0 ERROR=1 SKIP=0 TOTAL=8",
    "primary_key: [[\"id\"]]",
    "\"source_defined_primary_key\": [[\"id\"]], \"cursor_field\": [\"updated_at\"]",
    "unique_key: donation_id",
    "{'type': 'postgres', 'user': 'dbt', 'password': None}",
    "password: \"{{ env_var('DBT_PASSWORD') }}\"",
    "DB_PASSWORD=${DB_PASSWORD}",
    "api_key: ********",
    "see https://sendgrid.com/docs/API_Reference/Web_API_v3/API_Keys/api_key_permissions_list.html",
    "Request to https://api.sendgrid.com/v3/marketing/stats/automations?page_size=50 failed with status code 403",
    "next_page_token: 2",
    "tokens_in=12345 tokens_out=2890 max_tokens=3000",
    "Basic authentication is not supported for this endpoint",
    "bearer token expired, refreshing",
    "  File \"/usr/local/lib/python3.10/site-packages/httpx/_client.py\", line 1722, in _send_single_request",
    "\tat io.airbyte.integrations.destination.buffered_stream_consumer.BufferedStreamConsumer.acceptTracked(BufferedStreamConsumer.java:149)",
    "https://console.cloud.google.com/bigquery?project=sales-analytics-453721&j=bq:EU:99fc1897-364c-4b7d-8c9f-7b1f075b67e7&page=queryresults",
    "Writing artifact to /home/runner/work/target/run_results.json (sha256 5671c00892cdbcef29c3b00cc5ba7510c3d18a35c883caeb9ab9ee266dc29c8f)",
    "Monkey-patching keyboard handler for the signal SIGTERM; author: design team",
    "The passed 12 tests include key_metrics and sort_key checks",
    "git@github.com:ngo/dbt-project.git fetched",
    "ssh://git@github.com/ngo/dbt-project.git",
    "https://user@example.org/path",
    # near misses of the shapes above: a port and a path holding "@", -p as a port or a parent flag,
    # hashes and ids beside AWS words, base64 that decodes to ordinary data, dbt's PASS count
    "GET https://registry.npmjs.org:443/@babel/core 200",
    "see https://medium.com/@dalgo/how-we-sync-1a2b3c",
    "mkdir -p /tmp/dbt && psql -p 5432 -h db -U dalgo -c 'select 1'",
    "mysql -h db -u root -p crm",
    "aws s3 cp s3://ngo-lake/raw/2024/05/01/users.jsonl . (etag 9b2cf535f27731c974343645a3985328)",
    "aws-sdk commit 3f786850e387550fdab836ed7e6dc881de23001b built",
    "AWS request id 4f2c6a1e-0b7d-4c3a-9e55-2d1f7a9c8b01 for upload of sites.parquet",
    "state: eyJzdHJlYW0iOiAidXNlcnMiLCAiY3Vyc29yIjogIjIwMjQtMDUtMDFUMTI6MDA6MDBaIn0=",
    "Done. PASS=7 WARN=0 ERROR=1 SKIP=0 TOTAL=8",
    "14:05:19  1 of 4 PASS not_null_stg_customers_id ...................... [PASS in 0.05s]",
    "Authorization: Bearer [REDACTED:bearer_token] sent",
    "connecting to https://cloud.getdbt.com:443/api/v2/accounts/12/runs",
]
