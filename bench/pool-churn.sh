#!/usr/bin/env bash
# bench/pool-churn.sh: what a live pool costs. Two edgeloops in front of
# the same 100 origin ports (one nginx worker listening on all of them,
# 13-byte body): "static" with health checks off and no API calls, and
# "churn" with active health checks of all 100 servers every second and
# 5 management API changes a second (a server deleted, then added back)
# while wrk drives it. ROUNDS alternating rounds of SECS seconds with
# CONNS keep-alive connections; medians of requests/s and of the proxy's
# CPU microseconds per request, and the ratios churn/static.
#
#   bash bench/pool-churn.sh            # ROUNDS=5 SECS=5 CONNS=64
#
# Loopback only; it starts and stops its own processes by PID.
set -euo pipefail
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
CONNS=${CONNS:-64}
FIRST=29101 N=100 STATIC=28090 CHURN=28091

source "$(dirname "$0")/lib.sh"
bench_setup churn nginx:nginx wrk:wrk python3:python3

mkdir -p "$TMP/ngo"
{
	echo "worker_processes 1; daemon off; pid ngo.pid; error_log stderr warn;"
	echo "events { worker_connections 8192; }"
	echo "http { access_log off; keepalive_requests 1000000; keepalive_timeout 65s;"
	echo "  client_body_temp_path tb; proxy_temp_path tp; fastcgi_temp_path tf; uwsgi_temp_path tu; scgi_temp_path ts;"
	echo "  server {"
	for i in $(seq 0 $((N - 1))); do echo "    listen 127.0.0.1:$((FIRST + i));"; done
	echo '    location / { return 200 "Hello, World!"; } } }'
} >"$TMP/ngo/nginx.conf"

pool_yaml() { # pool_yaml CHECKS(true|false)
	echo "pools:"
	echo "  default:"
	echo "    health_check: {enabled: $1, interval: 1s, timeout: 1s}"
	echo "    servers:"
	for i in $(seq 0 $((N - 1))); do echo "      - {url: http://127.0.0.1:$((FIRST + i))}"; done
}
pool_yaml false >"$TMP/static.yaml"
pool_yaml true >"$TMP/churn.yaml"

nginx -p "$TMP/ngo/" -e stderr -c "$TMP/ngo/nginx.conf" 2>>"$TMP/log" & PIDS+=($!)
wait_port $FIRST
"$TMP/edgeloop" -config "$TMP/static.yaml" -listen 127.0.0.1:$STATIC -admin 127.0.0.1:28697 -loops 1 \
	-state "$TMP/static.state.json" 2>>"$TMP/log" & SP=$!; PIDS+=($SP)
"$TMP/edgeloop" -config "$TMP/churn.yaml" -listen 127.0.0.1:$CHURN -admin 127.0.0.1:28698 -loops 1 \
	-state "$TMP/churn.state.json" 2>>"$TMP/log" & CP=$!; PIDS+=($CP)
wait_port $STATIC; wait_port $CHURN; wait_port 28698

# churn SECONDS: 5 API changes a second against the churn proxy's admin
# API, bounded by count, from one keep-alive client (a curl process per
# call would itself cost the 2 cores more than the proxy's work); each
# change alternately deletes and re-adds the last server.
churn() {
	python3 - "$1" "$((FIRST + N - 1))" <<'PY'
import http.client, sys, time
secs, port = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", 28698, timeout=5)
start = time.monotonic()
for i in range(secs * 5):
    if i % 2 == 0:
        c.request("DELETE", f"/servers/127.0.0.1/{port}")
    else:
        c.request("POST", "/servers", body=f'{{"url":"http://127.0.0.1:{port}"}}')
    c.getresponse().read()
    time.sleep(max(0, start + (i + 1) / 5 - time.monotonic()))
PY
}

# cpu_ticks PID: utime+stime in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
run() { # run NAME PORT PID
	local t0 t1 out rps n
	if [ "$1" = churn ] && [ "${CHURN_API:-1}" = 1 ]; then churn "$SECS" & local cpid=$!; fi
	t0=$(cpu_ticks "$3")
	out=$(wrk -t1 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$2/" 2>/dev/null)
	t1=$(cpu_ticks "$3")
	if [ -n "${cpid:-}" ]; then wait "$cpid" 2>/dev/null || true; fi
	rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
	n=$(awk '/requests in/ {print $1}' <<<"$out")
	echo "$1 $rps $(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz * 1e6 / n}')" | tee -a "$TMP/runs"
}
for s in static churn; do wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$([ $s = static ] && echo $STATIC || echo $CHURN)/" >/dev/null; done
for r in $(seq 1 "$ROUNDS"); do
	run static $STATIC $SP
	run churn $CHURN $CP
done
python3 - "$TMP/runs" <<'PY'
import sys, statistics as st
r = {}
for line in open(sys.argv[1]):
    s, rps, us = line.split()
    r.setdefault(s, []).append((float(rps), float(us)))
m = {s: (st.median(x[0] for x in v), st.median(x[1] for x in v)) for s, v in r.items()}
for s, (rps, us) in m.items():
    print(f"{s:8s} {rps:10.0f} rps {us:7.2f} us CPU/request")
print(f"churn/static: rps x{m['churn'][0] / m['static'][0]:.3f}, CPU/request x{m['churn'][1] / m['static'][1]:.3f}")
PY
