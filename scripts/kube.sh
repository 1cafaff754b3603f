#!/usr/bin/env bash
# A Kubernetes control plane on loopback for the end-to-end tests: etcd, kube-apiserver and
# kube-controller-manager (no scheduler, no kubelet: pods stay Pending), built once from the Go
# module proxy by scripts/kube-bin.sh, with helm from scripts/helm.sh.
#
#   scripts/kube.sh start  [STATE_DIR]   start what is not running, wait until ready (idempotent)
#   scripts/kube.sh stop   [STATE_DIR]   stop what `start` started
#   scripts/kube.sh status [STATE_DIR]   exit 0 if everything runs and the API server is ready
#   scripts/kube.sh env    [STATE_DIR]   print `export KUBECONFIG=… PATH=…` (eval "$(…)")
#   scripts/kube.sh clean  [STATE_DIR]   stop, then delete STATE_DIR (etcd data included)
#
# STATE_DIR defaults to ${PORTIERIS_KUBE_DIR:-/tmp/portieris-kube}. It holds kubeconfig (a
# cluster-admin client certificate), bin/ (kubectl, helm and the servers), pki/, logs/, run/.
# Ports on 127.0.0.1, overridable: PORTIERIS_KUBE_APISERVER_PORT (6443),
# PORTIERIS_KUBE_ETCD_PORT (2379), PORTIERIS_KUBE_ETCD_PEER_PORT (2380),
# PORTIERIS_KUBE_CONTROLLER_MANAGER_PORT (10257).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CMD=${1:-}
STATE=${2:-${PORTIERIS_KUBE_DIR:-/tmp/portieris-kube}}
HOST=127.0.0.1
# Loopback only: never route the control plane's own calls (webhooks included) via a proxy.
export NO_PROXY=127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY} no_proxy=127.0.0.1,localhost${no_proxy:+,$no_proxy}

# Only what the tests need: workloads and their children, namespaces, garbage collection.
CONTROLLERS=deployment-controller,replicaset-controller,replicationcontroller-controller
CONTROLLERS+=,statefulset-controller,daemonset-controller,job-controller,cronjob-controller
CONTROLLERS+=,serviceaccount-controller,namespace-controller,garbage-collector-controller
CONTROLLERS+=,root-ca-certificate-publisher-controller,disruption-controller
CONTROLLERS+=,endpointslice-controller,clusterrole-aggregation-controller

log() { printf 'kube: %s\n' "$*" >&2; }
die() {
	printf 'kube: error: %s\n' "$*" >&2
	exit 1
}

set_ports() {
	APISERVER_PORT=${PORTIERIS_KUBE_APISERVER_PORT:-6443}
	ETCD_PORT=${PORTIERIS_KUBE_ETCD_PORT:-2379}
	ETCD_PEER_PORT=${PORTIERIS_KUBE_ETCD_PEER_PORT:-2380}
	KCM_PORT=${PORTIERIS_KUBE_CONTROLLER_MANAGER_PORT:-10257}
	# A running cluster keeps the ports it was started with.
	if [[ -s $STATE/run/ports.env ]]; then
		# shellcheck source=/dev/null
		source "$STATE/run/ports.env"
	fi
	SERVER=https://$HOST:$APISERVER_PORT
}

save_ports() {
	cat >"$STATE/run/ports.env" <<-EOF
		APISERVER_PORT=$APISERVER_PORT
		ETCD_PORT=$ETCD_PORT
		ETCD_PEER_PORT=$ETCD_PEER_PORT
		KCM_PORT=$KCM_PORT
	EOF
}

# running NAME: its pid file names a live process.
running() {
	local pid
	[[ -s $STATE/run/$1.pid ]] || return 1
	pid=$(<"$STATE/run/$1.pid")
	kill -0 "$pid" 2>/dev/null
}

# launch NAME BINARY ARGS...: in the background, detached from this shell, logging to logs/.
launch() {
	local name=$1
	shift
	if running "$name"; then
		return
	fi
	log "starting $name"
	setsid "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null &
	echo $! >"$STATE/run/$name.pid"
}

# wait_for WHAT SECONDS COMMAND...: until COMMAND succeeds, or fail showing the log of WHAT.
wait_for() {
	local what=$1 seconds=$2
	shift 2
	local deadline=$((SECONDS + seconds))
	until "$@" >/dev/null 2>&1; do
		if ! running "$what"; then
			tail -n 30 "$STATE/logs/$what.log" >&2 || true
			die "$what exited (log: $STATE/logs/$what.log)"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 30 "$STATE/logs/$what.log" >&2 || true
			die "$what not ready within ${seconds}s (log: $STATE/logs/$what.log)"
		fi
		sleep 0.2
	done
}

api() {
	curl -fsS --max-time 5 --cacert "$STATE/pki/ca.crt" --cert "$STATE/pki/admin.crt" \
		--key "$STATE/pki/admin.key" "$SERVER$1"
}

binaries() {
	mkdir -p "$STATE/bin"
	local name path
	for name in etcd kube-apiserver kube-controller-manager kubectl; do
		path=$(bash "$HERE/kube-bin.sh" "$name")
		ln -sf "$path" "$STATE/bin/$name"
	done
	path=$(bash "$HERE/helm.sh")
	ln -sf "$path" "$STATE/bin/helm"
}

# cert NAME SUBJECT [EXTENSIONS]: a key and a certificate signed by the cluster CA.
cert() {
	local name=$1 subject=$2 ext=${3:-}
	local pki=$STATE/pki
	[[ -s $pki/$name.crt ]] && return
	openssl genrsa -out "$pki/$name.key" 2048 2>/dev/null
	openssl req -new -key "$pki/$name.key" -subj "$subject" -out "$pki/$name.csr" 2>/dev/null
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n%s\n' "$ext" >"$pki/$name.ext"
	openssl x509 -req -sha256 -days 3650 -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
		-CAcreateserial -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
	rm -f "$pki/$name.csr" "$pki/$name.ext"
}

pki() {
	local pki=$STATE/pki
	mkdir -p "$pki"
	chmod 700 "$pki"
	if [[ ! -s $pki/ca.crt ]]; then
		openssl genrsa -out "$pki/ca.key" 2048 2>/dev/null
		openssl req -x509 -new -key "$pki/ca.key" -sha256 -days 3650 -subj "/CN=portieris-test-kube-ca" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
			-out "$pki/ca.crt" 2>/dev/null
	fi
	cert apiserver "/CN=kube-apiserver" \
		"extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	# Both in system:masters: cluster-admin whatever the RBAC rules say.
	cert admin "/O=system:masters/CN=portieris-test-admin" "extendedKeyUsage=clientAuth"
	cert controller-manager "/O=system:masters/CN=system:kube-controller-manager" "extendedKeyUsage=clientAuth"
	if [[ ! -s $pki/sa.key ]]; then
		openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
		openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
	fi
}

# kubeconfig FILE USER: embedded credentials, so the file can be copied around.
kubeconfig() {
	local file=$1 user=$2
	local b64='base64 -w0'
	cat >"$file.tmp" <<-EOF
		apiVersion: v1
		kind: Config
		clusters:
		- name: portieris-test
		  cluster:
		    server: $SERVER
		    certificate-authority-data: $($b64 <"$STATE/pki/ca.crt")
		users:
		- name: $user
		  user:
		    client-certificate-data: $($b64 <"$STATE/pki/$user.crt")
		    client-key-data: $($b64 <"$STATE/pki/$user.key")
		contexts:
		- name: portieris-test
		  context:
		    cluster: portieris-test
		    user: $user
		current-context: portieris-test
	EOF
	chmod 600 "$file.tmp"
	mv "$file.tmp" "$file"
}

cmd_start() {
	set_ports
	if cmd_status 2>/dev/null; then
		log "already running: $SERVER (KUBECONFIG=$STATE/kubeconfig)"
		return
	fi
	command -v openssl >/dev/null || die "openssl is required"
	command -v curl >/dev/null || die "curl is required"
	mkdir -p "$STATE/logs" "$STATE/run" "$STATE/etcd"
	save_ports
	binaries
	pki
	kubeconfig "$STATE/kubeconfig" admin
	kubeconfig "$STATE/controller-manager.kubeconfig" controller-manager
	local bin=$STATE/bin pki=$STATE/pki

	launch etcd "$bin/etcd" --name portieris-test --data-dir "$STATE/etcd" \
		--listen-client-urls "http://$HOST:$ETCD_PORT" --advertise-client-urls "http://$HOST:$ETCD_PORT" \
		--listen-peer-urls "http://$HOST:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
		--initial-cluster "portieris-test=http://$HOST:$ETCD_PEER_PORT" \
		--unsafe-no-fsync --log-level warn
	wait_for etcd 30 curl -fsS --max-time 2 "http://$HOST:$ETCD_PORT/health"

	launch kube-apiserver "$bin/kube-apiserver" \
		--etcd-servers "http://$HOST:$ETCD_PORT" \
		--bind-address "$HOST" --advertise-address "$HOST" --secure-port "$APISERVER_PORT" \
		--tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
		--cert-dir "$STATE/run/apiserver-certs" \
		--client-ca-file "$pki/ca.crt" \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
		--authorization-mode RBAC \
		--service-cluster-ip-range 10.0.0.0/24 \
		--endpoint-reconciler-type none \
		--allow-privileged=true \
		--profiling=false
	wait_for kube-apiserver 90 api /readyz

	launch kube-controller-manager "$bin/kube-controller-manager" \
		--kubeconfig "$STATE/controller-manager.kubeconfig" \
		--authentication-kubeconfig "$STATE/controller-manager.kubeconfig" \
		--authorization-kubeconfig "$STATE/controller-manager.kubeconfig" \
		--bind-address "$HOST" --secure-port "$KCM_PORT" \
		--service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
		--service-cluster-ip-range 10.0.0.0/24 \
		--controllers "$CONTROLLERS" \
		--leader-elect=false \
		--concurrent-deployment-syncs 10 --concurrent-replicaset-syncs 10 \
		--profiling=false
	wait_for kube-controller-manager 60 curl -fsSk --max-time 2 "https://$HOST:$KCM_PORT/healthz"
	# The service account controller runs: new namespaces get their `default` ServiceAccount,
	# without which no pod can be created.
	wait_for kube-controller-manager 60 api /api/v1/namespaces/default/serviceaccounts/default
	log "ready: $SERVER (KUBECONFIG=$STATE/kubeconfig)"
}

cmd_stop() {
	set_ports
	local name pid
	for name in kube-controller-manager kube-apiserver etcd; do
		if running "$name"; then
			pid=$(<"$STATE/run/$name.pid")
			log "stopping $name ($pid)"
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 50); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -9 "$pid" 2>/dev/null || true
		fi
		rm -f "$STATE/run/$name.pid"
	done
}

cmd_status() {
	set_ports
	local name
	for name in etcd kube-apiserver kube-controller-manager; do
		running "$name" || {
			log "$name is not running"
			return 1
		}
	done
	api /readyz >/dev/null || {
		log "kube-apiserver is not ready"
		return 1
	}
}

cmd_env() {
	[[ -s $STATE/kubeconfig ]] || die "no cluster in $STATE: start it: scripts/kube.sh start"
	printf 'export PORTIERIS_KUBE_DIR=%q\n' "$STATE"
	printf 'export KUBECONFIG=%q\n' "$STATE/kubeconfig"
	# shellcheck disable=SC2016 # $PATH is expanded by the shell that evals this
	printf 'export PATH=%q:"$PATH"\n' "$STATE/bin"
}

case $CMD in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) cmd_env ;;
clean)
	cmd_stop
	rm -rf "$STATE"
	;;
*)
	sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
