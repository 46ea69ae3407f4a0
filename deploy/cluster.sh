#!/usr/bin/env bash
# aeviz as a course of 300 runs it, on one machine for trying it out: a Ray head and a worker node, N Streamlit
# replicas sharing one AEVIZ_HOME and training on that Ray cluster, and nginx in front of them.
#
#   deploy/cluster.sh up [REPLICAS]   start everything (default 2 replicas); prints the address to open
#   deploy/cluster.sh down            stop everything it started (by the process groups it recorded)
#   deploy/cluster.sh status          which of its processes still run
#
# Settings (environment): AEVIZ_HOME (default $RUN/home: models, workspaces, jobs), RUN (default
# deploy/run: pids, logs, nginx.conf), LISTEN (127.0.0.1:8080), FIRST_PORT (8501: replicas use 8501, 8502, ...),
# RAY_PORT (6380; outside 10002-19999, Ray's worker ports), RAY_CPUS (the worker node's CPUs; default all), plus any AEVIZ_* setting, passed to every replica
# and from them to the jobs. Needs `pip install -e ".[cluster]"` and nginx on PATH or at /usr/sbin/nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
RUN=${RUN:-$REPO/deploy/run}
LISTEN=${LISTEN:-127.0.0.1:8080}
FIRST_PORT=${FIRST_PORT:-8501}
RAY_PORT=${RAY_PORT:-6380}
RAY_CPUS=${RAY_CPUS:-$(nproc)}
RAY_TEMP=${RAY_TEMP:-/tmp/aeviz-ray-$RAY_PORT}  # short: Ray's socket paths must stay under 107 characters
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
export AEVIZ_HOME=${AEVIZ_HOME:-$RUN/home}
export AEVIZ_RAY_ADDRESS=127.0.0.1:$RAY_PORT PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH} RAY_USAGE_STATS_ENABLED=0

# Start a command in a session (process group) of its own, its output in $RUN/<name>.log and its pid (= its
# group's id) in $RUN/<name>.pid, so `down` (or a test) stops exactly it and every process it started.
spawn() {
  local name=$1; shift
  setsid "$@" >"$RUN/$name.log" 2>&1 < /dev/null &
  echo $! >"$RUN/$name.pid"
}

wait_for() {  # wait_for SECONDS NAME COMMAND...: poll until the command succeeds, while $RUN/NAME.pid runs
  local seconds=$1 name=$2; shift 2
  for _ in $(seq "$seconds"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null || break
    sleep 1
  done
  echo "error: $name did not come up; see $RUN/$name.log" >&2
  return 1
}

ray_node() {  # ray_node NAME ARGS...: start a Ray node and wait until `ray start` says it runs
  # Ray gives a raylet 30 s to register, which a loaded machine can miss: `ray start` then exits; start it again.
  local name=$1; shift
  for _ in 1 2 3; do
    # each node's agent on a port of its own: two nodes on one machine would both want Ray's default 52365
    spawn "$name" ray start --block --node-ip-address=127.0.0.1 --disable-usage-stats --temp-dir="$RAY_TEMP" \
      --dashboard-agent-listen-port="$(free_port)" "$@"
    for _ in $(seq 360); do
      grep -q "Ray runtime started" "$RUN/$name.log" && return 0
      kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null || break
      sleep 0.5
    done
  done
  echo "error: the Ray node $name did not start; see $RUN/$name.log" >&2
  return 1
}

free_port() { python -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }

healthy() { python -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=5).read()" "$1"; }

up() {
  local replicas=${1:-2}
  mkdir -p "$RUN/nginx-tmp" "$AEVIZ_HOME"
  # One cookie secret for every replica: Streamlit signs its XSRF cookie with it, so a browser that moves to
  # another replica (its own went down) can still upload.
  [ -s "$RUN/cookie_secret" ] || python -c "import secrets; print(secrets.token_hex(32))" >"$RUN/cookie_secret"
  ray_node ray-head --head --port="$RAY_PORT" --num-cpus=0 --include-dashboard=false  # jobs run on workers
  ray_node ray-worker --address="$AEVIZ_RAY_ADDRESS" --num-cpus="$RAY_CPUS"
  local servers=() port
  for i in $(seq "$replicas"); do
    port=$((FIRST_PORT + i - 1))
    STREAMLIT_SERVER_COOKIE_SECRET=$(cat "$RUN/cookie_secret") spawn "replica-$i" python -m streamlit run app.py \
      --server.port "$port" --server.address 127.0.0.1 --server.headless true --browser.gatherUsageStats false
    servers+=("127.0.0.1:$port")
  done
  python deploy/nginxconf.py "$RUN" "$LISTEN" "${servers[@]}" >/dev/null
  "$NGINX" -t -q -p "$RUN" -c "$RUN/nginx.conf"
  spawn nginx "$NGINX" -p "$RUN" -c "$RUN/nginx.conf" -g "daemon off;"
  for i in $(seq "$replicas"); do
    wait_for 240 "replica-$i" healthy "http://127.0.0.1:$((FIRST_PORT + i - 1))/_stcore/health"
  done
  wait_for 30 nginx healthy "http://$LISTEN/_stcore/health"
  echo "aeviz: http://$LISTEN ($replicas replicas, Ray at $AEVIZ_RAY_ADDRESS, AEVIZ_HOME=$AEVIZ_HOME)"
}

down() {
  local pids=() pid
  for f in "$RUN"/nginx.pid "$RUN"/replica-*.pid "$RUN"/ray-worker.pid "$RUN"/ray-head.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill -TERM -- "-$pid" 2>/dev/null && pids+=("$pid")
    rm -f "$f"
  done
  for _ in $(seq 30); do  # ray start --block stops its node's processes on SIGTERM; give it time, then insist
    local alive=0
    for pid in "${pids[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 1
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  rm -rf "$RAY_TEMP"
}

status() {
  for f in "$RUN"/*.pid; do
    [ -f "$f" ] || continue
    if kill -0 -- "-$(cat "$f")" 2>/dev/null; then echo "$(basename "$f" .pid): running"; else echo "$(basename "$f" .pid): gone"; fi
  done
}

case "${1:-}" in
  up) up "${2:-2}" ;;
  down) down ;;
  status) status ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
