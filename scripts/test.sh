#!/usr/bin/env bash
# `make test`: every test, against the PostgreSQL at TRELLIS_POSTGRES_URL (default
# 127.0.0.1:5432) or a throwaway cluster started in .pg/ when none answers.
set -euo pipefail
cd "$(dirname "$0")/.."

TRELLIS_TEST_DATABASE_URL="$(scripts/postgres.sh ensure)"
export TRELLIS_TEST_DATABASE_URL
echo "testing against ${TRELLIS_TEST_DATABASE_URL}" >&2

# End-to-end tests start the built service binaries.
cargo build --bins --quiet

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
