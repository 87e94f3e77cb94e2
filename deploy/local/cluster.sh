#!/usr/bin/env bash
# A local AutoCache cluster on loopback: one control service and N nodes, slots rebalanced.
#
#   deploy/local/cluster.sh start [N]   start control + N nodes (default 3), rebalance
#   deploy/local/cluster.sh stop        stop everything started here (PID files)
#   deploy/local/cluster.sh status      autocachectl status
#
# Ports: control 7000, node i RESP 7001+i, gRPC 17001+i (override with BASE_PORT / CONTROL_PORT).
# State lives in $CLUSTER_DIR (default ./local-cluster): data dirs, logs, PID files.
# Binaries: the release builds in the shared target dir, built if missing
# (AUTOCACHE_BIN_DIR=DIR uses the binaries in DIR instead).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/autocache-target}"
BIN="${AUTOCACHE_BIN_DIR:-$TARGET_DIR/release}"
CLUSTER_DIR="${CLUSTER_DIR:-$ROOT/local-cluster}"
CONTROL_PORT="${CONTROL_PORT:-7000}"
BASE_PORT="${BASE_PORT:-7001}"
CONTROL="127.0.0.1:$CONTROL_PORT"

die() { echo "cluster.sh: $*" >&2; exit 1; }

build() {
  if [[ ! -x "$BIN/autocache-node" || ! -x "$BIN/autocache-control" || ! -x "$BIN/autocachectl" ]]; then
    echo "building release binaries into $TARGET_DIR ..."
    (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release -p autocache-node -p autocache-control)
  fi
}

# wait_port HOST:PORT: until something accepts connections there (30 s at most).
wait_port() {
  local host=${1%:*} port=${1##*:}
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  die "nothing listens on $1"
}

start_proc() { # name, then the command line
  local name=$1; shift
  "$@" >"$CLUSTER_DIR/$name.log" 2>&1 &
  echo $! >"$CLUSTER_DIR/$name.pid"
}

ctl() { "$BIN/autocachectl" --control "http://$CONTROL" "$@"; }

start() {
  local n=${1:-3}
  [[ $n =~ ^[0-9]+$ && $n -ge 1 ]] || die "N must be a positive number"
  ls "$CLUSTER_DIR"/*.pid >/dev/null 2>&1 && die "already running (run '$0 stop' first)"
  build
  mkdir -p "$CLUSTER_DIR"
  start_proc control "$BIN/autocache-control" --addr "$CONTROL" --data-dir "$CLUSTER_DIR/control"
  wait_port "$CONTROL"
  for i in $(seq 0 $((n - 1))); do
    local port=$((BASE_PORT + i))
    start_proc "node$i" "$BIN/autocache-node" --addr "127.0.0.1:$port" \
      --grpc-addr "127.0.0.1:$((port + 10000))" --control "$CONTROL" \
      --data-dir "$CLUSTER_DIR/node$i"
    wait_port "127.0.0.1:$port"
  done
  # Every node registered before the rebalance spreads the slots.
  for _ in $(seq 1 100); do
    [[ $(ctl status 2>/dev/null | grep -c '127.0.0.1:') -ge $n ]] && break
    sleep 0.1
  done
  ctl rebalance
  echo
  echo "AutoCache cluster up: control $CONTROL, $n nodes on ports $BASE_PORT-$((BASE_PORT + n - 1))."
  echo "  redis-cli -c -p $BASE_PORT"
  echo "  redis-cli --cluster check 127.0.0.1:$BASE_PORT"
  echo "  $BIN/autocachectl --control http://$CONTROL status"
  echo "  $0 stop"
}

stop() {
  shopt -s nullglob
  local pids=("$CLUSTER_DIR"/*.pid)
  [[ ${#pids[@]} -gt 0 ]] || { echo "nothing running"; return 0; }
  for f in "${pids[@]}"; do
    local pid; pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
  done
  for f in "${pids[@]}"; do
    local pid; pid=$(cat "$f")
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$f"
  done
  echo "stopped (data kept in $CLUSTER_DIR)"
}

case "${1:-}" in
  start) start "${2:-3}" ;;
  stop) stop ;;
  status) ctl status ;;
  *) echo "usage: $0 start [N] | stop | status" >&2; exit 2 ;;
esac
