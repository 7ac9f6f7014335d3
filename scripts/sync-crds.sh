#!/usr/bin/env bash
# Copy the canonical CRDs (crds/) into the chart (charts/kubelens/crds/).
#
# Helm installs a chart's crds/ before its templates, so the chart needs its own copies;
# crds/ stays the one place they are edited. tests/chart checks the copies are
# byte-identical, so forgetting to run this fails CI rather than shipping stale schemas.
# The chart's kopf-peering.yaml is the chart's own and is not touched.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for crd in investigation.yaml notification.yaml; do
  cp "${root}/crds/${crd}" "${root}/charts/kubelens/crds/${crd}"
  echo "charts/kubelens/crds/${crd} <- crds/${crd}"
done
