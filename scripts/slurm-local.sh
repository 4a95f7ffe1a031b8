#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for the launcher=slurm tests and for trying sweeps:
# Debian's slurm-wlm + munge (scripts/setup.sh installs them), slurmctld and slurmd on this host.
#
#   scripts/slurm-local.sh start    # idempotent: writes the configs it needs, starts what is not running,
#                                   # waits until the node takes jobs
#   scripts/slurm-local.sh stop
#   scripts/slurm-local.sh status   # exit 0 when the node takes jobs
#
# Needs root (the daemons run as root and munge; CI and these machines run as root). It writes
# /etc/slurm/slurm.conf only when it is missing or was written by this script (a real cluster's is left
# alone), and the munge key only when none exists.
set -euo pipefail

conf=/etc/slurm/slurm.conf
marker="# written by ptlab scripts/slurm-local.sh"

die() { echo "slurm-local: $*" >&2; exit 1; }

node_ready() {
  command -v sinfo >/dev/null 2>&1 || return 1
  local state
  state=$(sinfo -h -N -o '%T' 2>/dev/null | head -1) || return 1
  [[ "$state" == idle* || "$state" == mixed* || "$state" == allocated* ]]
}

start() {
  [[ $(id -u) -eq 0 ]] || die "needs root (it starts munged, slurmctld and slurmd)"
  for b in munged slurmctld slurmd sinfo sbatch; do
    command -v "$b" >/dev/null 2>&1 || [[ -x /usr/sbin/$b ]] || die "$b is missing: install slurm-wlm and munge (scripts/setup.sh does)"
  done
  local host cpus mem
  host=$(hostname)
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 8 / 10 ))  # MiB, 80% of the machine

  # munge: a key, its run dir, the daemon as user munge.
  if [[ ! -s /etc/munge/munge.key ]]; then
    install -d -o munge -g munge -m 700 /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=128 count=1 status=none
  fi
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  install -d -o munge -g munge -m 755 /run/munge /var/log/munge /var/lib/munge
  if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged || die "munged did not start (see /var/log/munge/munged.log)"
  fi

  # slurm.conf for this one node (kept if a real one is there).
  if [[ ! -f $conf ]] || grep -qF "$marker" "$conf"; then
    install -d /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
    cat >"$conf" <<EOF
$marker
ClusterName=ptlab-local
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
JobRequeue=1
MinJobAge=300
KillWait=10
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  fi
  if pgrep -x slurmctld >/dev/null; then
    scontrol reconfigure >/dev/null 2>&1 || true   # the config may have been rewritten
  else
    /usr/sbin/slurmctld || die "slurmctld did not start (see /var/log/slurm/slurmctld.log)"
  fi
  pgrep -x slurmd >/dev/null || /usr/sbin/slurmd || die "slurmd did not start (see /var/log/slurm/slurmd.log)"
  for _ in $(seq 1 60); do
    if node_ready; then echo "slurm-local: node $host ready ($cpus CPUs)"; return 0; fi
    # A node that was down (e.g. after a restart) comes back with an explicit resume.
    scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
    sleep 0.5
  done
  die "the node did not become ready in 30 s: $(sinfo -N 2>&1 | tail -1)"
}

stop() {
  pkill -x slurmd 2>/dev/null || true
  pkill -x slurmctld 2>/dev/null || true
  pkill -x munged 2>/dev/null || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) node_ready && echo "slurm-local: ready" || { echo "slurm-local: not running"; exit 1; } ;;
  *) echo "usage: scripts/slurm-local.sh start|stop|status" >&2; exit 2 ;;
esac
