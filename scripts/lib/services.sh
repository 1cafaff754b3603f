# Sourced by scripts/rig.sh and scripts/sigstore.sh: how they start, find and stop the
# processes of their STATE directory. The caller defines STATE, HOST, log and die.

pidfile() { echo "$STATE/run/$1.pid"; }

# alive NAME: pid file exists and the process is one we started (cmdline mentions STATE).
alive() {
	local f pid cmdline
	f=$(pidfile "$1")
	[[ -f $f ]] || return 1
	pid=$(<"$f")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[[ -r /proc/$pid/cmdline ]] || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmdline == *"$STATE/"* ]]
}

# stop_service NAME: TERM, up to 10 s, then KILL.
stop_service() {
	local name=$1 f pid i
	f=$(pidfile "$name")
	if alive "$name"; then
		pid=$(<"$f")
		kill "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			[[ -e /proc/$pid ]] || break
			# A zombie (not reaped yet) counts as stopped.
			[[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && break
			sleep 0.1
		done
		if [[ -e /proc/$pid ]] && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
			kill -9 "$pid" 2>/dev/null || true
		fi
		log "stopped $name (pid $pid)"
	fi
	rm -f "$f"
}

# launch NAME CMD...: start in its own session, log to logs/NAME.log, record the pid.
launch() {
	local name=$1
	shift
	setsid "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null 9>&- &
	echo $! >"$(pidfile "$name")"
	# Until the child has exec'd, its command line is this script's: wait for that (10 s: a
	# machine busy compiling has been seen to take over 2 s to start a Python relay).
	local i
	for ((i = 0; i < 200; i++)); do
		alive "$name" && return 0
		sleep 0.05
	done
}

# port_in_use PORT: bash's /dev/tcp; a successful connect means something listens on HOST.
port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# stop_all: every service of SERVICES (the caller's start order), last started first.
stop_all() {
	local i
	[[ -d $STATE/run ]] || { log "nothing running in $STATE"; return 1; }
	for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
		stop_service "${SERVICES[$i]}"
	done
}

# ensure_packages COMMAND=PACKAGE...: installs (apt, as root) the Debian packages of the
# commands missing from PATH.
ensure_packages() {
	local missing=() pair pkg
	for pair in "$@"; do
		command -v "${pair%%=*}" >/dev/null 2>&1 || missing+=("${pair#*=}")
	done
	((${#missing[@]})) || return 0
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	[[ $(id -u) == 0 ]] || die "missing packages (${missing[*]}) and not root: apt-get install -y ${missing[*]}"
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >"$STATE/logs/apt.log" 2>&1
	apt-get install -y -qq --no-install-recommends "${missing[@]}" ca-certificates >>"$STATE/logs/apt.log" 2>&1
	for pkg in "${missing[@]}"; do
		# The docker-registry package starts a system registry on :5000 where systemd runs.
		if [[ $pkg == docker-registry ]] && command -v systemctl >/dev/null 2>&1; then
			systemctl stop docker-registry >/dev/null 2>&1 || true
			systemctl disable docker-registry >/dev/null 2>&1 || true
		fi
	done
}
