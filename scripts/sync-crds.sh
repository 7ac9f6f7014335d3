#!/usr/bin/env bash
# Copy the canonical CRDs (crds/) into the chart (charts/kubelens/crds/).
#
# Helm installs a chart's crds/ before its templates, so the chart needs its own copies;
# crds/ stays the one place they are edited (kopf's peering CRDs included: the operator
# joins peering "kubelens" when they are installed). tests/chart checks the copies are
# byte-identical, so forgetting to run this fails CI rather than shipping stale schemas.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for path in "${root}"/crds/*.yaml; do
  crd="$(basename "${path}")"
  cp "${path}" "${root}/charts/kubelens/crds/${crd}"
  echo "charts/kubelens/crds/${crd} <- crds/${crd}"
done
