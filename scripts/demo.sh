#!/usr/bin/env bash
# `make demo`: replay every sample camera through the monitor, then serve the review page.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}

echo "== 1/3  Running the monitor over the sample videos (each camera in config.yaml is a file) =="
echo "   (run again, it replaces the earlier run's alerts; alerts with an officer's verdict are kept)"
$PY -m monitor run --config config.yaml

echo
echo "== 2/3  A demo officer account for the review page =="
pwfile=instance/demo_password
if [ ! -s "$pwfile" ]; then
  mkdir -p instance
  $PY -c "import secrets; print(secrets.token_urlsafe(12))" > "$pwfile"
  chmod 600 "$pwfile"
fi
if ! $PY -m web users list --config config.yaml 2>/dev/null | grep -qw officer; then
  $PY -m web users add officer --role admin --password-stdin --config config.yaml < "$pwfile"
fi

echo
echo "== 3/3  The review page =="
echo "Open http://$HOST:$PORT/ and log in as 'officer' with the password in $pwfile ($(cat $pwfile))."
echo "More accounts: $PY -m web users add NAME --role viewer|reviewer|admin"
echo "Stop with Ctrl-C."
exec $PY -m web --config config.yaml --host "$HOST" --port "$PORT"
