#!/usr/bin/env bash
# `make run`: the API on the embedded SQLite database, plus the operator when a cluster answers.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
state=.changetrail
host=${CHANGETRAIL_HOST:-127.0.0.1}
port=${CHANGETRAIL_PORT:-8080}
export CHANGETRAIL_DATABASE_URL=${CHANGETRAIL_DATABASE_URL:-sqlite:///$PWD/changetrail.db}
mkdir -p "$state"
chmod 700 "$state"

# Keys are created once and kept (mode 600) so restarts reuse them.
new_key() {  # file name scopes
  if [ ! -s "$state/$1" ]; then
    (umask 077; "$bin/changetrail" keys create --name "$2" --scopes "$3" >"$state/$1")
  fi
  cat "$state/$1"
}
admin_key=$(new_key admin-key local-admin admin)

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait || true; }
trap cleanup EXIT INT TERM

"$bin/changetrail" api --host "$host" --port "$port" &
pids+=($!)
for _ in $(seq 1 50); do
  "$bin/python" -c "import httpx,sys; httpx.get('http://$host:$port/readyz').raise_for_status()" \
    2>/dev/null && break
  sleep 0.2
done

cat <<INFO

changetrail API    http://$host:$port      (docs: http://$host:$port/docs)
database           $CHANGETRAIL_DATABASE_URL
admin API key      $admin_key   (kept in $state/admin-key)

Record a change:
  curl -X POST http://$host:$port/api/v1/changes \\
    -H "Authorization: Bearer $admin_key" -H "Content-Type: application/json" \\
    -d '{"summary": "Deploy v1.0.0", "change_type": "deployment"}'

INFO

if "$bin/python" scripts/cluster_reachable.py; then
  operator_key=$(new_key operator-key local-operator changes:write,services:read,services:write,operator)
  echo "A Kubernetes cluster is reachable: starting the operator (changes appear as source=kubernetes)."
  CHANGETRAIL_API_URL="http://$host:$port" CHANGETRAIL_API_KEY="$operator_key" \
    "$bin/changetrail" operator &
  pids+=($!)
else
  echo "No Kubernetes cluster reachable (kubeconfig or in-cluster): the operator is not started."
fi
echo "Press Ctrl-C to stop."
wait -n "${pids[@]}"
