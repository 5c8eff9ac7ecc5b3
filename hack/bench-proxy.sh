#!/usr/bin/env bash
# Benchmark `trellis proxy` against a direct connection, nginx and haproxy, all on 127.0.0.1.
# trellis-2hop is sidecar to sidecar in plaintext, trellis-2hop-mtls the same path over mutual TLS
# 1.3 (static SPIFFE certificates from a throwaway openssl CA, verified on both sides).
#
#   hack/bench-proxy.sh              # one round (~3 minutes)
#   ROUNDS=3 hack/bench-proxy.sh     # median of 3 interleaved rounds
#
# Max throughput: wrk -t2 -c64 -d10s. Latency: fortio library, 2,000 req/s, 16 connections, 15 s,
# resolution 0.0001 s. Proxy CPU: utime+stime of the proxy process tree over the fixed-rate run.
# RSS: idle (after start) and under load (VmRSS halfway through the wrk run). "other CPU %" is machine busy time not
# used by our processes (noise from other tenants; runs above ~10% are suspect).
# Env: ROUNDS (1), MAX_DUR (10s), FIXED_DUR (15s), QPS (2000), CONCURRENCY (trellis GOMAXPROCS, 1),
# PORT_BASE (19000), TARGETS_OVERRIDE (a space-separated subset of the targets; direct and nginx
# are needed for the ratios).
set -euo pipefail

ROUNDS=${ROUNDS:-1}
MAX_DUR=${MAX_DUR:-10s}
FIXED_DUR=${FIXED_DUR:-15s}
QPS=${QPS:-2000}
CONCURRENCY=${CONCURRENCY:-1}
PB=${PORT_BASE:-19000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx)
command -v haproxy >/dev/null || need+=(haproxy)
if ((${#need[@]})); then
	echo "installing ${need[*]} with apt-get" >&2
	apt-get install -y "${need[@]}" >/dev/null
fi

WORK=$(mktemp -d /tmp/trellis-bench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

echo "building trellis and the bench helper..." >&2
(cd "$ROOT" && go build -o "$WORK/trellis" ./cmd/trellis && go build -o "$WORK/benchproxy" ./hack/benchproxy)

UP=$((PB + 80)) P1=$((PB + 1)) P2A=$((PB + 11)) P2B=$((PB + 12)) P3A=$((PB + 13)) P3B=$((PB + 14)) NG=$((PB + 21)) HA=$((PB + 31))

listener() { # name port route_cluster
	cat <<EOF
  - name: $1
    address: {socket_address: {address: 127.0.0.1, port_value: $2}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: $1
          route_config:
            name: $1
            virtual_hosts:
            - name: $1
              domains: ["*"]
              routes:
              - match: {prefix: "/"}
                route: {cluster: $3}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
EOF
}
cluster() { # name port
	cat <<EOF
  - name: $1
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: $1
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: $2}}}
EOF
}
{ echo "static_resources:"; echo "  listeners:"; listener outbound $P1 upstream; echo "  clusters:"; cluster upstream $UP; } >"$WORK/p1.yaml"
{ echo "static_resources:"; echo "  listeners:"; listener outbound $P2A next; echo "  clusters:"; cluster next $P2B; } >"$WORK/p2a.yaml"
{ echo "static_resources:"; echo "  listeners:"; listener inbound $P2B app; echo "  clusters:"; cluster app $UP; } >"$WORK/p2b.yaml"

# mTLS: a throwaway CA and one SPIFFE certificate per sidecar (ECDSA P-256, as the mesh CA issues).
mkcert() { # name
	openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/$1.key" 2>/dev/null
	openssl req -new -key "$WORK/$1.key" -subj "/O=trellis bench" -out "$WORK/$1.csr" 2>/dev/null
	printf "subjectAltName=URI:spiffe://cluster.local/ns/bench/sa/%s\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\n" "$1" >"$WORK/$1.ext"
	openssl x509 -req -in "$WORK/$1.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial -days 1 -extfile "$WORK/$1.ext" -out "$WORK/$1.pem" 2>/dev/null
}
openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/ca.key" 2>/dev/null
openssl req -x509 -new -key "$WORK/ca.key" -subj "/O=trellis bench/CN=bench CA" -days 1 -out "$WORK/ca.pem" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
mkcert client
mkcert server
secrets() { # name
	cat <<EOF
  secrets:
  - name: default
    tls_certificate:
      certificate_chain: {filename: $WORK/$1.pem}
      private_key: {filename: $WORK/$1.key}
  - name: ROOTCA
    validation_context:
      trusted_ca: {filename: $WORK/ca.pem}
EOF
}
{
	echo "static_resources:"
	echo "  listeners:"
	listener outbound $P3A next
	echo "  clusters:"
	cluster next $P3B
	cat <<EOF
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        common_tls_context:
          tls_params: {tls_minimum_protocol_version: TLSv1_3}
          tls_certificate_sds_secret_configs: [{name: default}]
          combined_validation_context:
            default_validation_context:
              match_typed_subject_alt_names: [{san_type: URI, matcher: {exact: "spiffe://cluster.local/ns/bench/sa/server"}}]
            validation_context_sds_secret_config: {name: ROOTCA}
EOF
	secrets client
} >"$WORK/p3a.yaml"
{
	echo "static_resources:"
	echo "  listeners:"
	listener inbound $P3B app
	cat <<EOF
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true
          common_tls_context:
            tls_params: {tls_minimum_protocol_version: TLSv1_3}
            tls_certificate_sds_secret_configs: [{name: default}]
            validation_context_sds_secret_config: {name: ROOTCA}
EOF
	echo "  clusters:"
	cluster app $UP
	secrets server
} >"$WORK/p3b.yaml"

cat >"$WORK/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  upstream up { server 127.0.0.1:$UP; keepalive 128; }
  server {
    listen 127.0.0.1:$NG;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
EOF
cat >"$WORK/haproxy.cfg" <<EOF
global
  nbthread 2
  maxconn 4000
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend fe
  bind 127.0.0.1:$HA
  default_backend be
backend be
  server s1 127.0.0.1:$UP
EOF

for port in $UP $P1 $P2A $P2B $P3A $P3B $NG $HA $((PB + 100)) $((PB + 101)) $((PB + 102)) $((PB + 103)) $((PB + 104)); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "port $port is already in use (set PORT_BASE to another range)" >&2
		exit 1
	fi
done
LAST=
start() { # logname cmd... ; sets LAST to the pid (no subshell, so cleanup knows every pid)
	local name=$1
	shift
	"$@" >"$WORK/$name.log" 2>&1 &
	LAST=$!
	PIDS+=("$LAST")
}
start upstream "$WORK/benchproxy" upstream 127.0.0.1:$UP
UP_PID=$LAST
start p1 "$WORK/trellis" proxy --bootstrap "$WORK/p1.yaml" --admin 127.0.0.1:$((PB + 100)) --concurrency "$CONCURRENCY" --log-level warn
P1_PID=$LAST
start p2a "$WORK/trellis" proxy --bootstrap "$WORK/p2a.yaml" --admin 127.0.0.1:$((PB + 101)) --concurrency "$CONCURRENCY" --identity bench --log-level warn
P2A_PID=$LAST
start p2b "$WORK/trellis" proxy --bootstrap "$WORK/p2b.yaml" --admin 127.0.0.1:$((PB + 102)) --concurrency "$CONCURRENCY" --log-level warn
P2B_PID=$LAST
start p3a "$WORK/trellis" proxy --bootstrap "$WORK/p3a.yaml" --admin 127.0.0.1:$((PB + 103)) --concurrency "$CONCURRENCY" --log-level warn
P3A_PID=$LAST
start p3b "$WORK/trellis" proxy --bootstrap "$WORK/p3b.yaml" --admin 127.0.0.1:$((PB + 104)) --concurrency "$CONCURRENCY" --log-level warn
P3B_PID=$LAST
start nginx nginx -c "$WORK/nginx.conf"
NG_PID=$LAST
start haproxy haproxy -db -f "$WORK/haproxy.cfg"
HA_PID=$LAST

for port in $UP $P1 $P2A $P3A $NG $HA; do
	for _ in $(seq 1 100); do
		curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
		sleep 0.1
	done
	curl -fsS -o /dev/null "http://127.0.0.1:$port/" || { echo "port $port not serving" >&2; exit 1; }
done
for p in "${PIDS[@]}"; do
	kill -0 "$p" 2>/dev/null || { echo "process $p exited early; logs in $WORK" >&2; exit 1; }
done
sleep 4 # the readiness probes above are activity: proxies trim memory after 2 s without connections

# tree PID...: the pids and their children.
tree() { for p in "$@"; do echo "$p"; pgrep -P "$p" || true; done; }
ticks() { # sum of utime+stime of the given pids
	local t=0 p f
	for p in "$@"; do
		if [[ -r /proc/$p/stat ]]; then
			f=$(sed 's/^.*) //' "/proc/$p/stat")
			set -- $f
			t=$((t + ${12} + ${13}))
		fi
	done
	echo $t
}
self_children() { local f; f=$(sed 's/^.*) //' /proc/$$/stat); set -- $f; echo $((${14} + ${15})); }
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
rss() { local field=$1 t=0 p v; shift; for p in "$@"; do v=$(awk -v f="$field:" '$1==f{print $2}' "/proc/$p/status" 2>/dev/null); t=$((t + ${v:-0})); done; echo $t; }
HZ=$(getconf CLK_TCK)

declare -A URL PROCS
URL[direct]="http://127.0.0.1:$UP/"
URL[trellis]="http://127.0.0.1:$P1/"
URL[trellis-2hop]="http://127.0.0.1:$P2A/"
URL[trellis-2hop-mtls]="http://127.0.0.1:$P3A/"
URL[nginx]="http://127.0.0.1:$NG/"
URL[haproxy]="http://127.0.0.1:$HA/"
PROCS[direct]=""
PROCS[trellis]="$P1_PID"
PROCS[trellis-2hop]="$P2A_PID $P2B_PID"
PROCS[trellis-2hop-mtls]="$P3A_PID $P3B_PID"
PROCS[nginx]="$(tree "$NG_PID" | tr '\n' ' ')"
PROCS[haproxy]="$HA_PID"
# shellcheck disable=SC2206
TARGETS=(${TARGETS_OVERRIDE:-direct trellis trellis-2hop trellis-2hop-mtls nginx haproxy})

declare -A IDLE
for t in "${TARGETS[@]}"; do
	# shellcheck disable=SC2086
	IDLE[$t]=$( [[ -n "${PROCS[$t]}" ]] && rss VmRSS ${PROCS[$t]} || echo 0)
done

RES="$WORK/results.tsv"
: >"$RES"
for round in $(seq 1 "$ROUNDS"); do
	for t in "${TARGETS[@]}"; do
		echo "round $round: $t" >&2
		b0=$(busy) s0=$(self_children) u0=$(ticks "$UP_PID")
		# shellcheck disable=SC2086
		p0=$(ticks ${PROCS[$t]})
		wrk -t2 -c64 -d"$MAX_DUR" "${URL[$t]}" >"$WORK/wrk.out" &
		wpid=$!
		sleep $((${MAX_DUR%s} / 2))
		# shellcheck disable=SC2086
		loaded=$( [[ -n "${PROCS[$t]}" ]] && rss VmRSS ${PROCS[$t]} || echo 0)
		wait "$wpid"
		rps=$(awk '/Requests\/sec/{print $2}' "$WORK/wrk.out")
		# shellcheck disable=SC2086
		p1=$(ticks ${PROCS[$t]})
		b1=$(busy) s1=$(self_children) u1=$(ticks "$UP_PID")
		maxcpu=$(((p1 - p0) * 1000 / HZ))
		other=$(awk -v b=$((b1 - b0)) -v o=$(((p1 - p0) + (s1 - s0) + (u1 - u0))) -v hz="$HZ" -v d="${MAX_DUR%s}" 'BEGIN{x=(b-o)/(hz*d*2)*100; if(x<0)x=0; printf "%.0f", x}')
		sleep 1
		# shellcheck disable=SC2086
		c0=$(ticks ${PROCS[$t]})
		fixed=$("$WORK/benchproxy" load "${URL[$t]}" "$QPS" 16 "$FIXED_DUR")
		# shellcheck disable=SC2086
		c1=$(ticks ${PROCS[$t]})
		cnt=$(echo "$fixed" | sed 's/.*"count":\([0-9]*\).*/\1/')
		cpu=$(awk -v d=$(((c1 - c0) * 1000 / HZ)) -v n="$cnt" 'BEGIN{ if(n>0) printf "%.1f", d*1000/n; else print "-"}')
		maxcpu_k=$(awk -v d="$maxcpu" -v r="$rps" -v s="${MAX_DUR%s}" 'BEGIN{ if(r>0) printf "%.1f", d*1000/(r*s); else print "-"}')
		p50=$(echo "$fixed" | sed 's/.*"p50_ms":\([0-9.e+-]*\).*/\1/')
		p99=$(echo "$fixed" | sed 's/.*"p99_ms":\([0-9.e+-]*\).*/\1/')
		p999=$(echo "$fixed" | sed 's/.*"p999_ms":\([0-9.e+-]*\).*/\1/')
		errs=$(echo "$fixed" | sed 's/.*"errors":\([0-9]*\).*/\1/')
		printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$t" "$rps" "$p50" "$p99" "$p999" "$cpu" "$maxcpu_k" "${IDLE[$t]}" "$loaded" "$other" "$errs" >>"$RES"
		sleep 1
	done
done

# Median per target and Markdown table.
awk -F'\t' -v rounds="$ROUNDS" '
function median(s,   a, n, i, j, t) { n = split(s, a, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t } return a[int((n + 1) / 2)] }
{ for (k = 2; k <= 11; k++) v[$1, k] = v[$1, k] " " $k; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
END {
  for (i = 1; i <= n; i++) for (k = 2; k <= 11; k++) m[order[i], k] = median(v[order[i], k])
  ng = m["nginx", 2]; d50 = m["direct", 3]; d99 = m["direct", 4]; d999 = m["direct", 5]
  printf "| config | max req/s (wrk -t2 -c64) | × nginx | × direct | p50 ms | p99 ms | p99.9 ms | added p50 / p99 / p99.9 vs direct | CPU-ms per 1k req at %s/s | CPU-ms per 1k at max | idle RSS MB | RSS MB under max load | other CPU %% | errors |\n", "'"$QPS"'"
  print "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for (i = 1; i <= n; i++) {
    t = order[i]
    added = (t == "direct") ? "—" : sprintf("%+.2f / %+.2f / %+.2f", m[t,3] - d50, m[t,4] - d99, m[t,5] - d999)
    cpu = (t == "direct") ? "—" : m[t,6]; cpumax = (t == "direct") ? "—" : m[t,7]
    idle = (t == "direct") ? "—" : sprintf("%.1f", m[t,8] / 1024); peak = (t == "direct") ? "—" : sprintf("%.1f", m[t,9] / 1024)
    printf "| %s | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %s | %s | %s | %s | %s | %s |\n", t, m[t,2], (ng > 0 ? m[t,2] / ng : 0), m[t,2] / m["direct",2], m[t,3], m[t,4], m[t,5], added, cpu, cpumax, idle, peak, m[t,10], m[t,11]
  }
  printf "\nmedian of %d round(s); trellis proxy GOMAXPROCS=%s\n", rounds, "'"$CONCURRENCY"'"
}' "$RES"
