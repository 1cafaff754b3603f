#!/usr/bin/env bash
# Real peers for tests, on loopback: a TLS registry, notary-signer, two notary-servers
# (anonymous and token-auth), a Docker token server, signed test images, and a second registry
# with the OCI 1.1 referrers API (built from the Go module proxy once per machine).
#
#   scripts/rig.sh start [STATE_DIR]   start everything, push and sign images, write rig.env/rig.json
#   scripts/rig.sh stop  [STATE_DIR]   stop what `start` started (pid files)
#   scripts/rig.sh env   [STATE_DIR]   print rig.env (eval "$(scripts/rig.sh env)")
#   scripts/rig.sh status [STATE_DIR]  exit 0 if the rig is running and healthy
#
# STATE_DIR defaults to ${PORTIERIS_RIG_DIR:-/tmp/portieris-rig}. Ports (all on 127.0.0.1)
# can be overridden with
# PORTIERIS_RIG_{REGISTRY,REGISTRY_TOKEN,REGISTRY_REFERRERS,TOKEN,NOTARY,NOTARY_TOKEN,SIGNER}_PORT.
# See scripts/rig/README.md for what it builds and the facts it relies on.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RIG_LIB="$HERE/rig"

CMD=${1:-}
STATE=${2:-${PORTIERIS_RIG_DIR:-/tmp/portieris-rig}}

HOST=127.0.0.1
TOKEN_USER=portieris
TOKEN_PASSWORD=s3cret
TOKEN_ISSUER=portieris-rig
PASSPHRASE=portieris-rig

# set_ports: ports from the environment (start) or, for a rig that exists, from the
# ports.env it was started with (so stop/status/env never depend on the caller's env).
set_ports() {
	REGISTRY_PORT=${PORTIERIS_RIG_REGISTRY_PORT:-5000}
	REGISTRY_TOKEN_PORT=${PORTIERIS_RIG_REGISTRY_TOKEN_PORT:-5002}
	REGISTRY_REFERRERS_PORT=${PORTIERIS_RIG_REGISTRY_REFERRERS_PORT:-5003}
	TOKEN_PORT=${PORTIERIS_RIG_TOKEN_PORT:-5001}
	NOTARY_PORT=${PORTIERIS_RIG_NOTARY_PORT:-4443}
	NOTARY_TOKEN_PORT=${PORTIERIS_RIG_NOTARY_TOKEN_PORT:-4444}
	SIGNER_PORT=${PORTIERIS_RIG_SIGNER_PORT:-7899}
	if [[ ${1:-} == stored && -s $STATE/run/ports.env ]]; then
		# shellcheck source=/dev/null
		source "$STATE/run/ports.env"
	fi
	REGISTRY="$HOST:$REGISTRY_PORT"
	REGISTRY_TOKEN="$HOST:$REGISTRY_TOKEN_PORT"
	REGISTRY_REFERRERS="$HOST:$REGISTRY_REFERRERS_PORT"
	NOTARY_URL="https://$HOST:$NOTARY_PORT"
	NOTARY_TOKEN_URL="https://$HOST:$NOTARY_TOKEN_PORT"
	TOKEN_REALM="https://$HOST:$TOKEN_PORT/token"
}

save_ports() {
	cat >"$STATE/run/ports.env" <<-EOF
		REGISTRY_PORT=$REGISTRY_PORT
		REGISTRY_TOKEN_PORT=$REGISTRY_TOKEN_PORT
		REGISTRY_REFERRERS_PORT=$REGISTRY_REFERRERS_PORT
		TOKEN_PORT=$TOKEN_PORT
		NOTARY_PORT=$NOTARY_PORT
		NOTARY_TOKEN_PORT=$NOTARY_TOKEN_PORT
		SIGNER_PORT=$SIGNER_PORT
	EOF
}

# Services: name -> binary (for pid checks). Order = start order.
SERVICES=(signer notary notary-token token registry registry-token registry-referrers)

STEP="(init)"
log() { printf 'rig: %s\n' "$*" >&2; }
die() {
	printf 'rig: error: %s\n' "$*" >&2
	[[ $STEP == "(init)" ]] || report_failure 1
	exit 1
}
step() { STEP=$1; log "$STEP"; }

on_error() { report_failure $?; }

report_failure() {
	local rc=$1
	trap - ERR
	printf '\nrig: FAILED (exit %s) during step: %s\n' "$rc" "$STEP" >&2
	if [[ -d "$STATE/logs" ]]; then
		local f
		for f in "$STATE"/logs/*.log; do
			[[ -s "$f" ]] || continue
			# Tool logs only matter for the step that wrote them.
			case ${f##*/} in
			openssl.log) [[ $STEP == *TLS* || $STEP == signing* ]] || continue ;;
			apt.log) [[ $STEP == *packages* ]] || continue ;;
			go-build.log) [[ $STEP == building* ]] || continue ;;
			esac
			printf -- '--- tail of %s ---\n' "$f" >&2
			tail -n 8 "$f" >&2 || true
		done
	fi
	exit "$rc"
}

# ---------------------------------------------------------------------------------------
# packages

install_packages() {
	ensure_packages notary=notary notary-server=notary notary-signer=notary \
		docker-registry=docker-registry skopeo=skopeo gpg=gnupg openssl=openssl curl=curl python3=python3
}

# ---------------------------------------------------------------------------------------
# processes

# pidfile, alive, stop_service, launch, port_in_use
source "$HERE/lib/services.sh"

port_owner() { # prints "pid cmdline" of the listener on 127.0.0.1:PORT or 0.0.0.0/[::]:PORT, if any
	local port=$1 line pid
	command -v ss >/dev/null 2>&1 || return 0
	line=$(ss -Hltnp "sport = :$port" 2>/dev/null | head -n1) || true
	[[ -n $line ]] || return 0
	pid=$(grep -o 'pid=[0-9]*' <<<"$line" | head -n1 | cut -d= -f2) || true
	if [[ -n $pid && -r /proc/$pid/cmdline ]]; then
		printf '%s %s\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline")"
	else
		printf '? %s\n' "$line"
	fi
}

ensure_port_free() {
	local port=$1 what=$2 owner pid
	port_in_use "$port" || return 0
	owner=$(port_owner "$port")
	pid=${owner%% *}
	# The Debian docker-registry package's own service (config under /etc/docker/registry).
	if [[ $owner == *docker-registry* && $owner != *"$STATE/"* ]]; then
		log "port $port is held by the packaged docker-registry ($owner); stopping it"
		if command -v systemctl >/dev/null 2>&1; then
			systemctl stop docker-registry >/dev/null 2>&1 || true
		fi
		if port_in_use "$port" && [[ $pid =~ ^[0-9]+$ ]]; then
			kill "$pid" 2>/dev/null || true
			sleep 0.5
		fi
		port_in_use "$port" || return 0
	fi
	die "port $port ($what) is already in use by: ${owner:-unknown process}. Stop it, or set PORTIERIS_RIG_*_PORT."
}

# wait_http NAME URL [EXPECTED_SUBSTRING]: poll until the URL answers (any HTTP status if no
# substring is given), for up to 20 s; the service must stay alive meanwhile.
wait_http() {
	local name=$1 url=$2 expect=${3:-} i body
	for ((i = 0; i < 200; i++)); do
		if ! alive "$name"; then
			die "$name exited during start-up (see $STATE/logs/$name.log)"
		fi
		if body=$(curl -sS --max-time 2 --cacert "$STATE/tls/ca.crt" "$url" 2>/dev/null); then
			if [[ -z $expect || $body == *"$expect"* ]]; then
				return 0
			fi
		fi
		sleep 0.1
	done
	die "$name did not become healthy at $url within 20 s (last answer: ${body:-none})"
}

wait_tcp() {
	local name=$1 port=$2 i
	for ((i = 0; i < 200; i++)); do
		alive "$name" || die "$name exited during start-up (see $STATE/logs/$name.log)"
		port_in_use "$port" && return 0
		sleep 0.1
	done
	die "$name did not listen on $HOST:$port within 20 s"
}

# ---------------------------------------------------------------------------------------
# TLS

make_tls() {
	local d="$STATE/tls"
	if [[ -s $d/ca.crt && -s $d/server.crt && -s $d/server.key && -s $d/token-signing.crt ]]; then
		return 0 # keep the CA stable across restarts of the same STATE_DIR
	fi
	rm -rf "$d"
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/ca.key" -out "$d/ca.crt" -days 3650 -subj "/CN=portieris rig CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>>"$STATE/logs/openssl.log"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=localhost" 2>>"$STATE/logs/openssl.log"
	cat >"$d/server.ext" <<-EOF
		basicConstraints=critical,CA:FALSE
		keyUsage=critical,digitalSignature,keyEncipherment
		extendedKeyUsage=serverAuth,clientAuth
		subjectAltName=IP:127.0.0.1,DNS:localhost
	EOF
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 825 -sha256 -extfile "$d/server.ext" -out "$d/server.crt" 2>>"$STATE/logs/openssl.log"
	# Token signing key: its self-signed cert is the services' rootcertbundle (JWT header x5c).
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/token-signing.key" \
		-out "$d/token-signing.crt" -days 3650 -subj "/CN=portieris rig token issuer" \
		2>>"$STATE/logs/openssl.log"
	# skopeo --cert-dir: *.crt files are CA roots.
	mkdir -p "$d/certs.d"
	cp "$d/ca.crt" "$d/certs.d/ca.crt"
	chmod 600 "$d"/*.key
}

# ---------------------------------------------------------------------------------------
# configs

write_configs() {
	local c="$STATE/config" t="$STATE/tls"
	mkdir -p "$c"
	cat >"$c/signer.json" <<-EOF
		{
		  "server": {
		    "grpc_addr": "$HOST:$SIGNER_PORT",
		    "tls_cert_file": "$t/server.crt",
		    "tls_key_file": "$t/server.key",
		    "client_ca_file": "$t/ca.crt"
		  },
		  "logging": {"level": "info"},
		  "storage": {"backend": "memory"}
		}
	EOF
	local trust
	trust=$(
		cat <<-EOF
			"trust_service": {
			    "type": "remote",
			    "hostname": "$HOST",
			    "port": "$SIGNER_PORT",
			    "key_algorithm": "ecdsa",
			    "tls_ca_file": "$t/ca.crt",
			    "tls_client_cert": "$t/server.crt",
			    "tls_client_key": "$t/server.key"
			  }
		EOF
	)
	cat >"$c/notary.json" <<-EOF
		{
		  "server": {
		    "http_addr": "$HOST:$NOTARY_PORT",
		    "tls_cert_file": "$t/server.crt",
		    "tls_key_file": "$t/server.key"
		  },
		  $trust,
		  "logging": {"level": "info"},
		  "storage": {"backend": "memory"}
		}
	EOF
	cat >"$c/notary-token.json" <<-EOF
		{
		  "server": {
		    "http_addr": "$HOST:$NOTARY_TOKEN_PORT",
		    "tls_cert_file": "$t/server.crt",
		    "tls_key_file": "$t/server.key"
		  },
		  $trust,
		  "auth": {
		    "type": "token",
		    "options": {
		      "realm": "$TOKEN_REALM",
		      "service": "notary",
		      "issuer": "$TOKEN_ISSUER",
		      "rootcertbundle": "$t/token-signing.crt"
		    }
		  },
		  "logging": {"level": "info"},
		  "storage": {"backend": "memory"}
		}
	EOF
	cat >"$c/registry.yml" <<-EOF
		version: 0.1
		log:
		  level: info
		  accesslog:
		    disabled: false
		storage:
		  filesystem:
		    rootdirectory: $STATE/registry
		  delete:
		    enabled: true
		  cache:
		    blobdescriptor: inmemory
		http:
		  addr: $HOST:$REGISTRY_PORT
		  secret: portieris-rig
		  tls:
		    certificate: $t/server.crt
		    key: $t/server.key
		  debug:
		    addr: ""
	EOF
	# Same storage, token auth: pull images pushed through the anonymous registry.
	cat >"$c/registry-token.yml" <<-EOF
		version: 0.1
		log:
		  level: info
		storage:
		  filesystem:
		    rootdirectory: $STATE/registry
		  delete:
		    enabled: true
		  cache:
		    blobdescriptor: inmemory
		auth:
		  token:
		    realm: $TOKEN_REALM
		    service: registry
		    issuer: $TOKEN_ISSUER
		    rootcertbundle: $t/token-signing.crt
		http:
		  addr: $HOST:$REGISTRY_TOKEN_PORT
		  secret: portieris-rig
		  tls:
		    certificate: $t/server.crt
		    key: $t/server.key
	EOF
}

start_services() {
	local t="$STATE/tls" c="$STATE/config"
	ensure_port_free "$SIGNER_PORT" notary-signer
	ensure_port_free "$NOTARY_PORT" notary-server
	ensure_port_free "$NOTARY_TOKEN_PORT" "notary-server (token auth)"
	ensure_port_free "$TOKEN_PORT" "token server"
	ensure_port_free "$REGISTRY_PORT" registry
	ensure_port_free "$REGISTRY_TOKEN_PORT" "registry (token auth)"
	ensure_port_free "$REGISTRY_REFERRERS_PORT" "registry (referrers API)"

	launch signer notary-signer -config "$c/signer.json"
	launch token python3 "$RIG_LIB/token_server.py" --addr "$HOST" --port "$TOKEN_PORT" \
		--tls-cert "$t/server.crt" --tls-key "$t/server.key" \
		--signing-key "$t/token-signing.key" --signing-cert "$t/token-signing.crt" \
		--issuer "$TOKEN_ISSUER" --user "$TOKEN_USER" --password "$TOKEN_PASSWORD"
	launch registry docker-registry serve "$c/registry.yml"
	launch registry-token docker-registry serve "$c/registry-token.yml"
	launch registry-referrers "$REFERRERS_REGISTRY_BIN" --addr "$REGISTRY_REFERRERS" \
		--tls-cert "$t/server.crt" --tls-key "$t/server.key"
	wait_tcp signer "$SIGNER_PORT"
	launch notary notary-server -config "$c/notary.json"
	launch notary-token notary-server -config "$c/notary-token.json"

	wait_http registry "https://$REGISTRY/v2/" '{}'
	wait_http registry-token "https://$REGISTRY_TOKEN/v2/" 'UNAUTHORIZED'
	wait_http registry-referrers "https://$REGISTRY_REFERRERS/v2/"
	wait_http token "https://$HOST:$TOKEN_PORT/health" ok
	wait_http notary "$NOTARY_URL/_notary_server/health" '{}'
	wait_http notary-token "$NOTARY_TOKEN_URL/_notary_server/health" '{}'
}

healthy() {
	local s
	for s in "${SERVICES[@]}"; do alive "$s" || return 1; done
	[[ -s $STATE/rig.env && -s $STATE/rig.json ]] || return 1
	curl -sf --max-time 3 --cacert "$STATE/tls/ca.crt" "https://$REGISTRY/v2/" >/dev/null || return 1
	curl -sf --max-time 3 --cacert "$STATE/tls/ca.crt" "https://$REGISTRY_REFERRERS/v2/" >/dev/null || return 1
	curl -sf --max-time 3 --cacert "$STATE/tls/ca.crt" "$NOTARY_URL/_notary_server/health" >/dev/null || return 1
	curl -sf --max-time 3 --cacert "$STATE/tls/ca.crt" "$NOTARY_TOKEN_URL/_notary_server/health" >/dev/null || return 1
	curl -sf --max-time 3 --cacert "$STATE/tls/ca.crt" "https://$HOST:$TOKEN_PORT/health" >/dev/null || return 1
	# The trust data lives in memory: a restarted notary-server would have lost it.
	curl -sf --max-time 3 --cacert "$STATE/tls/ca.crt" \
		"$NOTARY_URL/v2/$REGISTRY/test/signed/_trust/tuf/timestamp.json" >/dev/null || return 1
}

# ---------------------------------------------------------------------------------------
# images

declare -A DIGEST=() LENGTH=()

# push_image REPO TAG CONTENT [FORMAT]: build an OCI layout and push it; record the digest
# and length of the manifest exactly as the registry serves it.
push_image() {
	local repo=$1 tag=$2 content=$3 format=${4:-v2s2} layout key raw
	layout="$STATE/images/${repo//\//_}"
	python3 "$RIG_LIB/mkimage.py" "$layout" "$tag" "$content" >/dev/null
	local fmt=()
	[[ $format == v2s2 ]] && fmt=(--format v2s2)
	skopeo copy -q "${fmt[@]}" --dest-cert-dir "$STATE/tls/certs.d" \
		"oci:$layout:$tag" "docker://$REGISTRY/$repo:$tag" >>"$STATE/logs/skopeo.log" 2>&1 ||
		die "skopeo copy to $REGISTRY/$repo:$tag failed (see $STATE/logs/skopeo.log)"
	raw="$STATE/manifests/${repo//\//_}_$tag.json"
	skopeo inspect --raw --cert-dir "$STATE/tls/certs.d" "docker://$REGISTRY/$repo:$tag" >"$raw" \
		2>>"$STATE/logs/skopeo.log" || die "skopeo inspect $REGISTRY/$repo:$tag failed"
	key="${repo##*/}_$tag"
	DIGEST[$key]="sha256:$(sha256sum "$raw" | cut -d' ' -f1)"
	LENGTH[$key]=$(stat -c %s "$raw")
}

push_images() {
	mkdir -p "$STATE/images" "$STATE/manifests"
	push_image test/signed v1 "signed v1"
	push_image test/signed v2 "signed v2, different content"
	push_image test/signed oci "signed, OCI manifest" oci
	push_image test/unsigned v1 "unsigned v1"
	push_image test/toplevel v1 "toplevel v1"
	push_image test/signers v1 "signers v1"
	push_image test/onesigner v1 "onesigner v1"
	push_image test/onesigner v2 "onesigner v2"
	push_image test/rotated v1 "rotated v1"
	push_image test/token v1 "token v1"
}

# ---------------------------------------------------------------------------------------
# signing

notary_cli() { # notary_cli SERVER_URL ARGS...
	local server=$1
	shift
	notary -s "$server" -d "$STATE/trust" --tlscacert "$STATE/tls/ca.crt" "$@" \
		>>"$STATE/logs/notary-cli.log" 2>&1 || {
		printf -- '--- tail of %s ---\n' "$STATE/logs/notary-cli.log" >&2
		tail -n 20 "$STATE/logs/notary-cli.log" >&2
		die "notary ${*} failed"
	}
}

# ECDSA signer the way `docker trust key generate` / notary do it: keep the public PEM
# (as notary wrote it), decrypt the private key and import it.
make_ecdsa_signer() {
	local name=$1 k="$STATE/keys" work="$STATE/work"
	(cd "$work" && notary -d "$STATE/trust" key generate ecdsa --role "targets/$name" -o "$work/$name") \
		>>"$STATE/logs/notary-cli.log" 2>&1 || die "notary key generate for $name failed"
	cp "$work/$name.pem" "$k/$name.pub.pem"
	chmod 644 "$k/$name.pub.pem"
	# openssl reads PEM headers as legacy encryption info: drop notary's "role: ..." header.
	grep -v -e '^role:' -e '^$' "$work/$name-key.pem" >"$work/$name-key.noheader.pem"
	openssl pkey -in "$work/$name-key.noheader.pem" -passin "pass:$PASSPHRASE" -out "$work/$name.key.pem" \
		2>>"$STATE/logs/openssl.log" || die "decrypting $name's key failed"
}

# RSA x509 signer: openssl key + self-signed cert (delegation key type rsa-x509).
make_rsa_signer() {
	local name=$1 k="$STATE/keys" work="$STATE/work"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/$name.key.pem" \
		-out "$work/$name.crt" -days 3650 -subj "/CN=$name" 2>>"$STATE/logs/openssl.log"
	cp "$work/$name.crt" "$k/$name.pub.pem"
}

import_signer() { # import_signer NAME
	notary_cli "$NOTARY_URL" key import "$STATE/work/$1.key.pem" --role "targets/$1"
}

# init_repo SERVER GUN: Docker-style repo (server-managed snapshot).
init_repo() {
	notary_cli "$1" init "$2" -p
	notary_cli "$1" key rotate "$2" snapshot -r
}

sign_images() {
	local work="$STATE/work" m="$STATE/manifests" gun
	rm -rf "$STATE/trust" "$STATE/keys" "$STATE/private" "$work"
	mkdir -p "$STATE/trust" "$STATE/keys" "$work"
	export NOTARY_ROOT_PASSPHRASE=$PASSPHRASE NOTARY_TARGETS_PASSPHRASE=$PASSPHRASE \
		NOTARY_SNAPSHOT_PASSPHRASE=$PASSPHRASE NOTARY_DELEGATION_PASSPHRASE=$PASSPHRASE

	make_ecdsa_signer releaser
	make_ecdsa_signer alice
	make_rsa_signer bob
	make_ecdsa_signer mallory
	# Decrypted private keys, for tests that sign more metadata themselves.
	mkdir -p "$STATE/private"
	cp "$work"/{releaser,alice,bob,mallory}.key.pem "$STATE/private/"
	import_signer releaser
	import_signer alice
	import_signer bob
	local k="$STATE/keys"

	# test/signed: targets/releases only (key: releaser).
	gun="$REGISTRY/test/signed"
	init_repo "$NOTARY_URL" "$gun"
	notary_cli "$NOTARY_URL" delegation add "$gun" targets/releases "$k/releaser.pub.pem" --all-paths
	notary_cli "$NOTARY_URL" add "$gun" v1 "$m/test_signed_v1.json" --roles targets/releases
	notary_cli "$NOTARY_URL" add "$gun" v2 "$m/test_signed_v2.json" --roles targets/releases
	notary_cli "$NOTARY_URL" add "$gun" oci "$m/test_signed_oci.json" --roles targets/releases
	notary_cli "$NOTARY_URL" publish "$gun"

	# test/toplevel: no delegations, the tag is in the top-level targets role.
	gun="$REGISTRY/test/toplevel"
	init_repo "$NOTARY_URL" "$gun"
	notary_cli "$NOTARY_URL" add "$gun" v1 "$m/test_toplevel_v1.json"
	notary_cli "$NOTARY_URL" publish "$gun"

	# test/signers and test/onesigner: `docker trust signer add` for alice and bob.
	for gun in "$REGISTRY/test/signers" "$REGISTRY/test/onesigner"; do
		init_repo "$NOTARY_URL" "$gun"
		notary_cli "$NOTARY_URL" delegation add "$gun" targets/releases "$k/alice.pub.pem" "$k/bob.pub.pem" --all-paths
		notary_cli "$NOTARY_URL" delegation add "$gun" targets/alice "$k/alice.pub.pem" --all-paths
		notary_cli "$NOTARY_URL" delegation add "$gun" targets/bob "$k/bob.pub.pem" --all-paths
		notary_cli "$NOTARY_URL" publish "$gun"
	done
	gun="$REGISTRY/test/signers"
	notary_cli "$NOTARY_URL" add "$gun" v1 "$m/test_signers_v1.json" \
		--roles targets/releases --roles targets/alice --roles targets/bob
	notary_cli "$NOTARY_URL" publish "$gun"
	gun="$REGISTRY/test/onesigner"
	notary_cli "$NOTARY_URL" add "$gun" v1 "$m/test_onesigner_v1.json" \
		--roles targets/releases --roles targets/alice
	notary_cli "$NOTARY_URL" add "$gun" v2 "$m/test_onesigner_v2.json" \
		--roles targets/releases --roles targets/bob
	notary_cli "$NOTARY_URL" publish "$gun"

	# test/rotated: signed, then the root key is rotated (root.json signed by old and new root).
	gun="$REGISTRY/test/rotated"
	init_repo "$NOTARY_URL" "$gun"
	notary_cli "$NOTARY_URL" delegation add "$gun" targets/releases "$k/releaser.pub.pem" --all-paths
	notary_cli "$NOTARY_URL" add "$gun" v1 "$m/test_rotated_v1.json" --roles targets/releases
	notary_cli "$NOTARY_URL" publish "$gun"
	# It asks "Are you sure...? (yes/no)" on stdin and exits 0 even when it aborts: check.
	echo yes | notary_cli "$NOTARY_URL" key rotate "$gun" root
	curl -sf --cacert "$STATE/tls/ca.crt" "$NOTARY_URL/v2/$gun/_trust/tuf/root.json" |
		grep -q '"version":3' || die "root rotation of $gun did not publish root.json version 3"

	# test/token on the token-auth notary server (the CLI reads NOTARY_AUTH = base64 user:pass).
	gun="$REGISTRY/test/token"
	NOTARY_AUTH=$(printf '%s:%s' "$TOKEN_USER" "$TOKEN_PASSWORD" | base64 -w0)
	export NOTARY_AUTH
	init_repo "$NOTARY_TOKEN_URL" "$gun"
	notary_cli "$NOTARY_TOKEN_URL" delegation add "$gun" targets/releases "$k/alice.pub.pem" --all-paths
	notary_cli "$NOTARY_TOKEN_URL" delegation add "$gun" targets/alice "$k/alice.pub.pem" --all-paths
	notary_cli "$NOTARY_TOKEN_URL" add "$gun" v1 "$m/test_token_v1.json" \
		--roles targets/releases --roles targets/alice
	notary_cli "$NOTARY_TOKEN_URL" publish "$gun"
	unset NOTARY_AUTH
}

# ---------------------------------------------------------------------------------------
# outputs

IMAGES=(signed_v1 signed_v2 signed_oci unsigned_v1 toplevel_v1 signers_v1 onesigner_v1 onesigner_v2 rotated_v1 token_v1)
# Roles whose metadata lists each tag (what sign_images does).
declare -A SIGNED_BY=(
	[signed_v1]=targets/releases [signed_v2]=targets/releases [signed_oci]=targets/releases
	[unsigned_v1]="" [toplevel_v1]=targets
	[signers_v1]="targets/releases targets/alice targets/bob"
	[onesigner_v1]="targets/releases targets/alice" [onesigner_v2]="targets/releases targets/bob"
	[rotated_v1]=targets/releases [token_v1]="targets/releases targets/alice"
)

write_env() {
	local key upper tmp="$STATE/rig.env.tmp"
	{
		echo "# portieris test rig: source this file, or eval \"\$(scripts/rig.sh env)\""
		echo "PORTIERIS_RIG_DIR=$STATE"
		echo "PORTIERIS_RIG_CA=$STATE/tls/ca.crt"
		echo "PORTIERIS_RIG_CERT_DIR=$STATE/tls/certs.d"
		echo "PORTIERIS_RIG_REGISTRY=$REGISTRY"
		echo "PORTIERIS_RIG_REGISTRY_TOKEN=$REGISTRY_TOKEN"
		echo "PORTIERIS_RIG_REGISTRY_REFERRERS=$REGISTRY_REFERRERS"
		echo "PORTIERIS_RIG_NOTARY=$NOTARY_URL"
		echo "PORTIERIS_RIG_NOTARY_TOKEN=$NOTARY_TOKEN_URL"
		echo "PORTIERIS_RIG_TOKEN_REALM=$TOKEN_REALM"
		echo "PORTIERIS_RIG_TOKEN_ISSUER=$TOKEN_ISSUER"
		echo "PORTIERIS_RIG_TOKEN_USER=$TOKEN_USER"
		echo "PORTIERIS_RIG_TOKEN_PASSWORD=$TOKEN_PASSWORD"
		echo "PORTIERIS_RIG_TOKEN_CERT=$STATE/tls/token-signing.crt"
		echo "PORTIERIS_RIG_KEYS=$STATE/keys"
		echo "PORTIERIS_RIG_PRIVATE_KEYS=$STATE/private"
		echo "PORTIERIS_RIG_TRUST_DIR=$STATE/trust"
		echo "PORTIERIS_RIG_PASSPHRASE=$PASSPHRASE"
		for key in "${IMAGES[@]}"; do
			upper=${key^^}
			echo "PORTIERIS_RIG_DIGEST_$upper=${DIGEST[$key]}"
		done
	} >"$tmp"
	mv "$tmp" "$STATE/rig.env"
	python3 - "$STATE/rig.env" "$STATE/rig.json" "$REGISTRY" "${IMAGES[@]}" <<-'EOF'
		import json, sys
		env_path, out, registry, *images = sys.argv[1:]
		env = {}
		for line in open(env_path):
		    line = line.strip()
		    if line and not line.startswith("#"):
		        k, _, v = line.partition("=")
		        env[k] = v
		lengths, signed_by = {}, {}
		for line in open(out + ".images"):
		    key, length, roles = line.rstrip("\n").split("\t")
		    lengths[key] = length
		    signed_by[key] = roles.split()
		imgs = {}
		for key in images:
		    repo, tag = key.rsplit("_", 1)
		    imgs[key] = {
		        "image": f"{registry}/test/{repo}:{tag}",
		        "gun": f"{registry}/test/{repo}",
		        "tag": tag,
		        "digest": env["PORTIERIS_RIG_DIGEST_" + key.upper()],
		        "length": int(lengths[key]),
		        "signed_by": signed_by[key],
		        "notary": env["PORTIERIS_RIG_NOTARY_TOKEN"] if repo == "token" else env["PORTIERIS_RIG_NOTARY"],
		    }
		keys = env["PORTIERIS_RIG_KEYS"]
		signers = {n: f"{keys}/{n}.pub.pem" for n in ("releaser", "alice", "bob", "mallory")}
		doc = {"env": env, "images": imgs, "signers": signers}
		with open(out + ".tmp", "w") as f:
		    json.dump(doc, f, indent=2, sort_keys=True)
		    f.write("\n")
	EOF
	mv "$STATE/rig.json.tmp" "$STATE/rig.json"
	rm -f "$STATE/rig.json.images"
}

# ---------------------------------------------------------------------------------------
# commands

cmd_stop() {
	stop_all || return 0
	rm -f "$STATE/rig.env" "$STATE/rig.json"
}

cmd_start() {
	local t0=$SECONDS
	mkdir -p "$STATE/logs" "$STATE/run"
	# Concurrent starts (parallel test suites) queue here; the later ones then find it healthy.
	exec 9>"$STATE/run/start.lock"
	flock 9
	trap on_error ERR
	set_ports stored
	if healthy; then
		log "already running and healthy in $STATE (registry $REGISTRY, notary $NOTARY_URL)"
		return 0
	fi
	step "stopping leftovers from a previous start"
	cmd_stop
	set_ports
	save_ports
	rm -f "$STATE"/logs/*.log
	step "checking packages"
	install_packages
	step "building the referrers registry (once per machine; see scripts/referrers-registry-bin.sh)"
	REFERRERS_REGISTRY_BIN=$(bash "$HERE/referrers-registry-bin.sh" 2>>"$STATE/logs/go-build.log")
	step "making TLS certificates"
	make_tls
	step "writing service configs"
	write_configs
	rm -rf "$STATE/registry"
	mkdir -p "$STATE/registry"
	step "starting services"
	start_services
	step "pushing images with skopeo"
	push_images
	step "signing with the notary CLI"
	sign_images
	step "writing rig.env and rig.json"
	local key
	for key in "${IMAGES[@]}"; do
		printf '%s\t%s\t%s\n' "$key" "${LENGTH[$key]}" "${SIGNED_BY[$key]}"
	done >"$STATE/rig.json.images"
	write_env
	trap - ERR
	log "ready in $((SECONDS - t0)) s: eval \"\$($0 env $STATE)\""
}

cmd_env() {
	[[ -s $STATE/rig.env ]] || die "no rig in $STATE: run '$0 start $STATE' first"
	grep -v '^#' "$STATE/rig.env"
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
