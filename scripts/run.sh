#!/usr/bin/env bash
# `make run`: the four services on their default ports, in the foreground, until Ctrl-C.
#
# Uses the PostgreSQL at TRELLIS_POSTGRES_URL (default 127.0.0.1:5432) or starts a throwaway
# cluster in .pg/ (scripts/postgres.sh), creates one database per service, and runs each
# service with migrate-at-start and readable logs, each line prefixed with its service.
#
# Once the tokens service listens, it loads the provider catalogue (`trellis-tokens
# catalogue`), so ListProviders lists its providers.
#
# With DEMO=1 it also starts the demo data server (127.0.0.1:8099) and, once the services
# answer, seeds a partner with two clients and writes the walkthrough's variables to
# .demo/env (see the README). The refresh service may then fetch from loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

admin_url="$(scripts/postgres.sh ensure)"
base_url="${admin_url%/*}"
services=(library imports tokens refresh)

cargo build --bins --quiet

for service in "${services[@]}"; do
  db="trellis_${service}"
  if [ -z "$(psql "$admin_url" -qAtc "SELECT 1 FROM pg_database WHERE datname = '${db}'")" ]; then
    psql "$admin_url" -qc "CREATE DATABASE ${db}" >/dev/null
    echo "created database ${db}" >&2
  fi
done

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

if [ "${DEMO:-0}" = 1 ]; then
  # The demo's third-party API lives on loopback, which refresh refuses by default.
  export TRELLIS_REFRESH_ALLOW_PRIVATE_NETWORKS=true
  target/debug/trellis-demo data-server --listen 127.0.0.1:8099 2>&1 | sed -u "s/^/[demo] /" &
  pids+=("$!")
fi

for service in "${services[@]}"; do
  (
    export DATABASE_URL="${base_url}/trellis_${service}"
    export TRELLIS_MIGRATE_AT_START=true
    # Development secrets are refused unless asked for (DESIGN.md section 3).
    export TRELLIS_DEVELOPMENT="${TRELLIS_DEVELOPMENT:-true}"
    export TRELLIS_LOG_FORMAT="${TRELLIS_LOG_FORMAT:-text}"
    exec "target/debug/trellis-${service}" 2>&1
  ) | sed -u "s/^/[${service}] /" &
  pids+=("$!")
done

# The provider catalogue (catalogue/providers.toml, built into trellis-tokens), loaded once
# the tokens service listens, which it does only after migrating its database. Idempotent;
# TRELLIS_CATALOGUE_CLIENTS may name a file of OAuth apps for its entries (docs/tokens.md).
(
  deadline=$((SECONDS + 120))
  until (exec 3<>/dev/tcp/127.0.0.1/50053) 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "the tokens service did not start listening; the catalogue is not loaded" >&2
      exit 1
    fi
    sleep 0.2
  done
  export DATABASE_URL="${base_url}/trellis_tokens"
  export TRELLIS_DEVELOPMENT="${TRELLIS_DEVELOPMENT:-true}"
  target/debug/trellis-tokens catalogue
) 2>&1 | sed -u "s/^/[catalogue] /" || echo "loading the provider catalogue failed" >&2

if [ "${DEMO:-0}" = 1 ]; then
  target/debug/trellis-demo seed --data-url http://127.0.0.1:8099 --env-file .demo/env 2>&1 | sed -u "s/^/[demo] /"
fi

echo "Trellis is running: library :50051, imports :50052, tokens :50053, refresh :50054 (Ctrl-C stops)" >&2
wait
