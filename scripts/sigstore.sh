#!/usr/bin/env bash
# A loopback Sigstore for tests: an OIDC issuer, Fulcio (file CA) with a static CT log
# (TesseraCT, POSIX storage) for embedded SCTs, Rekor v2 (rekor-tiles, POSIX storage), a
# timestamp authority, a plain registry, and the trusted_root.json + signing config that make
# `cosign sign` (v3, default settings) use them. No database, no cloud storage.
#
#   scripts/sigstore.sh start [STATE_DIR]    build what is missing, start, write sigstore.env
#   scripts/sigstore.sh stop  [STATE_DIR]    stop what `start` started (pid files)
#   scripts/sigstore.sh env   [STATE_DIR]    print sigstore.env (eval "$(scripts/sigstore.sh env)")
#   scripts/sigstore.sh status [STATE_DIR]   exit 0 if everything is running and healthy
#
# STATE_DIR defaults to ${PORTIERIS_SIGSTORE_DIR:-/tmp/portieris-sigstore}. Keys and CA certs
# are made once per STATE_DIR and kept across restarts, so trusted_root.json stays the same.
# Ports (127.0.0.1) can be overridden with PORTIERIS_SIGSTORE_{REGISTRY,OIDC,FULCIO,REKOR,TSA,CT}_PORT.
# The Sigstore services run in a network namespace of their own (Fulcio and the TSA always open
# metrics listeners on all interfaces, the TSA on a fixed :2112); scripts/sigstore/nsrelay.py
# forwards their ports to 127.0.0.1 on the host. Needs root (unshare -n), as CI has.
# See scripts/sigstore/README.md.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LIB="$HERE/sigstore"

CMD=${1:-}
STATE=${2:-${PORTIERIS_SIGSTORE_DIR:-/tmp/portieris-sigstore}}
HOST=127.0.0.1
CT_ORIGIN=ct.portieris.test
COSIGN_V3=${COSIGN_V3_VERSION:-v3.1.3}

set_ports() {
	REGISTRY_PORT=${PORTIERIS_SIGSTORE_REGISTRY_PORT:-5560}
	OIDC_PORT=${PORTIERIS_SIGSTORE_OIDC_PORT:-5561}
	FULCIO_PORT=${PORTIERIS_SIGSTORE_FULCIO_PORT:-5562}
	REKOR_PORT=${PORTIERIS_SIGSTORE_REKOR_PORT:-5563}
	TSA_PORT=${PORTIERIS_SIGSTORE_TSA_PORT:-5564}
	CT_PORT=${PORTIERIS_SIGSTORE_CT_PORT:-5565}
	if [[ ${1:-} == stored && -s $STATE/run/ports.env ]]; then
		# shellcheck source=/dev/null
		source "$STATE/run/ports.env"
	fi
	# Inside the namespace only (never forwarded): gRPC and metrics listeners.
	FULCIO_GRPC_PORT=5571 FULCIO_METRICS_PORT=5572 REKOR_GRPC_PORT=5573 REKOR_METRICS_PORT=5574
	REGISTRY="$HOST:$REGISTRY_PORT"
	OIDC_URL="http://$HOST:$OIDC_PORT"
	FULCIO_URL="http://$HOST:$FULCIO_PORT"
	REKOR_URL="http://$HOST:$REKOR_PORT"
	TSA_URL="http://$HOST:$TSA_PORT/api/v1/timestamp"
	CT_URL="http://$HOST:$CT_PORT"
}

save_ports() {
	cat >"$STATE/run/ports.env" <<-EOF
		REGISTRY_PORT=$REGISTRY_PORT
		OIDC_PORT=$OIDC_PORT
		FULCIO_PORT=$FULCIO_PORT
		REKOR_PORT=$REKOR_PORT
		TSA_PORT=$TSA_PORT
		CT_PORT=$CT_PORT
	EOF
}

# Start order; stop goes backwards. netns first: the others live in it (but registry, relay).
SERVICES=(netns oidc ct tsa rekor fulcio relay registry)

STEP="(init)"
log() { printf 'sigstore: %s\n' "$*" >&2; }
die() {
	printf 'sigstore: error: %s\n' "$*" >&2
	[[ $STEP == "(init)" ]] || report_failure 1
	exit 1
}
step() { STEP=$1; log "$STEP"; }
on_error() { report_failure $?; }
report_failure() {
	local rc=$1 f
	trap - ERR
	printf '\nsigstore: FAILED (exit %s) during step: %s\n' "$rc" "$STEP" >&2
	for f in "$STATE"/logs/*.log; do
		[[ -s "$f" ]] || continue
		printf -- '--- tail of %s ---\n' "$f" >&2
		tail -n 8 "$f" >&2 || true
	done
	exit "$rc"
}

# ---------------------------------------------------------------------------------------
# packages and binaries

install_packages() {
	ensure_packages docker-registry=docker-registry skopeo=skopeo openssl=openssl curl=curl \
		python3=python3 jq=jq ip=iproute2 unshare=util-linux nsenter=util-linux
}

ensure_binaries() {
	local t
	for t in tesseract timestamp-server rekor-tiles fulcio; do
		BIN[$t]=$("$HERE/sigstore-bin.sh" "$t")
	done
	BIN[cosign]=$(COSIGN_VERSION=$COSIGN_V3 "$HERE/cosign-bin.sh")
}
declare -A BIN

# ---------------------------------------------------------------------------------------
# processes (the conventions of scripts/rig.sh)

# pidfile, alive, stop_service, launch, port_in_use
source "$HERE/lib/services.sh"

# launch_ns NAME CMD...: the same, inside the namespace (nsenter execs, so the pid is CMD's).
launch_ns() {
	local name=$1
	shift
	launch "$name" nsenter --net="/proc/$(<"$(pidfile netns)")/ns/net" -- "$@"
}

# in_ns CMD...: run a command in the namespace (health checks of unforwarded services).
in_ns() { nsenter --net="/proc/$(<"$(pidfile netns)")/ns/net" -- "$@"; }

ensure_port_free() {
	local port=$1 what=$2 owner=""
	port_in_use "$port" || return 0
	command -v ss >/dev/null 2>&1 && owner=$(ss -Hltnp "sport = :$port" 2>/dev/null | head -n1)
	die "port $port ($what) is already in use (${owner:-unknown}). Set PORTIERIS_SIGSTORE_*_PORT."
}

# wait_http NAME URL [SUBSTRING] [ns]: poll for up to 60 s while NAME stays alive.
wait_http() {
	local name=$1 url=$2 expect=${3:-} where=${4:-} i body=""
	for ((i = 0; i < 600; i++)); do
		alive "$name" || die "$name exited during start-up (see $STATE/logs/$name.log)"
		if [[ $where == ns ]]; then
			body=$(in_ns curl -sS --max-time 2 "$url" 2>/dev/null) || body=""
		else
			body=$(curl -sS --max-time 2 "$url" 2>/dev/null) || body=""
		fi
		if [[ -n $body && ( -z $expect || $body == *"$expect"* ) ]]; then
			return 0
		fi
		sleep 0.1
	done
	die "$name did not become healthy at $url within 60 s (last answer: ${body:-none})"
}

# ---------------------------------------------------------------------------------------
# keys and certificates (once per STATE_DIR)

make_keys() {
	local k="$STATE/keys" o="$STATE/logs/openssl.log"
	if [[ -s $k/done ]]; then return 0; fi
	rm -rf "$k"
	mkdir -p "$k"
	# OIDC issuer: RSA 2048 (RS256 ID tokens).
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$k/oidc.key" 2>>"$o"
	# Fulcio: a root and an intermediate (ECDSA P-384, like the public-good instance); the
	# intermediate signs the leaf certificates, and carries EKU codeSigning as Fulcio requires.
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$k/fulcio-root.key" 2>>"$o"
	openssl req -x509 -new -key "$k/fulcio-root.key" -sha384 -days 3650 \
		-subj "/O=portieris.test/CN=portieris-sigstore-root" \
		-addext "basicConstraints=critical,CA:TRUE,pathlen:1" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" -out "$k/fulcio-root.crt" 2>>"$o"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$k/fulcio-intermediate.key" 2>>"$o"
	openssl req -new -key "$k/fulcio-intermediate.key" -subj "/O=portieris.test/CN=portieris-sigstore-intermediate" \
		-out "$k/fulcio-intermediate.csr" 2>>"$o"
	cat >"$k/fulcio-intermediate.ext" <<-EOF
		basicConstraints=critical,CA:TRUE,pathlen:0
		keyUsage=critical,keyCertSign,cRLSign
		extendedKeyUsage=codeSigning
		subjectKeyIdentifier=hash
		authorityKeyIdentifier=keyid
	EOF
	openssl x509 -req -in "$k/fulcio-intermediate.csr" -CA "$k/fulcio-root.crt" -CAkey "$k/fulcio-root.key" \
		-set_serial 2 -days 3650 -sha384 -extfile "$k/fulcio-intermediate.ext" \
		-out "$k/fulcio-intermediate.crt" 2>>"$o"
	cat "$k/fulcio-intermediate.crt" "$k/fulcio-root.crt" >"$k/fulcio-chain.pem"
	# CT log (TesseraCT): ECDSA P-256.
	openssl ecparam -name prime256v1 -genkey -noout -out "$k/ct.key" 2>>"$o"
	openssl ec -in "$k/ct.key" -pubout -out "$k/ct.pub" 2>>"$o"
	# Rekor v2 (rekor-tiles): ECDSA P-256.
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$k/rekor.key" 2>>"$o"
	openssl pkey -in "$k/rekor.key" -pubout -out "$k/rekor.pub" 2>>"$o"
	# Timestamp authority: a root and a leaf with the one critical EKU timeStamping (RFC 3161).
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$k/tsa-root.key" 2>>"$o"
	openssl req -x509 -new -key "$k/tsa-root.key" -sha384 -days 3650 \
		-subj "/O=portieris.test/CN=portieris-sigstore-tsa-root" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$k/tsa-root.crt" 2>>"$o"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$k/tsa.key" 2>>"$o"
	openssl req -new -key "$k/tsa.key" -subj "/O=portieris.test/CN=portieris-sigstore-tsa" \
		-out "$k/tsa.csr" 2>>"$o"
	cat >"$k/tsa.ext" <<-EOF
		basicConstraints=critical,CA:FALSE
		keyUsage=critical,digitalSignature
		extendedKeyUsage=critical,timeStamping
		subjectKeyIdentifier=hash
		authorityKeyIdentifier=keyid
	EOF
	openssl x509 -req -in "$k/tsa.csr" -CA "$k/tsa-root.crt" -CAkey "$k/tsa-root.key" \
		-set_serial 3 -days 3650 -sha384 -extfile "$k/tsa.ext" -out "$k/tsa.crt" 2>>"$o"
	cat "$k/tsa.crt" "$k/tsa-root.crt" >"$k/tsa-chain.pem"
	rm -f "$k"/*.csr "$k"/*.ext
	chmod 600 "$k"/*.key
	# Validity starts of the logs in trusted_root.json: when the keys were made.
	date -u +%Y-%m-%dT%H:%M:%SZ -d '-1 hour' >"$k/done"
}

# ---------------------------------------------------------------------------------------
# configs

write_configs() {
	local c="$STATE/config" k="$STATE/keys"
	mkdir -p "$c" "$STATE/registry" "$STATE/ct" "$STATE/rekor"
	cat >"$c/registry.yml" <<-EOF
		version: 0.1
		log:
		  level: info
		storage:
		  filesystem:
		    rootdirectory: $STATE/registry
		  delete:
		    enabled: true
		http:
		  addr: $REGISTRY
		  headers:
		    X-Content-Type-Options: [nosniff]
	EOF
	# Two issuers on one server: an email issuer, and a GitHub-Actions-like one that Fulcio
	# treats as github-workflow (certificates get the GitHub extensions 1.3.6.1.4.1.57264.1.*).
	cat >"$c/fulcio.yaml" <<-EOF
		oidc-issuers:
		  $OIDC_URL:
		    issuer-url: $OIDC_URL
		    client-id: sigstore
		    type: email
		    description: portieris loopback email issuer
		  $OIDC_URL/github:
		    issuer-url: $OIDC_URL/github
		    client-id: sigstore
		    type: github-workflow
		    description: portieris loopback GitHub-Actions-like issuer
	EOF
	# The timestamp authority's flags as a viper config (keeps STATE in its command line).
	cat >"$c/tsa.yaml" <<-EOF
		host: $HOST
		port: $TSA_PORT
		timestamp-signer: file
		file-signer-key-path: $k/tsa.key
		certificate-chain-path: $k/tsa-chain.pem
		disable-ntp-monitoring: true
		log-type: dev
	EOF
}

# ---------------------------------------------------------------------------------------
# services

start_services() {
	local k="$STATE/keys" c="$STATE/config" p
	for p in "$REGISTRY_PORT:registry" "$OIDC_PORT:oidc" "$FULCIO_PORT:fulcio" "$REKOR_PORT:rekor" \
		"$TSA_PORT:timestamp authority" "$CT_PORT:ct log"; do
		ensure_port_free "${p%%:*}" "${p#*:}"
	done

	# The namespace: a process that sleeps in it (the others join it with nsenter).
	launch netns unshare --net -- python3 -c \
		'import signal, subprocess, sys; subprocess.run(["ip", "link", "set", "lo", "up"], check=True); signal.pause()' \
		"$STATE/run/netns"
	local i
	for ((i = 0; i < 100; i++)); do
		alive netns && in_ns ip -o link show lo 2>/dev/null | grep -q 'UP' && break
		sleep 0.1
	done
	alive netns || die "could not make a network namespace (see $STATE/logs/netns.log; unshare -n needs root)"

	launch_ns oidc python3 "$LIB/oidc.py" --key "$k/oidc.key" --host "$HOST" --port "$OIDC_PORT"
	wait_http oidc "$OIDC_URL/.well-known/openid-configuration" '"issuer"' ns

	# TesseraCT wants an origin that parses as a URL path (no port): a name of ours.
	launch_ns ct "${BIN[tesseract]}" --http_endpoint "$HOST:$CT_PORT" --origin "$CT_ORIGIN" \
		--accept_sha1_signing_algorithms=false --private_key "$k/ct.key" --storage_dir "$STATE/ct" --roots_pem_file "$k/fulcio-root.crt" \
		--checkpoint_interval 1s --batch_max_age 100ms
	wait_http ct "$CT_URL/ct/v1/get-roots" '"certificates"' ns

	launch_ns tsa "${BIN[timestamp-server]}" serve --config "$c/tsa.yaml"
	wait_http tsa "$TSA_URL/certchain" 'BEGIN CERTIFICATE' ns

	# The checkpoint origin must be the host of the log's baseUrl in trusted_root.json
	# (sigstore-go verifies Rekor v2 checkpoints with the note name url.Hostname()).
	launch_ns rekor "${BIN[rekor-tiles]}" serve --hostname "$HOST" \
		--http-address "$HOST" --http-port "$REKOR_PORT" --http-metrics-port "$REKOR_METRICS_PORT" \
		--grpc-address "$HOST" --grpc-port "$REKOR_GRPC_PORT" \
		--storage-dir "$STATE/rekor" --signer-filepath "$k/rekor.key" \
		--checkpoint-interval 1s --batch-max-age 100ms
	wait_http rekor "$REKOR_URL/healthz" 'SERVING' ns

	launch_ns fulcio "${BIN[fulcio]}" serve --config-path "$c/fulcio.yaml" \
		--ca fileca --fileca-cert "$k/fulcio-chain.pem" --fileca-key "$k/fulcio-intermediate.key" \
		--fileca-key-passwd unused --fileca-watch=false \
		--host "$HOST" --port "$FULCIO_PORT" --grpc-host "$HOST" --grpc-port "$FULCIO_GRPC_PORT" \
		--metrics-port "$FULCIO_METRICS_PORT" --legacy-unix-domain-socket "$STATE/run/fulcio-legacy.sock" \
		--ct-log-url "$CT_URL" --ct-log-origin "$CT_ORIGIN" --ct-log-public-key-path "$k/ct.pub"
	wait_http fulcio "$FULCIO_URL/api/v2/trustBundle" 'BEGIN CERTIFICATE' ns

	launch relay python3 "$LIB/nsrelay.py" --netns "/proc/$(<"$(pidfile netns)")/ns/net" --host "$HOST" \
		--name "$STATE/run/relay" \
		"$OIDC_PORT" "$FULCIO_PORT" "$REKOR_PORT" "$TSA_PORT" "$CT_PORT"
	wait_http relay "$OIDC_URL/.well-known/openid-configuration" '"issuer"'
	wait_http relay "$FULCIO_URL/api/v2/trustBundle" 'BEGIN CERTIFICATE'

	launch registry docker-registry serve "$c/registry.yml"
	wait_http registry "http://$REGISTRY/v2/" '{}'
}

healthy() {
	local s
	for s in "${SERVICES[@]}"; do alive "$s" || return 1; done
	[[ -s $STATE/sigstore.env ]] || return 1
	curl -fsS --max-time 2 "$OIDC_URL/.well-known/openid-configuration" >/dev/null 2>&1 || return 1
	curl -fsS --max-time 2 "$FULCIO_URL/api/v2/trustBundle" >/dev/null 2>&1 || return 1
	curl -fsS --max-time 2 "$REKOR_URL/healthz" >/dev/null 2>&1 || return 1
	curl -fsS --max-time 2 "$TSA_URL/certchain" >/dev/null 2>&1 || return 1
	curl -fsS --max-time 2 "$CT_URL/ct/v1/get-roots" >/dev/null 2>&1 || return 1
	curl -fsS --max-time 2 "http://$REGISTRY/v2/" >/dev/null 2>&1 || return 1
}

# ---------------------------------------------------------------------------------------
# trusted root and signing config (cosign v3 writes both)

write_trust() {
	local k="$STATE/keys" start
	start=$(<"$k/done")
	"${BIN[cosign]}" trusted-root create \
		--fulcio="url=$FULCIO_URL,certificate-chain=$k/fulcio-chain.pem,start-time=$start" \
		--ctfe="url=$CT_URL,public-key=$k/ct.pub,start-time=$start" \
		--rekor="url=$REKOR_URL,public-key=$k/rekor.pub,start-time=$start,origin=$HOST" \
		--tsa="url=$TSA_URL,certificate-chain=$k/tsa-chain.pem,start-time=$start" \
		--out "$STATE/trusted_root.json" >>"$STATE/logs/cosign.log" 2>&1 ||
		die "cosign trusted-root create failed (see $STATE/logs/cosign.log)"
	"${BIN[cosign]}" signing-config create \
		--fulcio="url=$FULCIO_URL,api-version=1,start-time=$start,operator=portieris.test" \
		--rekor="url=$REKOR_URL,api-version=2,start-time=$start,operator=portieris.test" \
		--rekor-config=ANY \
		--oidc-provider="url=$OIDC_URL,api-version=1,start-time=$start,operator=portieris.test" \
		--tsa="url=$TSA_URL,api-version=1,start-time=$start,operator=portieris.test" \
		--tsa-config=ANY \
		--out "$STATE/signing_config.json" >>"$STATE/logs/cosign.log" 2>&1 ||
		die "cosign signing-config create failed (see $STATE/logs/cosign.log)"
	# A signing config with Fulcio and the TSA but no Rekor (key-based or keyless bundles
	# without a transparency log entry).
	"${BIN[cosign]}" signing-config create \
		--fulcio="url=$FULCIO_URL,api-version=1,start-time=$start,operator=portieris.test" \
		--oidc-provider="url=$OIDC_URL,api-version=1,start-time=$start,operator=portieris.test" \
		--tsa="url=$TSA_URL,api-version=1,start-time=$start,operator=portieris.test" \
		--tsa-config=ANY \
		--out "$STATE/signing_config-no-rekor.json" >>"$STATE/logs/cosign.log" 2>&1 ||
		die "cosign signing-config create (no rekor) failed (see $STATE/logs/cosign.log)"
}

write_env() {
	local tmp="$STATE/sigstore.env.tmp"
	{
		echo "# written by scripts/sigstore.sh start; eval \"\$(scripts/sigstore.sh env)\""
		echo "PORTIERIS_SIGSTORE_DIR=$STATE"
		echo "PORTIERIS_SIGSTORE_COSIGN=${BIN[cosign]}"
		echo "PORTIERIS_SIGSTORE_REGISTRY=$REGISTRY"
		echo "PORTIERIS_SIGSTORE_OIDC_ISSUER=$OIDC_URL"
		echo "PORTIERIS_SIGSTORE_OIDC_GITHUB_ISSUER=$OIDC_URL/github"
		echo "PORTIERIS_SIGSTORE_TOKEN_URL=$OIDC_URL/token"
		echo "PORTIERIS_SIGSTORE_GITHUB_TOKEN_URL=$OIDC_URL/github/token"
		echo "PORTIERIS_SIGSTORE_FULCIO_URL=$FULCIO_URL"
		echo "PORTIERIS_SIGSTORE_REKOR_URL=$REKOR_URL"
		echo "PORTIERIS_SIGSTORE_TSA_URL=$TSA_URL"
		echo "PORTIERIS_SIGSTORE_CT_URL=$CT_URL"
		echo "PORTIERIS_SIGSTORE_TRUSTED_ROOT=$STATE/trusted_root.json"
		echo "PORTIERIS_SIGSTORE_SIGNING_CONFIG=$STATE/signing_config.json"
		echo "PORTIERIS_SIGSTORE_SIGNING_CONFIG_NO_REKOR=$STATE/signing_config-no-rekor.json"
		echo "PORTIERIS_SIGSTORE_FULCIO_CHAIN=$STATE/keys/fulcio-chain.pem"
		echo "PORTIERIS_SIGSTORE_CT_PUBLIC_KEY=$STATE/keys/ct.pub"
		echo "PORTIERIS_SIGSTORE_REKOR_PUBLIC_KEY=$STATE/keys/rekor.pub"
		echo "PORTIERIS_SIGSTORE_TSA_CHAIN=$STATE/keys/tsa-chain.pem"
	} >"$tmp"
	mv "$tmp" "$STATE/sigstore.env"
}

# ---------------------------------------------------------------------------------------
# commands

cmd_stop() {
	stop_all || return 0
	rm -f "$STATE/sigstore.env" "$STATE/run/fulcio-legacy.sock"
}

cmd_start() {
	local t0=$SECONDS
	mkdir -p "$STATE/logs" "$STATE/run"
	exec 9>"$STATE/run/start.lock"
	flock 9
	trap on_error ERR
	set_ports stored
	if healthy; then
		log "already running and healthy in $STATE (fulcio $FULCIO_URL, rekor $REKOR_URL)"
		return 0
	fi
	step "stopping leftovers from a previous start"
	cmd_stop
	set_ports
	save_ports
	rm -f "$STATE"/logs/*.log
	step "checking packages"
	install_packages
	step "building or finding the Go tools (scripts/sigstore-bin.sh, scripts/cosign-bin.sh)"
	ensure_binaries
	step "making keys and CA certificates"
	make_keys
	step "writing service configs"
	write_configs
	step "starting services"
	start_services
	step "writing trusted_root.json and signing configs"
	write_trust
	write_env
	trap - ERR
	log "ready in $((SECONDS - t0)) s: eval \"\$($0 env $STATE)\""
}

cmd_env() {
	[[ -s $STATE/sigstore.env ]] || die "no loopback Sigstore in $STATE: run '$0 start $STATE' first"
	grep -v '^#' "$STATE/sigstore.env"
}

set_ports stored
case $CMD in
start) cmd_start ;;
stop) cmd_stop ;;
env) cmd_env ;;
status)
	if healthy; then echo running; else
		echo stopped
		exit 1
	fi
	;;
*)
	echo "usage: $0 start|stop|env|status [STATE_DIR]" >&2
	exit 2
	;;
esac
