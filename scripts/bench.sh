#!/usr/bin/env bash
# `make bench`: the benchmarks, against the same PostgreSQL `make test` uses. Each prints
# `BENCH <name> ratio=…` lines, a path against its baseline run side by side.
set -euo pipefail
cd "$(dirname "$0")/.."

TRELLIS_TEST_DATABASE_URL="$(scripts/postgres.sh ensure)"
export TRELLIS_TEST_DATABASE_URL

# The benchmarks start the built service binaries, as the end-to-end tests do.
cargo build --bins --quiet
cargo test -p trellis-e2e --test bench_limits -- --ignored --nocapture --test-threads 1 "$@" |
  tee /dev/stderr | grep '^BENCH ' >/dev/null
