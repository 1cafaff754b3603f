#!/usr/bin/env bash
# What one request may cost `portieris serve` (docs/security.md#what-one-request-may-cost):
# peak RSS under a manifest flood (a Pod of 500 images on a registry whose manifests never end,
# once alone and 64 at once) and the latency of normal admissions beside 300 stalled-body
# clients. Loopback only; a fresh server per phase; about a minute after the build.
#
#   bench/limits.sh                        both scenarios
#   bench/limits.sh --scenario flood       one (flags go to target/release/limits; --help)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=target/bench-limits
mkdir -p "$OUT/tls"
[ -n "${PORTIERIS_BENCH_NO_BUILD:-}" ] || cargo build --release -q -p portieris-webhook -p portieris-bench
# A throwaway CA and a certificate for 127.0.0.1, used by the server and the fake registry.
T=$OUT/tls
if [ ! -s "$T/server.crt" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
		-subj /CN=bench-ca -keyout "$T/ca.key" -out "$T/ca.crt" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
		-keyout "$T/server.key" -out "$T/server.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$T/ext"
	openssl x509 -req -in "$T/server.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial \
		-days 30 -extfile "$T/ext" -out "$T/server.crt" 2>/dev/null
fi
ulimit -n 65536 2>/dev/null || true
target/release/limits --cert "$T/server.crt" --key "$T/server.key" --ca "$T/ca.crt" --out "$OUT" "$@"
