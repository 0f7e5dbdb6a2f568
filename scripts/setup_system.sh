#!/usr/bin/env bash
# System part of the set-up (called by scripts/setup.sh), idempotent, Debian: PostgreSQL installed, running,
# with the role and database of DATABASE_URL; nginx (nginx-light) installed for scripts/serve.sh.
# A server that already answers is used as it is (never restarted or reconfigured).
#
# Paths can be pointed elsewhere (the tests do, with stub commands first on PATH): PG_LIB_DIR
# (/usr/lib/postgresql), PG_ETC_DIR (/etc/postgresql), NGINX_BIN (nginx on PATH, else /usr/sbin/nginx).
set -euo pipefail

database_url="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/ddpui}"
pg_lib_dir="${PG_LIB_DIR:-/usr/lib/postgresql}"
pg_etc_dir="${PG_ETC_DIR:-/etc/postgresql}"
nginx_bin="${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}"

say() { echo "setup: $*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root (or sudo) for: $*" >&2; return 1; fi
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

apt_updated=""
apt_install() {
  say "installing $* (apt-get)"
  if [ -z "$apt_updated" ]; then as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# host, port, user, password and database of DATABASE_URL, one per line
mapfile -t url_parts < <(python3 - "$database_url" <<'PY'
import sys
from urllib.parse import unquote, urlsplit
url = urlsplit(sys.argv[1])
print(url.hostname or "127.0.0.1"); print(url.port or 5432); print(unquote(url.username or "postgres"))
print(unquote(url.password or "")); print(unquote(url.path.lstrip("/")) or "ddpui")
PY
)
host="${url_parts[0]}" port="${url_parts[1]}" user="${url_parts[2]}" password="${url_parts[3]}" dbname="${url_parts[4]}"

# ---- nginx (scripts/serve.sh puts it in front of gunicorn)
if [ ! -x "$nginx_bin" ]; then
  apt_install nginx-light
fi

# ---- PostgreSQL: only a local one is ours to install and start
local_server=""
case "$host" in 127.0.0.1|localhost|::1) local_server=1 ;; esac

if ! pg_isready -h "$host" -p "$port" -q 2>/dev/null; then
  if [ -z "$local_server" ]; then
    say "PostgreSQL at $host:$port does not answer, and it is not on this machine: start it there" >&2
    exit 1
  fi
  installed_now=""
  if ! compgen -G "$pg_lib_dir/*/bin/postgres" >/dev/null; then
    apt_install postgresql
    installed_now=1
  fi
  version="$(basename "$(dirname "$(dirname "$(compgen -G "$pg_lib_dir/*/bin/postgres" | sort -V | tail -n 1)")")")"
  if [ ! -d "$pg_etc_dir/$version/main" ]; then
    say "creating the PostgreSQL $version cluster"
    as_root pg_createcluster "$version" main --port "$port"
    installed_now=1
  fi
  if [ -n "$installed_now" ]; then
    # A fresh server refuses password-less TCP logins; the default DATABASE_URL (a development machine) has
    # none. Production sets a password in DATABASE_URL (the role gets it below) and does not need this line.
    hba="$pg_etc_dir/$version/main/pg_hba.conf"
    if [ -z "$password" ] && ! grep -q "ddpui scripts/setup.sh" "$hba" 2>/dev/null; then
      say "letting local TCP connections in without a password ($hba)"
      as_root sed -i "1i host all all 127.0.0.1/32 trust  # ddpui scripts/setup.sh: development machine" "$hba"
    fi
  fi
  say "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_isready -h "$host" -p "$port" -q && break; sleep 1; done
  pg_isready -h "$host" -p "$port" -q || { say "PostgreSQL did not start" >&2; exit 1; }
fi

# ---- the role and the database of DATABASE_URL (as the postgres superuser of a local server)
if [ -n "$local_server" ]; then
  sql() { as_postgres psql -p "$port" -v ON_ERROR_STOP=1 -tAq -d postgres "$@"; }
  quoted_user="$(printf '%s' "$user" | sed 's/"/""/g')"
  literal_user="$(printf '%s' "$user" | sed "s/'/''/g")"
  literal_db="$(printf '%s' "$dbname" | sed "s/'/''/g")"
  if [ "$(sql -c "SELECT 1 FROM pg_roles WHERE rolname = '$literal_user'")" != "1" ]; then
    say "creating the database role $user"
    sql -c "CREATE ROLE \"$quoted_user\" LOGIN CREATEDB"
  fi
  if [ -n "$password" ]; then
    sql -c "ALTER ROLE \"$quoted_user\" PASSWORD '$(printf '%s' "$password" | sed "s/'/''/g")'"
  fi
  if [ "$(sql -c "SELECT 1 FROM pg_database WHERE datname = '$literal_db'")" != "1" ]; then
    say "creating the database $dbname"
    sql -c "CREATE DATABASE \"$(printf '%s' "$dbname" | sed 's/"/""/g')\" OWNER \"$quoted_user\""
  fi
fi
