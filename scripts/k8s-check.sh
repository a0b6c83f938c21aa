#!/usr/bin/env bash
# `make k8s-check`: render the kustomize base and every overlay, and validate each manifest
# offline against the Kubernetes schemas (kubernetes-validate bundles them).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v kubectl >/dev/null 2>&1; then
  echo "installing kubectl (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq kubectl >/dev/null
fi
if [ ! -x .venv/bin/kubernetes-validate ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check kubernetes-validate==1.37.0
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for target in k8s/base k8s/overlays/*/; do
  name="$(echo "${target%/}" | tr '/' '-')"
  kubectl kustomize "$target" > "$out/$name.yaml"
  echo "validating $target ($(grep -c '^kind:' "$out/$name.yaml") objects)" >&2
  .venv/bin/kubernetes-validate --strict --quiet -k 1.32.0 "$out/$name.yaml"
done
echo "k8s manifests valid" >&2
