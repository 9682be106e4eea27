#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for `npm run test:cluster` (and for trying the
# examples/slurm job by hand). Needs root on Debian/Ubuntu (apt). Idempotent: run it again and it
# stops the daemons it started before (by their pid files), rewrites the configuration and starts
# them again. Every wait is bounded.
#
# What it sets up: munge (authentication) and slurmctld + slurmd on this host, no cgroups
# (proctrack/linuxproc, task/none, no accounting), the node's real name, CPUs and memory taken from
# `slurmd -C`, one partition `iopf` holding the node. Logs: /var/log/slurm/. Stop everything with
# `scripts/slurm-local.sh stop`.
set -euo pipefail

RUN=/run/iopf-slurm
CONF=/etc/slurm/slurm.conf
LOGS=/var/log/slurm
SPOOL=/var/spool/iopf-slurm

die() {
  echo "slurm-local: $*" >&2
  exit 2
}
log() { echo "slurm-local: $*"; }

[ "$(id -u)" = 0 ] || die "needs root (it installs packages and starts system daemons)"

# Stop a daemon we started, by the pid in its pid file; wait (bounded) for it to go.
stop_pidfile() {
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

stop_all() {
  stop_pidfile "$RUN/slurmd.pid"
  stop_pidfile "$RUN/slurmctld.pid"
  [ "${1:-}" = all ] && stop_pidfile /run/munge/munged.pid
  return 0
}

if [ "${1:-}" = stop ]; then
  stop_all all
  log "stopped"
  exit 0
fi

# 1. Packages.
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  command -v apt-get >/dev/null || die "slurm-wlm and munge are not installed and there is no apt-get"
  log "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq || die "apt-get update failed"
  timeout 900 apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null || die "apt-get install slurm-wlm munge failed"
fi

stop_all
mkdir -p "$RUN" "$LOGS" "$SPOOL/ctld" "$SPOOL/d" /etc/slurm

# 2. munge: a key (the package makes one; make one if it did not) and the daemon.
if [ ! -s /etc/munge/munge.key ]; then
  log "creating /etc/munge/munge.key"
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /etc/munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge
chmod 700 /etc/munge /var/lib/munge /var/log/munge
chmod 400 /etc/munge/munge.key
chmod 755 /run/munge
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  log "munged already running; kept"
else
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid --force
  ok=
  for _ in $(seq 1 50); do
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.2
  done
  [ -n "$ok" ] || die "munge does not answer (munge -n | unmunge failed; see /var/log/munge/munged.log)"
  log "munged up"
fi

# 3. slurm.conf for this one node: its real name, CPUs and memory from slurmd -C.
NODE_LINE=$(slurmd -C | head -n 1)
case "$NODE_LINE" in NodeName=*) ;; *) die "slurmd -C printed no node line: $NODE_LINE" ;; esac
HOST=$(echo "$NODE_LINE" | sed -E 's/^NodeName=([^ ]+).*/\1/')
cat >"$CONF" <<CONF
# Written by iopf scripts/slurm-local.sh: one node, no cgroups, no accounting.
ClusterName=iopf
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
StateSaveLocation=$SPOOL/ctld
SlurmdSpoolDir=$SPOOL/d
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
$NODE_LINE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=iopf Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
log "wrote $CONF for node $HOST"

# Addresses are loopback: the test needs no name resolution and sends nothing off the machine.
# 4. The daemons. -c: a clean controller state (no jobs or node states left from an earlier run).
/usr/sbin/slurmctld -c
ok=
for _ in $(seq 1 100); do
  if scontrol ping 2>/dev/null | grep -q 'is UP'; then ok=1; break; fi
  sleep 0.3
done
[ -n "$ok" ] || die "slurmctld did not come up (see $LOGS/slurmctld.log)"
log "slurmctld up"
/usr/sbin/slurmd
state=
for _ in $(seq 1 100); do
  state=$(sinfo -h -N -n "$HOST" -o '%t' 2>/dev/null | head -n 1 || true)
  case "$state" in
    idle* | mix* | alloc*) break ;;
    down* | drain* | drng*) scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  sleep 0.3
done
case "$state" in
  idle* | mix* | alloc*) log "node $HOST is $state; ready (sinfo, sbatch)" ;;
  *) die "node $HOST did not become idle (state '$state'; see $LOGS/slurmd.log)" ;;
esac
