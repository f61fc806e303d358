# bench/lib.sh: what the bench scripts share. Source it after `set -euo
# pipefail`, then call bench_setup with the commands the script needs
# (command:debian-package ...) and a name for its temporary directory:
#
#   bench_setup quick nginx:nginx wrk:wrk
#
# It moves to the repository's root, installs what is missing with
# apt-get, makes $TMP (removed at exit), builds $TMP/edgeloop, and stops
# every PID the script appends to PIDS when it exits, however it exits.

bench_setup() {
	local name=$1 c need=()
	shift
	cd "$(dirname "${BASH_SOURCE[0]}")/.."
	for c in "$@"; do command -v "${c%%:*}" >/dev/null || need+=("${c##*:}"); done
	if [ ${#need[@]} -gt 0 ]; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	fi
	TMP=$(mktemp -d "/tmp/el$name.XXXXXX")
	chmod 755 "$TMP"
	PIDS=()
	trap bench_cleanup EXIT
	go build -o "$TMP/edgeloop" ./cmd/edgeloop
}

bench_cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.3
	rm -rf "$TMP"
}

# wait_port PORT: until something listens on 127.0.0.1:PORT (10 s).
wait_port() {
	local i
	for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done
	echo "nothing on :$1" >&2
	exit 1
}
