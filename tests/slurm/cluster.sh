# shellcheck shell=bash
# A throwaway single-node Slurm cluster for tests, so that CI can submit real jobs (arrays,
# dependencies, --gres=gpu, scancel) to a real scheduler on one machine, with no systemd and no
# cgroups. It follows a recipe checked on Debian 12 with Slurm 22.05
# (Debian's slurmctld/slurmd/slurm-client and munge 0.5). Needs root.
#
# Meant to be SOURCED by bash (it is `set -euo pipefail`-safe), not run:
#   source tests/slurm/cluster.sh
#   slurm_start            # installs the packages if missing, starts munged, slurmctld, slurmd
#   trap slurm_stop EXIT   # stops them by pid, reaps them, removes the temporary folder
# slurm_start exports SLURM_CONF (so sbatch, squeue, scontrol... find the cluster) and
# DISTILL_TUI_SLURM=1 (tests run their Slurm cases only when it is set). The cluster has one node
# with CPUs=4 and four fake GPUs (character devices, so each job gets its CUDA_VISIBLE_DEVICES),
# one partition `debug`, no accounting (use squeue and scontrol, not sacct), and
# kill_invalid_depend: a job whose dependency failed is cancelled instead of pending forever;
# MaxArraySize=6, so that submit must split an 8-cell matrix into two arrays.
# The daemons are children of the calling shell, so slurm_stop can wait on them.

_slurm_ci_root=""
_slurm_ci_munge_pid=""
_slurm_ci_ctld_pid=""
_slurm_ci_slurmd_pid=""

_slurm_ci_logs() {
  local f
  for f in "${_slurm_ci_root:-/nonexistent}"/log/* /var/log/munge/munged.log; do
    [ -f "$f" ] || continue
    echo "----- $f (last 40 lines)"
    tail -n 40 "$f" || true
  done
}

slurm_start() {
  if [ -n "$_slurm_ci_root" ]; then
    echo "slurm: already started (SLURM_CONF=${SLURM_CONF:-})"
    return 0
  fi
  local t0 ngpu=4 host i pkg missing="" aptlog
  t0=$(date +%s%N)

  # Packages. The image blocks service starts, so installing starts nothing by itself.
  for pkg in slurmctld slurmd slurm-client munge; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
  done
  if [ -n "$missing" ]; then
    aptlog=$(mktemp)
    if ! { apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge; } >"$aptlog" 2>&1; then
      echo "slurm: installing$missing failed:"
      cat "$aptlog"
      rm -f "$aptlog"
      return 1
    fi
    rm -f "$aptlog"
  fi
  if [ ! -s /etc/munge/munge.key ]; then
    # The package normally creates it; make one if it is missing.
    if ! mungekey --create --keyfile=/etc/munge/munge.key >/dev/null 2>&1; then
      echo "slurm: /etc/munge/munge.key is missing and mungekey could not create it"
      return 1
    fi
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key || true
  fi

  host=$(hostname -s 2>/dev/null || hostname)
  _slurm_ci_root=$(mktemp -d "${TMPDIR:-/tmp}/slurm-ci.XXXXXX") || return 1
  local root=$_slurm_ci_root
  mkdir -p "$root"/spool/ctld "$root"/spool/d "$root"/log "$root"/dev /run/munge || return 1
  chown munge:munge /run/munge || return 1
  # Fake GPUs: they must be character devices (plain files are rejected and jobs then get no
  # CUDA_VISIBLE_DEVICES). c 1 3 is /dev/null's.
  for ((i = 0; i < ngpu; i++)); do
    mknod "$root/dev/gpu$i" c 1 3 || { slurm_stop; return 1; }
  done
  echo "NodeName=$host Name=gpu File=$root/dev/gpu[0-$((ngpu - 1))]" >"$root/gres.conf"
  # CPUs=4 even on a smaller machine: config_overrides makes slurmd trust the file.
  cat >"$root/slurm.conf" <<EOF
ClusterName=ci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
SchedulerParameters=kill_invalid_depend
# Small, so that the 8-cell test matrix needs two array jobs (task ids must stay below it).
MaxArraySize=6
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=$root/spool/ctld
SlurmdSpoolDir=$root/spool/d
SlurmctldPidFile=$root/slurmctld.pid
SlurmdPidFile=$root/slurmd.pid
SlurmctldLogFile=$root/log/slurmctld.log
SlurmdLogFile=$root/log/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=4 RealMemory=1000 Gres=gpu:$ngpu State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF="$root/slurm.conf"

  # munged as user munge; setpriv execs it, so $! is munged itself. -F keeps it in the foreground.
  setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F \
    >"$root/log/munged.out" 2>&1 &
  _slurm_ci_munge_pid=$!
  for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
  if ! munge -n >/dev/null 2>&1; then
    echo "slurm: munged did not come up"
    _slurm_ci_logs
    slurm_stop
    return 1
  fi
  /usr/sbin/slurmctld -D -f "$SLURM_CONF" >"$root/log/slurmctld.out" 2>&1 &
  _slurm_ci_ctld_pid=$!
  /usr/sbin/slurmd -D -f "$SLURM_CONF" >"$root/log/slurmd.out" 2>&1 &
  _slurm_ci_slurmd_pid=$!

  # Ready when the node is idle (about a second); give up after 60 s.
  local deadline=$((SECONDS + 60))
  until sinfo -h -o %T 2>/dev/null | grep -qx idle; do
    if ((SECONDS >= deadline)) ||
      ! kill -0 "$_slurm_ci_ctld_pid" 2>/dev/null ||
      ! kill -0 "$_slurm_ci_slurmd_pid" 2>/dev/null; then
      echo "slurm: the node did not become idle (sinfo: $(sinfo -h -o %T 2>&1 | tr '\n' ' '))"
      _slurm_ci_logs
      slurm_stop
      return 1
    fi
    sleep 0.2
  done
  export DISTILL_TUI_SLURM=1
  local ms=$((($(date +%s%N) - t0) / 1000000))
  echo "slurm: cluster up in $((ms / 1000)).$(printf %03d $((ms % 1000))) s (node $host, $ngpu fake GPUs, SLURM_CONF=$SLURM_CONF)"
}

slurm_stop() {
  local pid
  # Cancel what is left, so that no slurmstepd outlives slurmd; then stop the daemons by pid.
  if [ -n "$_slurm_ci_ctld_pid" ] && kill -0 "$_slurm_ci_ctld_pid" 2>/dev/null; then
    scancel --quiet --user="$(id -un)" >/dev/null 2>&1 || true
    for _ in $(seq 50); do
      [ -z "$(squeue -h -o %i 2>/dev/null || true)" ] && break
      sleep 0.1
    done
  fi
  for pid in "$_slurm_ci_slurmd_pid" "$_slurm_ci_ctld_pid" "$_slurm_ci_munge_pid"; do
    [ -n "$pid" ] || continue
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  _slurm_ci_slurmd_pid=""
  _slurm_ci_ctld_pid=""
  _slurm_ci_munge_pid=""
  if [ -n "$_slurm_ci_root" ]; then
    rm -rf "$_slurm_ci_root" || true
  fi
  _slurm_ci_root=""
  unset DISTILL_TUI_SLURM SLURM_CONF
  return 0
}
