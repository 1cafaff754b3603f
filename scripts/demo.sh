#!/usr/bin/env bash
# The main job on an embedded default: `portieris serve` on the example policy folder with a
# self-signed certificate, then one AdmissionReview it admits and one it denies.
#   scripts/demo.sh            run the demo and stop the server
#   scripts/demo.sh --keep     leave the server running on https://127.0.0.1:8000
set -euo pipefail
cd "$(dirname "$0")/.."
keep=${1:-}
port=${PORTIERIS_DEMO_PORT:-8000}
metrics=${PORTIERIS_DEMO_METRICS_PORT:-8080}

cargo build -q -p portieris-webhook
bin=target/debug/portieris
"$bin" validate --policy-dir examples/policies

"$bin" serve --policy-dir examples/policies --self-signed \
  --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$metrics" &
server=$!
[ "$keep" = "--keep" ] || trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT

for _ in $(seq 100); do
  curl -ksf "https://127.0.0.1:$port/health/readiness" >/dev/null && break
  sleep 0.1
done

admit() {
  echo "== $1"
  curl -ks -H 'Content-Type: application/json' --data-binary "@examples/admission/$1" \
    "https://127.0.0.1:$port/admit" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["response"]; print("allowed:", r["allowed"]); print(r.get("status",{}).get("message",""))'
}
admit deployment-allowed.json
admit deployment-denied.json
echo "== metrics"
curl -s "http://127.0.0.1:$metrics/metrics" | grep '^portieris_pod_admission_decision'
if [ "$keep" = "--keep" ]; then
  echo "portieris is serving on https://127.0.0.1:$port (pid $server)"
fi
