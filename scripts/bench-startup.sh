#!/usr/bin/env bash
# Startup benchmark for PictureDeck: binary size, start-to-first-/healthz-200 time on an
# existing data dir, and idle memory. See docs/benchmarks.md for what is measured and why.
#
#   bash scripts/bench-startup.sh              # build the release binary, then measure
#   bash scripts/bench-startup.sh --no-build   # measure the binary that is already built
#
# Environment:
#   BENCH_RUNS=21         startup runs (median / p90 are taken over these)
#   BENCH_TIMEOUT_MS=10000  give up on a run when /healthz has not answered 200 by then
#   BENCH_BIN=PATH        binary to measure (default: $CARGO_TARGET_DIR/release/picturedeck)
#   CARGO_TARGET_DIR      where cargo puts the build (default: what `cargo metadata` says)
#
# This is a measurement, not a test: it exits 0 even when a target is missed. It exits
# non-zero when the build fails or the server never becomes healthy.
# Everything listens on 127.0.0.1 only; the temp dir and any server it started are removed
# on exit, including on Ctrl-C.
set -euo pipefail

# --- targets -----------------------------------------------------------------------------
TARGET_BINARY_MB=40
TARGET_STARTUP_MEDIAN_MS=150
TARGET_IDLE_RSS_MB=40

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }

BUILD=1
for arg in "$@"; do
    case "$arg" in
        --no-build) BUILD=0 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

RUNS=${BENCH_RUNS:-21}
TIMEOUT_MS=${BENCH_TIMEOUT_MS:-10000}
for v in RUNS TIMEOUT_MS; do
    if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
        echo "$v must be a positive integer (got '${!v}')" >&2
        exit 2
    fi
done

for tool in curl python3 awk sort date; do
    command -v "$tool" >/dev/null || { echo "missing required tool: $tool" >&2; exit 2; }
done
if [[ $(date +%N) == *N* ]]; then
    echo "date +%N is not supported here (GNU date is needed for ns timestamps)" >&2
    exit 2
fi

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

# --- temp dir, processes, cleanup ----------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pd-bench.XXXXXX")
DATA="$WORK/data"
SERVER_PID=""

cleanup() {
    local rc=$?
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Server settings come only from this script: no ./picturedeck.toml (the server runs in the
# temp dir) and no PICTUREDECK__* variables from the caller's environment.
while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep '^PICTUREDECK__' || true)
# Keep curl on loopback even when a proxy is configured.
CURL=(curl -q --noproxy '*' -s -o /dev/null)

now_ns() { date +%s%N; }

# ns -> "12.3" (ms, one decimal)
ns_to_ms() { awk -v ns="$1" 'BEGIN { printf "%.1f", ns / 1e6 }'; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_server PORT: spawns the server in the background and sets SERVER_PID.
start_server() {
    (cd "$WORK" && exec "$BIN" --serve --data-dir "$DATA" --bind "127.0.0.1:$1") \
        >"$WORK/server.out" 2>"$WORK/server.err" &
    SERVER_PID=$!
}

# wait_healthy PORT START_NS: polls /healthz until it answers 200. Sets HEALTHY_NS.
# Returns 1 when the server exits or BENCH_TIMEOUT_MS passes first.
wait_healthy() {
    local url="http://127.0.0.1:$1/healthz" deadline=$(($2 + TIMEOUT_MS * 1000000)) code
    while :; do
        code=000
        "${CURL[@]}" --max-time 0.5 -w '%{http_code}' "$url" >"$WORK/code" 2>/dev/null || true
        read -r code <"$WORK/code" || true
        if [[ $code == 200 ]]; then
            HEALTHY_NS=$(now_ns)
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        (($(now_ns) < deadline)) || return 1
        sleep 0.002
    done
}

# stop_server: SIGTERM, wait for the exit (SIGKILL after 10 s). Sets STOP_NS (time to exit).
stop_server() {
    local t0 t1
    t0=$(now_ns)
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    while kill -0 "$SERVER_PID" 2>/dev/null && (($(now_ns) - t0 < 10000000000)); do sleep 0.002; done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "  warning: server did not exit within 10 s of SIGTERM; killing it" >&2
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    t1=$(now_ns)
    STOP_NS=$((t1 - t0))
    SERVER_PID=""
}

never_healthy() {
    echo "error: $1: the server never answered 200 on /healthz (timeout ${TIMEOUT_MS} ms)" >&2
    echo "--- server stdout ---" >&2
    tail -n 20 "$WORK/server.out" >&2 || true
    echo "--- server stderr ---" >&2
    tail -n 40 "$WORK/server.err" >&2 || true
    exit 1
}

# Prints "min median p90 max" of the numbers on stdin (nearest-rank p90).
stats() {
    sort -g | awk '
        { v[NR] = $1 }
        END {
            n = NR
            if (n == 0) exit 1
            med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
            r = int(0.9 * n); if (r < 0.9 * n) r++; if (r < 1) r = 1
            printf "%.1f %.1f %.1f %.1f\n", v[1], med, v[r], v[n]
        }'
}

le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
okay() { if le "$1" "$2"; then echo yes; else echo NO; fi; }

# --- machine -------------------------------------------------------------------------------
echo "== PictureDeck startup benchmark"
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "host:    $(uname -srm), $(nproc) CPU(s)$(awk -F': ' '/^model name/ { print ", " $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
if command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1; then
    dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | head -n 1)
    echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo none)${dirty:+ (with uncommitted changes)}"
fi
echo "runs:    $RUNS"

# --- 1. build and binary size ----------------------------------------------------------------
if [[ -n ${BENCH_BIN:-} ]]; then
    BIN=$BENCH_BIN
else
    TARGET_DIR=${CARGO_TARGET_DIR:-}
    if [[ -z $TARGET_DIR ]] && command -v cargo >/dev/null; then
        TARGET_DIR=$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
            python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' || true)
    fi
    BIN="${TARGET_DIR:-$REPO_ROOT/target}/release/picturedeck"
fi

if ((BUILD)); then
    echo
    echo "== 1. build: cargo build --release --locked"
    [[ -n ${BENCH_BIN:-} ]] && echo "   (note: BENCH_BIN is set, so the measured binary is $BIN)"
    build_t0=$(now_ns)
    cargo build --release --locked
    echo "build took $(awk -v ns="$(($(now_ns) - build_t0))" 'BEGIN { printf "%.0f", ns / 1e9 }') s"
else
    echo
    echo "== 1. build skipped (--no-build)"
fi
[[ -x $BIN ]] || { echo "error: no binary at $BIN (build it, or set BENCH_BIN)" >&2; exit 1; }
BIN_BYTES=$(stat -c %s "$BIN")
BIN_MB=$(awk -v b="$BIN_BYTES" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "binary:  $BIN"
echo "size:    $BIN_MB MB ($BIN_BYTES bytes)   target <= $TARGET_BINARY_MB MB"

# --- 2. existing data dir -------------------------------------------------------------------
echo
echo "== 2. prepare the data dir (migrate, then one start/stop)"
mkdir -p "$DATA"
(cd "$WORK" && exec "$BIN" migrate --data-dir "$DATA") >"$WORK/migrate.log" 2>&1 || {
    echo "error: migrate failed:" >&2
    cat "$WORK/migrate.log" >&2
    exit 1
}
sed 's/^/   /' "$WORK/migrate.log" | grep -v '^ *$' | tail -n 3 || true
# One full start so anything created on first start (secret key, folders) exists, and the
# binary is in the page cache; this run is not counted.
port=$(free_port)
t0=$(now_ns)
start_server "$port"
wait_healthy "$port" "$t0" || never_healthy "warm-up start"
echo "   warm-up start: $(ns_to_ms $((HEALTHY_NS - t0))) ms (not counted)"
stop_server
echo "   data dir: $(ls -A "$DATA" | tr '\n' ' ')"

# Poll cost: one curl against a closed port. The startup figures cannot be finer than this.
port=$(free_port)
probe_t0=$(now_ns)
for _ in 1 2 3 4 5 6 7 8 9 10; do "${CURL[@]}" --max-time 0.5 "http://127.0.0.1:$port/healthz" || true; done
POLL_MS=$(ns_to_ms $((($(now_ns) - probe_t0) / 10)))
echo "   one poll (curl on a closed port): ~$POLL_MS ms, + 2 ms sleep between polls"

# --- 3. start to first /healthz 200 -----------------------------------------------------------
echo
echo "== 3. start to first /healthz 200, existing data dir ($RUNS runs)"
: >"$WORK/startup.txt"
: >"$WORK/stop.txt"
for i in $(seq 1 "$RUNS"); do
    port=$(free_port)
    t0=$(now_ns)
    start_server "$port"
    wait_healthy "$port" "$t0" || never_healthy "run $i"
    ms=$(ns_to_ms $((HEALTHY_NS - t0)))
    stop_server
    echo "$ms" >>"$WORK/startup.txt"
    ns_to_ms "$STOP_NS" | awk '{ print }' >>"$WORK/stop.txt"
    printf '   run %2d: %7s ms   (stop: %s ms)\n' "$i" "$ms" "$(ns_to_ms "$STOP_NS")"
done
read -r S_MIN S_MED S_P90 S_MAX < <(stats <"$WORK/startup.txt")
read -r _ STOP_MED _ STOP_MAX < <(stats <"$WORK/stop.txt")
echo "startup ms: min $S_MIN / median $S_MED / p90 $S_P90 / max $S_MAX   target median <= $TARGET_STARTUP_MEDIAN_MS ms"
echo "SIGTERM to exit ms: median $STOP_MED / max $STOP_MAX"

# --- 4. idle memory -----------------------------------------------------------------------
echo
echo "== 4. idle memory (after /healthz and /login, then 2 s idle)"
port=$(free_port)
t0=$(now_ns)
start_server "$port"
wait_healthy "$port" "$t0" || never_healthy "memory run"
health_code=$("${CURL[@]}" --max-time 5 -w '%{http_code}' "http://127.0.0.1:$port/healthz" || echo 000)
login_code=$("${CURL[@]}" --max-time 5 -w '%{http_code}' "http://127.0.0.1:$port/login" || echo 000)
echo "   GET /healthz -> $health_code, GET /login -> $login_code"
[[ $login_code == 200 ]] || echo "   warning: /login did not answer 200, so its templates may not be warmed" >&2
sleep 2
status_kb() { awk -v k="$1:" '$1 == k { print $2; exit }' "/proc/$SERVER_PID/status"; }
RSS_KB=$(status_kb VmRSS)
HWM_KB=$(status_kb VmHWM)
ANON_KB=$(status_kb RssAnon)
FILE_KB=$(status_kb RssFile)
THREADS=$(status_kb Threads)
stop_server
kb_to_mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
RSS_MB=$(kb_to_mb "$RSS_KB")
HWM_MB=$(kb_to_mb "$HWM_KB")
echo "VmRSS:   $RSS_MB MB (anon $(kb_to_mb "$ANON_KB") MB, file $(kb_to_mb "$FILE_KB") MB), $THREADS threads   target <= $TARGET_IDLE_RSS_MB MB"
echo "VmHWM:   $HWM_MB MB (peak)"

# --- 5. summary --------------------------------------------------------------------------
echo
echo "== summary (MB = 2^20 bytes)"
{
    echo "metric|value|target|ok?"
    echo "binary size|$BIN_MB MB|<= $TARGET_BINARY_MB MB|$(okay "$BIN_MB" "$TARGET_BINARY_MB")"
    echo "start to first /healthz 200, median|$S_MED ms|<= $TARGET_STARTUP_MEDIAN_MS ms|$(okay "$S_MED" "$TARGET_STARTUP_MEDIAN_MS")"
    echo "  min / p90 / max ($RUNS runs)|$S_MIN / $S_P90 / $S_MAX ms|-|-"
    echo "idle RSS (VmRSS)|$RSS_MB MB|<= $TARGET_IDLE_RSS_MB MB|$(okay "$RSS_MB" "$TARGET_IDLE_RSS_MB")"
    echo "peak RSS (VmHWM)|$HWM_MB MB|-|-"
    echo "SIGTERM to exit, median|$STOP_MED ms|-|-"
} | awk -F'|' '
    { for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } }
    END {
        for (r = 1; r <= NR; r++) {
            line = ""
            for (i = 1; i <= 4; i++) line = line (i < 4 ? sprintf("%-" w[i] "s | ", c[r, i]) : c[r, i])
            print line
            if (r == 1) {
                sep = ""
                for (i = 1; i <= 4; i++) { s = ""; for (j = 0; j < w[i]; j++) s = s "-"; sep = sep s (i < 4 ? "-+-" : "") }
                print sep
            }
        }
    }'
exit 0
