#!/usr/bin/env bash
# vsbox benchmarks, side by side with the tools users would pick instead.
# Usage: scripts/bench.sh [SECTION...]   (default: every section)
# Sections: size start reducecap ctx enter chbind vserver ps
# (chbind, vserver and ps run scripts/bench-chbind.sh, scripts/bench-vserver.sh and
# scripts/bench-ps.sh, which can also be run on their own.)
# Needs root, hyperfine and the anchors (busybox-static, util-linux, bubblewrap).
# Builds the release binary first. Results go to stdout and to $OUT (default /tmp/vsbox-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-1000}; WARMUP=${WARMUP:-50}; OUT=${OUT:-/tmp/vsbox-bench}
SHARED=${SHARED:-../shared/bench}
mkdir -p "$OUT"
cargo build --release -q
V=$PWD/target/x86_64-unknown-linux-gnu/release/vsbox
sections=("$@"); [ ${#sections[@]} -gt 0 ] || sections=(size start reducecap ctx enter chbind vserver ps)

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
    RUNS=$((RUNS/2)) bash "$SHARED/ctx_latency.sh" -r $((RUNS/2)) -w "$WARMUP" -o "$OUT/ctx" \
      "vsbox=$V chcontext --silent -- /bin/true"
    ;;
  enter)
    echo "== join: chcontext --ctx N --silent /bin/true"
    export VSBOX_RUNDIR=$OUT/run VSBOX_CGROUP=vsbox-bench
    n=$("$V" chcontext --disconnect -- sh -c 'exec sleep 900 </dev/null >/dev/null 2>&1' | awk '/New security context is/ {print $5}')
    trap '"$V" vkill --ctx "$n" -s KILL 2>/dev/null || true' EXIT
    bash "$SHARED/enter_latency.sh" -r $((RUNS/2)) -o "$OUT/enter" "vsbox=$V chcontext --silent --ctx $n -- /bin/true"
    ;;
  chbind) VSBOX=$V bash scripts/bench-chbind.sh ;;
  vserver) bash scripts/bench-vserver.sh "$V" ;;
  ps) bash scripts/bench-ps.sh "$V" ;;
  *) echo "unknown section $s" >&2; exit 2 ;;
  esac
done
