#!/usr/bin/env bash
# bench/quick.sh: edgeloop, nginx and HAProxy side by side in front of one
# nginx origin, until `make bench` (the bench issue) replaces it.
#
# Each proxy gets one worker/thread/loop; wrk drives ROUNDS alternating
# rounds of SECS seconds with CONNS keep-alive connections against each;
# the script prints, per system and round, requests/s and the proxy's CPU
# microseconds per request (utime+stime of the proxy's processes, from
# /proc), then the medians and the ratios to the best peer.
#
#   bash bench/quick.sh            # ROUNDS=5 SECS=5 CONNS=64
#
# Loopback only; it starts and stops its own processes by PID.
set -euo pipefail
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
CONNS=${CONNS:-64}
ORIGIN_PORT=29001 EL_PORT=28080 NG_PORT=28081 HA_PORT=28082

source "$(dirname "$0")/lib.sh"
bench_setup quick nginx:nginx haproxy:haproxy wrk:wrk

mkdir -p "$TMP/ngo" "$TMP/ngp"
cat >"$TMP/ngo/nginx.conf" <<NG
worker_processes 1; daemon off; pid ngo.pid; error_log stderr warn;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 65s;
  client_body_temp_path tb; proxy_temp_path tp; fastcgi_temp_path tf; uwsgi_temp_path tu; scgi_temp_path ts;
  server { listen 127.0.0.1:$ORIGIN_PORT reuseport backlog=4096;
    location = / { return 200 "Hello, World!"; } } }
NG
cat >"$TMP/ngp/nginx.conf" <<NG
worker_processes 1; daemon off; pid ngp.pid; error_log stderr warn;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 65s;
  client_body_temp_path tb; proxy_temp_path tp; fastcgi_temp_path tf; uwsgi_temp_path tu; scgi_temp_path ts;
  upstream o { server 127.0.0.1:$ORIGIN_PORT; keepalive 128; keepalive_requests 1000000; }
  server { listen 127.0.0.1:$NG_PORT reuseport backlog=4096;
    location / { proxy_pass http://o; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
NG
cat >"$TMP/hap.cfg" <<HP
global
  nbthread 1
  maxconn 8192
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 30s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:$HA_PORT
  default_backend be
backend be
  http-reuse always
  server o 127.0.0.1:$ORIGIN_PORT maxconn 1000
HP

nginx -p "$TMP/ngo/" -e stderr -c "$TMP/ngo/nginx.conf" 2>>"$TMP/log" & PIDS+=($!)
wait_port $ORIGIN_PORT
"$TMP/edgeloop" -listen 127.0.0.1:$EL_PORT -origin http://127.0.0.1:$ORIGIN_PORT -loops 1 -state "$TMP/state.json" -admin 127.0.0.1:0 2>>"$TMP/log" & EL=$!; PIDS+=($EL)
nginx -p "$TMP/ngp/" -e stderr -c "$TMP/ngp/nginx.conf" 2>>"$TMP/log" & NG=$!; PIDS+=($NG)
haproxy -db -f "$TMP/hap.cfg" 2>>"$TMP/log" & HA=$!; PIDS+=($HA)
wait_port $EL_PORT; wait_port $NG_PORT; wait_port $HA_PORT

# cpu_ticks PID: utime+stime of PID and its children (nginx's worker).
cpu_ticks() {
	local t=0 p
	for p in "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		[ -r /proc/$p/stat ] && t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat)))
	done
	echo $t
}
HZ=$(getconf CLK_TCK)

declare -A RPS CPU
for r in $(seq "$ROUNDS"); do
	for sys in edgeloop nginx haproxy; do
		case $sys in edgeloop) port=$EL_PORT pid=$EL ;; nginx) port=$NG_PORT pid=$NG ;; haproxy) port=$HA_PORT pid=$HA ;; esac
		c0=$(cpu_ticks $pid)
		out=$(wrk -t1 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$port/" 2>&1)
		c1=$(cpu_ticks $pid)
		reqs=$(echo "$out" | awk '/requests in/ {print $1}')
		rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
		errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
		us=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="$reqs" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
		echo "round $r $sys rps=$rps cpu_us_per_req=$us $errs"
		RPS[$sys]+="$rps "
		CPU[$sys]+="$us "
	done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
printf '%-9s %12s %16s\n' system rps_median cpu_us_per_req
for sys in edgeloop nginx haproxy; do
	printf '%-9s %12s %16s\n' $sys "$(echo "${RPS[$sys]}" | median)" "$(echo "${CPU[$sys]}" | median)"
done
el_cpu=$(echo "${CPU[edgeloop]}" | median); ng_cpu=$(echo "${CPU[nginx]}" | median); ha_cpu=$(echo "${CPU[haproxy]}" | median)
awk -v e="$el_cpu" -v n="$ng_cpu" -v h="$ha_cpu" 'BEGIN {b = (n < h) ? n : h; printf "edgeloop CPU/request = %.2fx the better peer (nginx %.2fx, haproxy %.2fx)\n", e / b, e / n, e / h}'
