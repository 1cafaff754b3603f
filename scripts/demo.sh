#!/usr/bin/env bash
# The main job on an embedded default: the test rig (a registry and a Notary server on
# loopback, with an image signed by the real notary CLI and one left unsigned), then
# `portieris serve` on the demo policy folder with a self-signed certificate, admitting the
# signed image (pinned to its digest) and denying the unsigned one.
#   scripts/demo.sh            run the demo and stop the server (the rig keeps running)
#   scripts/demo.sh --keep     leave the server running on https://127.0.0.1:8000
set -euo pipefail
cd "$(dirname "$0")/.."
keep=${1:-}
port=${PORTIERIS_DEMO_PORT:-8000}
metrics=${PORTIERIS_DEMO_METRICS_PORT:-8080}

bash scripts/rig.sh start
eval "$(bash scripts/rig.sh env)"
cargo build -q -p portieris-webhook
bin=target/debug/portieris
"$bin" validate --policy-dir examples/demo/policies

"$bin" serve --policy-dir examples/demo/policies --self-signed --ca-file "$PORTIERIS_RIG_CA" \
  --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$metrics" --sigstore-tuf-url none &
server=$!
[ "$keep" = "--keep" ] || trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT

for _ in $(seq 100); do
  curl -ksf "https://127.0.0.1:$port/health/readiness" >/dev/null && break
  sleep 0.1
done

admit() {
  echo "== $1"
  curl -ks -H 'Content-Type: application/json' --data-binary "@examples/demo/admission/$1" \
    "https://127.0.0.1:$port/admit" | python3 -c '
import base64, json, sys
r = json.load(sys.stdin)["response"]
print("allowed:", r["allowed"])
if "patch" in r:
    print("patch:", base64.b64decode(r["patch"]).decode())
print(r.get("status", {}).get("message", ""))'
}
admit signed.json
admit unsigned.json
echo "== metrics"
curl -s "http://127.0.0.1:$metrics/metrics" | grep '^portieris_pod_admission_decision'
if [ "$keep" = "--keep" ]; then
  echo "portieris is serving on https://127.0.0.1:$port (pid $server)"
fi
