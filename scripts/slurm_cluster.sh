#!/usr/bin/env bash
# A throwaway single-node SLURM cluster (Slurm 22.05 from Debian 12) for tests and CI, no systemd.
#
#   scripts/slurm_cluster.sh start    # install slurm-wlm+munge if missing (root), configure, start, wait for the node
#   scripts/slurm_cluster.sh status   # daemons' PIDs and the node's state
#   scripts/slurm_cluster.sh stop     # cancel this cluster's jobs, stop the daemons by PID
#
# Everything lives in $EXPRUN_SLURM_DIR (default /tmp/exprun-slurm): munge key and socket,
# slurm.conf, gres.conf, spool, state, logs and PID files. `start` prints the environment to
# export (SLURM_CONF=...) and is idempotent: daemons already running are left alone.
# Why /etc/slurm/slurm.conf too: snakemake-executor-plugin-slurm's job step drops SLURM_CONF,
# so `start` symlinks /etc/slurm/slurm.conf to ours when that path is free (never over a real
# file) and `stop` removes the link only when it still points here.
# The node is this machine with its real CPUs (nproc; EXPRUN_SLURM_CPUS overrides) and memory,
# plus one fake GPU (gpu:fake:1 backed by /dev/null) so `--gres=gpu:1` works and SLURM sets
# CUDA_VISIBLE_DEVICES. No accounting (sacct fails): status comes from squeue.
set -euo pipefail

DIR="${EXPRUN_SLURM_DIR:-/tmp/exprun-slurm}"
CTLD_PORT="${EXPRUN_SLURM_CTLD_PORT:-6817}"
SLURMD_PORT="${EXPRUN_SLURM_SLURMD_PORT:-6818}"
ETC_CONF=/etc/slurm/slurm.conf
CONF="$DIR/slurm.conf"
NODE="$(hostname -s)"
IDLE_WAIT_S=30

log() { echo "slurm_cluster: $*" >&2; }
die() { log "$*"; exit 1; }

pid_alive() {  # pid_alive NAME: $DIR/NAME.pid holds a live process named NAME (a reused PID is not ours)
  local file="$DIR/$1.pid"
  [ -s "$file" ] && [ "$(cat "/proc/$(cat "$file")/comm" 2>/dev/null)" = "$1" ]
}

ensure_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    return 0
  fi
  log "installing slurm-wlm munge (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq slurm-wlm munge >/dev/null
}

node_memory_mib() {  # 95% of the smaller of MemTotal and the cgroup limit: more than slurmd sees makes the node invalid
  local mem limit
  mem=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
  if [ -r /sys/fs/cgroup/memory.max ]; then
    limit=$(cat /sys/fs/cgroup/memory.max)
    if [[ "$limit" =~ ^[0-9]+$ ]] && [ $((limit / 1048576)) -lt "$mem" ]; then
      mem=$((limit / 1048576))
    fi
  fi
  echo $((mem * 95 / 100))
}

write_configs() {
  local cpus mem
  cpus="${EXPRUN_SLURM_CPUS:-$(nproc)}"
  mem="$(node_memory_mib)"
  mkdir -p "$DIR"/{munge,spool,state,log}
  chmod 0755 "$DIR"
  chmod 0700 "$DIR/munge"
  cat >"$CONF.tmp" <<EOF
# Written by scripts/slurm_cluster.sh: a single-node test cluster. Regenerated on every start.
ClusterName=exprun
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid.daemon
SlurmdPidFile=$DIR/slurmd.pid.daemon
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# pgid, not linuxproc: under linuxproc a scancel right after a task started left its just-forked
# run.sh running (reparented to init) in 3 of 3 trials of 10 tasks; pgid left none in 4 trials.
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
MinJobAge=300
# Schedule batch jobs at submit time instead of up to 3 s later (the default delay).
SchedulerParameters=batch_sched_delay=0
KillWait=5
InactiveLimit=0
ReturnToService=2
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:fake:1 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  mv -f "$CONF.tmp" "$CONF"
  printf 'NodeName=%s Name=gpu Type=fake File=/dev/null\n' "$NODE" >"$DIR/gres.conf"
}

link_etc_conf() {  # the executor plugin's job step ignores SLURM_CONF and reads /etc/slurm/slurm.conf
  mkdir -p "$(dirname "$ETC_CONF")"
  if [ -L "$ETC_CONF" ] || [ ! -e "$ETC_CONF" ]; then
    if [ "$(readlink "$ETC_CONF" 2>/dev/null)" != "$CONF" ]; then
      ln -sfn "$CONF" "$ETC_CONF"
      log "linked $ETC_CONF -> $CONF (removed again by stop)"
    fi
  else
    log "WARNING: $ETC_CONF is a real file, left alone; tools that drop SLURM_CONF will not find this cluster"
  fi
}

start_munged() {
  pid_alive munged && return 0
  [ -s "$DIR/munge/munge.key" ] || {
    mungekey --create --keyfile="$DIR/munge/munge.key" 2>/dev/null \
      || dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
  }
  chmod 0400 "$DIR/munge/munge.key"
  rm -f "$DIR/munge/munge.socket" "$DIR/munge/munge.socket.lock"
  setsid munged --foreground --force --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket" \
    --pid-file="$DIR/munge/munged.pid.daemon" --seed-file="$DIR/munge/munged.seed" \
    --log-file="$DIR/log/munged.log" </dev/null >>"$DIR/log/munged.out" 2>&1 &
  echo $! >"$DIR/munged.pid"
  wait_for "munged socket" test -S "$DIR/munge/munge.socket" || exit 1
}

start_daemon() {  # start_daemon NAME ARGS...: foreground daemon in its own session, PID recorded
  local name="$1"
  shift
  pid_alive "$name" && return 0
  setsid "$name" -D "$@" </dev/null >>"$DIR/log/$name.out" 2>&1 &
  echo $! >"$DIR/$name.pid"
}

wait_for() {  # wait_for WHAT COMMAND...: poll COMMAND for IDLE_WAIT_S seconds; 1 (and a message) on timeout
  local what="$1" deadline=$((SECONDS + IDLE_WAIT_S))
  shift
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "$what not ready after ${IDLE_WAIT_S}s; logs in $DIR/log"
      return 1
    fi
    sleep 0.1
  done
}

node_up() {  # idle, or running jobs (another test process's): up either way; `*` (not responding) is not
  case "$(SLURM_CONF="$CONF" sinfo -h -n "$NODE" -o %t 2>/dev/null)" in
    idle | mix | alloc | comp) return 0 ;;
    *) return 1 ;;
  esac
}

print_env() {
  echo "export SLURM_CONF=$CONF"
}

cmd_start() {
  [ "$(id -u)" -eq 0 ] || die "the test cluster runs munged, slurmctld and slurmd as root (SlurmUser=root): run as root"
  ensure_packages
  if pid_alive munged && pid_alive slurmctld && pid_alive slurmd && node_up; then
    log "already running ($DIR)"
    print_env
    return 0
  fi
  pid_alive slurmctld || write_configs
  link_etc_conf
  start_munged
  start_daemon slurmctld -i -f "$CONF"
  wait_for "slurmctld" env SLURM_CONF="$CONF" scontrol ping || exit 1
  start_daemon slurmd -f "$CONF"
  if ! wait_for "node $NODE up" node_up; then
    SLURM_CONF="$CONF" sinfo -R >&2 || true
    exit 1
  fi
  log "node $NODE up; state in $DIR"
  print_env
}

stop_pid() {  # stop_pid NAME: TERM the recorded PID if it is still NAME, KILL after 10 s
  local file="$DIR/$1.pid" pid
  [ -s "$file" ] || return 0
  pid="$(cat "$file")"
  if pid_alive "$1"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$file"
}

cancel_jobs() {  # scancel this cluster's jobs so no job step outlives slurmd
  local ids
  pid_alive slurmctld || return 0
  ids="$(SLURM_CONF="$CONF" squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')"
  [ -n "${ids// /}" ] || return 0
  # shellcheck disable=SC2086  # job ids are digits
  SLURM_CONF="$CONF" scancel $ids || true
  for _ in $(seq 100); do
    [ -z "$(SLURM_CONF="$CONF" squeue -h -t PD,R,CG,S -o %A 2>/dev/null)" ] && break
    sleep 0.1
  done
}

cmd_stop() {
  cancel_jobs
  stop_pid slurmd
  stop_pid slurmctld
  stop_pid munged
  if [ -L "$ETC_CONF" ] && [ "$(readlink "$ETC_CONF")" = "$CONF" ]; then
    rm -f "$ETC_CONF"
    log "removed the $ETC_CONF link"
  fi
  log "stopped ($DIR kept for its logs)"
}

cmd_status() {
  local name rc=0
  for name in munged slurmctld slurmd; do
    if pid_alive "$name"; then
      echo "$name: running (pid $(cat "$DIR/$name.pid"))"
    else
      echo "$name: stopped"
      rc=1
    fi
  done
  [ "$rc" -eq 0 ] && SLURM_CONF="$CONF" sinfo -N -o "%N %t %c %m %G"
  return "$rc"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status   (state folder: \$EXPRUN_SLURM_DIR, default /tmp/exprun-slurm)" >&2; exit 2 ;;
esac
