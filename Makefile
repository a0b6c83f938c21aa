# The README's commands. Everything the tests need is installed or started from here.

.PHONY: run test bench lint fmt clippy buf-lint k8s-check token pg-stop

## run: the four services on their default ports, on a local PostgreSQL (started if none);
##      DEMO=1 also seeds the demo of the README walkthrough
run:
	scripts/run.sh

## test: every test, on a local PostgreSQL (a throwaway one is started if none answers)
test:
	scripts/test.sh

## bench: the benchmarks; each prints BENCH <name> ratio=… against its baseline
bench:
	scripts/bench.sh

## lint: rustfmt, clippy with warnings denied, buf lint of the protos
lint: fmt clippy buf-lint

fmt:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

buf-lint: tools/buf/node_modules/.bin/buf
	tools/buf/node_modules/.bin/buf lint

tools/buf/node_modules/.bin/buf: tools/buf/package.json
	npm ci --prefix tools/buf --no-audit --no-fund --silent

## k8s-check: render the kustomize base and overlays and validate them offline
k8s-check:
	scripts/k8s-check.sh

## token: a development token: make token ACCOUNT=<uuid> USER_ID=<id> ROLE=admin for a member,
##        make token SERVICE=operator for an operator
ACCOUNT ?=
USER_ID ?= developer
ROLE ?= admin
SERVICE ?=
token:
	@cargo run --quiet -p trellis-platform --bin trellis-token -- $(if $(SERVICE),--service $(SERVICE),--account $(ACCOUNT) --user $(USER_ID) --role $(ROLE))

## pg-stop: stop the throwaway PostgreSQL that run or test started
pg-stop:
	scripts/postgres.sh stop
