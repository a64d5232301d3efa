#!/usr/bin/env bash
# vsbox benchmarks, side by side with the tools users would pick instead.
# Usage: scripts/bench.sh [SECTION...]   (default: every section)
# Sections: size start reducecap ctx enter paired chbind vserver ps
# (chbind, vserver and ps run scripts/bench-chbind.sh, scripts/bench-vserver.sh and
# scripts/bench-ps.sh, which can also be run on their own.)
# Needs root, hyperfine, gcc and the anchors (busybox-static, util-linux, bubblewrap).
# Builds the release binary first. Results go to stdout and to $OUT (default /tmp/vsbox-bench).
# The ctx and enter sections also time the floors in scripts/floors/ (what a context
# must cost at least, in plain C). Contexts get a private registry and a cgroup
# parent below the caller's own cgroups (VSBOX_RUNDIR, VSBOX_CGROUP), removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-1000}; WARMUP=${WARMUP:-50}; OUT=${OUT:-/tmp/vsbox-bench}
SHARED=${SHARED:-../shared/bench}
mkdir -p "$OUT"
cargo build --release -q
V=$PWD/target/x86_64-unknown-linux-gnu/release/vsbox
export VSBOX_RUNDIR=${VSBOX_RUNDIR:-$OUT/run} VSBOX_CGROUP=${VSBOX_CGROUP:-vsbox-bench-$$}
FLOORS=$OUT/floors
mkdir -p "$FLOORS"
for f in ns_floor ctx_floor join_floor paired; do gcc -O2 -static -o "$FLOORS/$f" "scripts/floors/$f.c" 2>/dev/null; done
# The cgroup directories of context N, the cgroup2 one first (from its registry entry).
ctx_dirs() {
  local v2; v2=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
  sed -n 's/^cgroup //p' "$VSBOX_RUNDIR/ctx/$1/info" | awk -v v2="$v2" 'index($0, v2 "/") == 1 {print; next} {rest = rest " " $0} END {print rest}' | tr '\n' ' '
}
sleeper() { "$V" chcontext --disconnect -- sh -c 'exec sleep 900 </dev/null >/dev/null 2>&1' | awk '/New security context is/ {print $5}'; }
cleanup() {
  for n in "${CTXS[@]}"; do "$V" vkill --ctx "$n" -s KILL 2>/dev/null || true; done
  sleep 0.3
  find /sys/fs/cgroup -maxdepth 6 -type d -name "$VSBOX_CGROUP" -exec rmdir {} + 2>/dev/null || true
}
CTXS=()
trap cleanup EXIT
sections=("$@"); [ ${#sections[@]} -gt 0 ] || sections=(size start reducecap ctx enter paired chbind vserver ps)

# hyperfine -N over NAME=CMD pairs; prints median, min and the ratio to the first.
compare() {
  local tag=$1; shift
  local args=() n c
  for nc in "$@"; do n=${nc%%=*}; c=${nc#*=}; args+=(-n "$n" "$c"); done
  hyperfine -N --style none -w "$WARMUP" -r "$RUNS" --export-csv "$OUT/$tag.csv" "${args[@]}" >/dev/null 2>&1 \
    || { echo "hyperfine failed for $tag" >&2; hyperfine -N -r 3 "${args[@]}" >&2; return 1; }
  awk -F, 'NR==2 {base=$4} NR>1 {printf "  %-26s median %7.3f ms  min %7.3f ms  x%s %.2f\n", $1, $4*1000, $7*1000, "'"${1%%=*}"'", $4/base}' "$OUT/$tag.csv"
}

for s in "${sections[@]}"; do
  case $s in
  size)
    echo "== size (bytes)"
    bash "$SHARED/bin_size.sh" "$V" /bin/busybox "$(command -v setpriv)" "$(command -v unshare)" "$(command -v nsenter)"
    ;;
  start)
    echo "== startup: vsbox --list vs busybox true"
    compare start "busybox-true=busybox true" "vsbox--list=$V --list"
    ;;
  reducecap)
    echo "== reducecap --secure /bin/true vs setpriv --bounding-set -sys_admin /bin/true"
    compare reducecap "setpriv=setpriv --bounding-set -sys_admin /bin/true" "reducecap=$V reducecap --secure /bin/true"
    ;;
  ctx)
    echo "== new context: chcontext --silent /bin/true"
    n=$(sleeper); CTXS+=("$n")
    parents=$(for d in $(ctx_dirs "$n"); do printf '%s ' "${d%/*}"; done)
    RUNS=$((RUNS/2)) bash "$SHARED/ctx_latency.sh" -r $((RUNS/2)) -w "$WARMUP" -o "$OUT/ctx" \
      "floor-ctx=$FLOORS/ctx_floor $parents -- /bin/true" \
      "vsbox=$V chcontext --silent -- /bin/true"
    ;;
  enter)
    echo "== join: chcontext --ctx N --silent /bin/true"
    n=$(sleeper); CTXS+=("$n")
    bash "$SHARED/enter_latency.sh" -r $((RUNS/2)) -o "$OUT/enter" \
      "floor-join-ns=$FLOORS/join_floor $VSBOX_RUNDIR/ctx/$n/ns -- /bin/true" \
      "floor-join=$FLOORS/join_floor $VSBOX_RUNDIR/ctx/$n/ns $(ctx_dirs "$n") -- /bin/true" \
      "vsbox=$V chcontext --silent --ctx $n -- /bin/true" \
      || true # the shared script's exit trap leaves the status of its last kill
    ;;
  paired)
    # The same comparisons, the commands alternating round by round (robust ratios
    # on a noisy machine): new context, then join.
    n=$(sleeper); CTXS+=("$n")
    parents=$(for d in $(ctx_dirs "$n"); do printf '%s ' "${d%/*}"; done)
    init=$(sed -n 's/^init //p' "$VSBOX_RUNDIR/ctx/$n/info")
    echo "== paired, new context ($((RUNS/3)) rounds)"
    "$FLOORS/paired" $((RUNS/3)) "busybox-unshare=busybox unshare -f -p -m -u -i --mount-proc /bin/true" \
      "floor-ns=$FLOORS/ns_floor /bin/true" "floor-ctx=$FLOORS/ctx_floor $parents -- /bin/true" \
      "vsbox=$V chcontext --silent -- /bin/true"
    echo "== paired, join ($((RUNS/3)) rounds)"
    "$FLOORS/paired" $((RUNS/3)) "busybox-nsenter=busybox nsenter -t $init -m -u -p -i /bin/true" \
      "floor-join=$FLOORS/join_floor $VSBOX_RUNDIR/ctx/$n/ns $(ctx_dirs "$n") -- /bin/true" \
      "vsbox=$V chcontext --silent --ctx $n -- /bin/true"
    ;;
  chbind) VSBOX=$V bash scripts/bench-chbind.sh ;;
  vserver) bash scripts/bench-vserver.sh "$V" ;;
  ps) bash scripts/bench-ps.sh "$V" ;;
  *) echo "unknown section $s" >&2; exit 2 ;;
  esac
done
