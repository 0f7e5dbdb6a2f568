#!/usr/bin/env bash
# The production web command: gunicorn (ddpui.wsgi) on a loopback port behind nginx (deploy/nginx.conf), which
# buffers every request and answer so that slow clients cost no gunicorn worker. The demo, the harness, the
# tests and the benches start the app with this same script. Runs in the foreground until SIGTERM/SIGINT.
#
#   WEB_LISTEN=0.0.0.0:8000 WEB_RUN_DIR=/run/ddpui bash scripts/serve.sh [extra gunicorn arguments]
#
#   WEB_LISTEN   where nginx listens (default 127.0.0.1:8000)
#   WEB_BACKEND  gunicorn's loopback address (default 127.0.0.1:8001); only nginx should reach it
#   WEB_RUN_DIR  nginx's rendered config, pid, error log and temp files (default ./var/run)
#   WEB_WORKERS  gunicorn worker processes (default 2); WEB_THREADS > 1 makes them gthread workers
#   PYTHON       the interpreter with the project's packages (default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
listen="${WEB_LISTEN:-127.0.0.1:8000}"
backend="${WEB_BACKEND:-127.0.0.1:8001}"
run_dir="${WEB_RUN_DIR:-$PWD/var/run}"
workers="${WEB_WORKERS:-2}"
threads="${WEB_THREADS:-1}"
python="${PYTHON:-.venv/bin/python}"
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
[ -x "$nginx_bin" ] || { echo "serve: nginx is not installed (bash scripts/setup.sh installs it)" >&2; exit 1; }

mkdir -p "$run_dir"
sed -e "s#@LISTEN@#$listen#g" -e "s#@BACKEND@#$backend#g" -e "s#@RUN_DIR@#$run_dir#g" \
  deploy/nginx.conf > "$run_dir/nginx.conf"

# The app sees every request from nginx: the client's address comes in X-Forwarded-For, set by nginx.
export AUTH_TRUST_X_FORWARDED_FOR=true
worker_args=(--workers "$workers")
if [ "$threads" -gt 1 ]; then worker_args+=(--worker-class gthread --threads "$threads"); fi
"$python" -m gunicorn ddpui.wsgi --bind "$backend" "${worker_args[@]}" --timeout 30 "$@" &
gunicorn_pid=$!
"$nginx_bin" -c "$run_dir/nginx.conf" -e "$run_dir/nginx-error.log" -g "daemon off;" &
nginx_pid=$!

stop() {
  kill -TERM "$nginx_pid" "$gunicorn_pid" 2>/dev/null || true
  wait "$nginx_pid" "$gunicorn_pid" 2>/dev/null || true
}
trap 'stop; exit 0' TERM INT
# Either one ending ends both: a supervisor restarts the pair.
set +e
wait -n "$nginx_pid" "$gunicorn_pid"
status=$?
stop
exit "$status"
