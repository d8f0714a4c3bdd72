#!/usr/bin/env bash
# CI matrix over targets (local, existing, gke, composer, composer-rehearsal): the dry-run plan of `up`, the rendered manifests
# validated against the Kubernetes schema of the pinned version, and the parity check (every task pod built
# under the target's environment and checked against it). Runs in the tests session's environment.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PY:-.nox/tests/bin/python}
k8s=$($py -c 'from automation.core.versions import VERSIONS; v=VERSIONS.kubernetes.lstrip("v").split("."); print(f"{v[0]}.{v[1]}.0")')
mkdir -p render/ci-matrix
if [ -n "${AIRFLOW_CHART_DIR:-}" ]; then
  # The Helm repository is out of reach: render the chart from the local copy to validate it too.
  printf 'defaults:\n  chart: {source: path, path: %s}\n' "$AIRFLOW_CHART_DIR" > render/ci-matrix/chart-overlay.yaml
  export AUTOMATION_SETTINGS="${AUTOMATION_SETTINGS:+$AUTOMATION_SETTINGS:}$PWD/render/ci-matrix/chart-overlay.yaml"
fi
for target in local existing gke composer composer-rehearsal; do
  echo "== $target: up --dry-run"
  # An empty kubeconfig: the plan from nothing, with no credentials.
  KUBECONFIG=/nonexistent $py -m automation up --dry-run --target "$target" > "render/ci-matrix/$target-plan.txt"
  grep -c "\[dry-run\]" "render/ci-matrix/$target-plan.txt" | sed "s/^/   planned actions: /"
  echo "== $target: render"
  $py -m automation render --target "$target" --out "render/ci-matrix/$target" >/dev/null
  for f in render/ci-matrix/"$target"/objects.yaml render/ci-matrix/"$target"/chart.yaml; do
    [ -s "$f" ] || continue
    "$(dirname "$py")/kubernetes-validate" --strict -k "$k8s" "$f" >/dev/null
    echo "   $(basename "$f"): valid against Kubernetes $k8s (strict)"
  done
  echo "== $target: parity check (dags --target $target)"
  KUBECONFIG=/nonexistent $py -m automation dags --target "$target" --no-server | tail -1
done
