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

# Keys are created once and kept (mode 600) so restarts reuse them. A key is shown on the
# terminal only the run that creates it; after that, only where it is kept (terminals are
# scrolled back, shared and recorded).
new_key() {  # file name scopes
  if [ ! -s "$state/$1" ]; then
    # Called as a condition, where set -e does not apply: stop on failure explicitly.
    (umask 077; "$bin/changetrail" keys create --name "$2" --scopes "$3" >"$state/$1") ||
      { rm -f "$state/$1"; echo "could not create the $2 API key" >&2; exit 1; }
    return 0
  fi
  return 1
}
if new_key admin-key local-admin admin; then
  admin_shown="$(cat "$state/admin-key")   (new; kept in $state/admin-key)"
else
  admin_shown="in $state/admin-key"
fi

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
admin API key      $admin_shown

Record a change:
  curl -X POST http://$host:$port/api/v1/changes \\
    -H "Authorization: Bearer \$(cat $state/admin-key)" -H "Content-Type: application/json" \\
    -d '{"summary": "Deploy v1.0.0", "change_type": "deployment"}'

INFO

if "$bin/python" scripts/cluster_reachable.py; then
  new_key operator-key local-operator changes:write,services:read,services:write,operator || true
  operator_key=$(cat "$state/operator-key")
  echo "A Kubernetes cluster is reachable: starting the operator (changes appear as source=kubernetes)."
  CHANGETRAIL_API_URL="http://$host:$port" CHANGETRAIL_API_KEY="$operator_key" \
    "$bin/changetrail" operator &
  pids+=($!)
else
  echo "No Kubernetes cluster reachable (kubeconfig or in-cluster): the operator is not started."
fi
echo "Press Ctrl-C to stop."
wait -n "${pids[@]}"
