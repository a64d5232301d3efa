#!/usr/bin/env bash
# bench-vserver.sh — vserver against the tools an admin would use instead:
#  1. `vserver NAME exec /bin/true` on a running vserver vs `nsenter -a` into it and
#     `lxc-attach -- /bin/true` into a running LXC container on a copy of the tree;
#  2. start to command: `vserver NAME exec /bin/true` on a stopped vserver (a fresh
#     temporary context: the whole start) and `vserver NAME start` of a vserver whose
#     rc leaves nothing running, vs `unshare -R`, `lxc-execute` and the other
#     runtimes of ../shared/bench/containers_latency.sh, on the same busybox tree.
#
# Usage: scripts/bench-vserver.sh [VSBOX_BINARY]   (root; needs hyperfine, lxc,
#        busybox-static; default binary: target/x86_64-unknown-linux-gnu/release/vsbox)
# Env: RUNS (default 300 for part 1, 100 for part 2), OUT (default /tmp/bench-vserver).
# Everything it makes (a private registry, cgroups below its own, the trees, the LXC
# container) is removed on exit. It changes no host network setting: the vservers
# are untied (no IPROOT) and LXC gets lxc.net.0.type = empty.
set -euo pipefail
cd "$(dirname "$0")/.."
V=$(readlink -f "${1:-target/x86_64-unknown-linux-gnu/release/vsbox}")
[ -x "$V" ] || { echo "no vsbox binary at $V (cargo build --release)" >&2; exit 1; }
for t in hyperfine lxc-attach lxc-start lxc-execute busybox nsenter; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install hyperfine lxc busybox-static util-linux)" >&2; exit 1; }
done
RUNS=${RUNS:-300}; OUT=${OUT:-/tmp/bench-vserver}
SHARED=${SHARED:-../shared/bench}
W=$(mktemp -d /tmp/vsbox-bench-vserver.XXXXXX)
export VSBOX_RUNDIR=$W/run VSBOX_CGROUP=vsbox-bench-$$ VSBOX_CONFDIR=$W/etc VSBOX_ROOTDIR=$W/vservers
cleanup() {
  "$V" vserver --silent bench stop >/dev/null 2>&1 || true
  "$V" vserver --silent once stop >/dev/null 2>&1 || true
  lxc-stop -P "$W/lxc" -n vsbench -k >/dev/null 2>&1 || true
  for d in /sys/fs/cgroup/*/lxc.pivot /sys/fs/cgroup/*/lxc.payload.vsbench /sys/fs/cgroup/*/lxc.monitor.vsbench; do
    [ -d "$d" ] && rmdir "$d" 2>/dev/null || true
  done
  sleep 0.3
  find /sys/fs/cgroup -maxdepth 6 -type d -name "$VSBOX_CGROUP" -exec rmdir {} + 2>/dev/null || true  # the kept parents
  rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/etc" "$W/vservers" "$W/lxc" "$OUT"
# Alternating runs for robust ratios (see scripts/floors/paired.c).
gcc -O2 -o "$W/paired" scripts/floors/paired.c
gcc -O2 -static -o "$W/join_floor" scripts/floors/join_floor.c 2>/dev/null
PAIRED=${PAIRED:-200}

tree() { # a busybox-static guest with an rc script; $2 = services to start
  local t=$1; mkdir -p "$t"/{bin,etc/init.d,etc/rc3.d,tmp,root,proc,dev,sys,var/run}
  cp "$(command -v busybox)" "$t/bin/busybox"; chroot "$t" /bin/busybox --install -s /bin
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$t/etc/passwd"; printf 'root:x:0:\n' >"$t/etc/group"
  printf '#!/bin/sh\nfor s in /etc/rc$1.d/S*; do [ -x "$s" ] && "$s" start; done\nexit 0\n' >"$t/etc/init.d/rc"
  printf '#!/bin/sh\n[ "$1" = start ] && sleep 100000 </dev/null >/dev/null 2>&1 &\nexit 0\n' >"$t/etc/init.d/sleeper"
  chmod 755 "$t/etc/init.d/rc" "$t/etc/init.d/sleeper"
  [ -n "${2:-}" ] && ln -s ../init.d/sleeper "$t/etc/rc3.d/S10sleeper"
  return 0
}
tree "$W/vservers/bench" sleeper
tree "$W/vservers/once"
tree "$W/lxcroot" sleeper
printf 'S_HOSTNAME=bench\nS_FLAGS="lock nproc"\nULIMIT="-H -u 1000"\n' >"$W/etc/bench.conf"
printf 'S_HOSTNAME=once\nS_FLAGS="lock nproc"\nULIMIT="-H -u 1000"\n' >"$W/etc/once.conf"
chmod 644 "$W"/etc/*.conf

# ---- 1. exec into a running vserver ---------------------------------------------
"$V" vserver --silent bench start >/dev/null
CTX=$(sed -n 's/^ctx //p' "$W"/run/ctx/*/info | head -1)
INIT=$(sed -n 's/^init //p' "$W/run/ctx/$CTX/info")
cat >"$W/lxc.conf" <<EOC
lxc.uts.name = vsbench
lxc.rootfs.path = dir:$W/lxcroot
lxc.net.0.type = empty
lxc.apparmor.profile = unconfined
lxc.mount.auto = proc:mixed sys:ro
lxc.autodev = 1
lxc.tty.max = 0
lxc.pty.max = 16
EOC
lxc-start -P "$W/lxc" -n vsbench -f "$W/lxc.conf" -d -- /bin/sleep 100000
for _ in $(seq 50); do lxc-attach -P "$W/lxc" -n vsbench -- /bin/true 2>/dev/null && break; sleep 0.1; done
echo "== exec into a running context (vsbox ctx $CTX, init pid $INIT), runs=$RUNS"
hyperfine -N --style basic -w 20 -r "$RUNS" --export-csv "$OUT/exec.csv" \
  -n vserver-exec "$V vserver bench exec /bin/true" \
  -n nsenter-a "nsenter -t $INIT -a /bin/true" \
  -n lxc-attach "lxc-attach -P $W/lxc -n vsbench -- /bin/true" >"$OUT/exec.log" 2>&1 || { cat "$OUT/exec.log" >&2; exit 1; }
awk -F, 'NR>1 {n=NR; name[n]=$1; med[n]=$4*1000; if ($1=="vserver-exec") v=$4*1000}
  END {printf "%-14s %10s %12s\n","command","median_ms","x_vserver"; for (i=2;i<=n;i++) printf "%-14s %10.3f %12.2f\n", name[i], med[i], med[i]/v}' "$OUT/exec.csv"
echo "== the same, alternating ($PAIRED rounds)"
# floor-join: the least a join into the vserver costs (scripts/floors/join_floor.c).
CGDIRS=$(sed -n 's/^cgroup //p' "$W/run/ctx/$CTX/info" | tr '\n' ' ')
"$W/paired" "$PAIRED" "vserver-exec=$V vserver bench exec /bin/true" "nsenter-a=nsenter -t $INIT -a /bin/true" \
  "floor-join=$W/join_floor $W/run/ctx/$CTX/ns $CGDIRS -- /bin/true" \
  "lxc-attach=lxc-attach -P $W/lxc -n vsbench -- /bin/true"
lxc-stop -P "$W/lxc" -n vsbench -k >/dev/null 2>&1 || true
"$V" vserver --silent bench stop >/dev/null

# ---- 2. start to command ------------------------------------------------------------
echo "== start to command on the same tree (containers_latency.sh), runs=${RUNS2:-100}"
CAND="vserver-exec-stopped=$V vserver --silent once exec /bin/true;vserver-start=$V vserver --silent once start" \
  RUNS=${RUNS2:-100} OUT=$OUT/containers bash "$SHARED/containers_latency.sh" -R "$W/vservers/once"
echo "== the same, alternating ($PAIRED rounds; lxc-execute with the config containers_latency.sh wrote)"
"$W/paired" "$PAIRED" "unshare-R=unshare --fork --pid --mount --uts --ipc --mount-proc -R $W/vservers/once /bin/true" \
  "busybox-unshare-chroot=busybox unshare -f -p -m -u -i --mount-proc busybox chroot $W/vservers/once /bin/true" \
  "lxc-execute=lxc-execute -P $OUT/containers/lxc -n benchctx -f $OUT/containers/lxc.conf -- /bin/true" \
  "vserver-exec-stopped=$V vserver --silent once exec /bin/true" "vserver-start=$V vserver --silent once start"
