#!/usr/bin/env bash
# A throw-away single-node Slurm cluster for development and tests, on a Debian machine
# without systemd. Everything (munge key and socket, slurm.conf, state, spool, pids, logs)
# lives under one base folder; `stop` ends only the daemons whose pid files are in it.
#
#   scripts/slurm-dev.sh start    install packages if missing (apt, as root), start, wait ready
#   scripts/slurm-dev.sh status   say whether the cluster answers; show its node
#   scripts/slurm-dev.sh env      print `export SLURM_CONF=...` for `eval "$(... env)"`
#   scripts/slurm-dev.sh stop     cancel its jobs, stop its daemons, remove the base folder
#
# Settings (environment): EXPCTL_SLURM_DEV_DIR (base, default /tmp/expctl-slurm-dev),
# EXPCTL_SLURM_DEV_PORT (slurmctld port, default 16817; slurmd uses the next one).
# Tests find the cluster through SLURM_CONF or the file $BASE/env this script writes.
set -euo pipefail

BASE=$(realpath -m "${EXPCTL_SLURM_DEV_DIR:-/tmp/expctl-slurm-dev}")
PORT=${EXPCTL_SLURM_DEV_PORT:-16817}
CONF=$BASE/slurm.conf
ENV_FILE=$BASE/env
SOCKET=$BASE/munge/munge.socket
START_TIMEOUT=${EXPCTL_SLURM_DEV_TIMEOUT:-90}
PACKAGES=(munge slurmctld slurmd slurm-client)

log() { echo "slurm-dev: $*" >&2; }
die() { log "error: $*"; exit 1; }

install_packages() {
    local missing=()
    command -v munged >/dev/null || missing+=(munge)
    command -v slurmctld >/dev/null || missing+=(slurmctld)
    command -v slurmd >/dev/null || missing+=(slurmd)
    command -v sbatch >/dev/null || missing+=(slurm-client)
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "missing ${missing[*]}; run as root or install ${PACKAGES[*]}"
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
    log "installing ${missing[*]}"
    # Debian's maintainer scripts would start the packaged daemons; keep them from doing so.
    local policy=/usr/sbin/policy-rc.d added=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added=1
    fi
    apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
    [ -n "$added" ] && rm -f "$policy"
    return 0
}

# The pid in $1 if that process is alive and its command line contains $2, else nothing.
live_pid() {
    local file=$1 name=$2 pid
    [ -f "$file" ] || return 0
    pid=$(tr -dc '0-9' <"$file")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$name" && echo "$pid"
    return 0
}

daemons_alive() {
    [ -n "$(live_pid "$BASE/munged.pid" munged)" ] &&
        [ -n "$(live_pid "$BASE/slurmctld.pid" slurmctld)" ] &&
        [ -n "$(live_pid "$BASE/slurmd.pid" slurmd)" ]
}

write_env() {
    {
        echo "export SLURM_CONF=$CONF"
        echo "export EXPCTL_SLURM_DEV_DIR=$BASE"
    } >"$ENV_FILE.tmp"
    mv "$ENV_FILE.tmp" "$ENV_FILE"
}

write_conf() {
    local host node_line
    host=$(hostname -s)
    # slurmd -C reports this machine exactly as slurmd will see it, so the node is not drained
    # for claiming more CPUs or memory than it has.
    node_line=$(slurmd -C | grep '^NodeName=' | sed "s/^NodeName=[^ ]*/NodeName=$host/")
    cat >"$CONF" <<EOF
# Written by scripts/slurm-dev.sh: a single-node development cluster.
ClusterName=expctldev
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCKET
CredType=cred/munge
StateSaveLocation=$BASE/state
SlurmdSpoolDir=$BASE/spool
SlurmctldPidFile=$BASE/slurmctld.pid
SlurmdPidFile=$BASE/slurmd.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
# No slurmdbd here: finished jobs' state and exit code come from \`sacct -c\` over this file.
JobCompType=jobcomp/filetxt
JobCompLoc=$BASE/jobcomp.txt
AccountingStorageType=accounting_storage/none
KillWait=5
InactiveLimit=0
MinJobAge=300
$node_line State=UNKNOWN NodeAddr=127.0.0.1
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    mkdir -p "$BASE/munge"
    chmod 755 "$BASE/munge"
    # A fresh random key, readable only by us: munged refuses keys others can read.
    dd if=/dev/urandom of="$BASE/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$BASE/munge/munge.key"
    munged --key-file="$BASE/munge/munge.key" --socket="$SOCKET" \
        --pid-file="$BASE/munged.pid" --log-file="$BASE/log/munged.log" \
        --seed-file="$BASE/munge/munged.seed" --force
}

wait_ready() {
    local since=$1 deadline=$((SECONDS + START_TIMEOUT)) host state started
    host=$(hostname -s)
    while [ $SECONDS -lt $deadline ]; do
        if SLURM_CONF=$CONF scontrol ping 2>/dev/null | grep -q 'is UP'; then
            # Ready once *this* slurmd registered (its start time is after we launched it)
            # and the node accepts work.
            local info
            info=$(SLURM_CONF=$CONF scontrol -o show node "$host" 2>/dev/null || true)
            started=$(sed -n 's/.*SlurmdStartTime=\([^ ]*\).*/\1/p' <<<"$info")
            state=$(sed -n 's/.*State=\([^ ]*\).*/\1/p' <<<"$info")
            if [ -n "$started" ] && [ "$started" != None ] &&
                [ "$(date -d "$started" +%s 2>/dev/null || echo 0)" -ge "$since" ] &&
                [[ $state == IDLE* || $state == MIXED* || $state == ALLOCATED* ]]; then
                return 0
            fi
        fi
        sleep 0.5
    done
    log "not ready after ${START_TIMEOUT}s; last lines of the logs:"
    tail -n 15 "$BASE"/log/*.log >&2 || true
    return 1
}

cmd_start() {
    install_packages
    if daemons_alive && SLURM_CONF=$CONF scontrol ping 2>/dev/null | grep -q 'is UP'; then
        log "already running (base $BASE)"
        write_env
        cat "$ENV_FILE"
        return 0
    fi
    stop_daemons quiet
    rm -rf "$BASE"
    mkdir -p "$BASE"/{state,spool,log}
    chmod 755 "$BASE"
    write_conf
    local since
    since=$(date +%s)
    start_munge
    SLURM_CONF=$CONF slurmctld -f "$CONF"
    SLURM_CONF=$CONF slurmd -f "$CONF"
    if ! wait_ready "$since"; then
        stop_daemons quiet
        die "cluster did not come up (logs kept in $BASE/log)"
    fi
    write_env
    log "ready in $((SECONDS))s: partition debug, node $(hostname -s) (base $BASE)"
    cat "$ENV_FILE"
}

# Stop the daemons recorded in $BASE, slurmd first so no new job steps start.
stop_daemons() {
    local quiet=${1:-} name pid deadline
    for name in slurmd slurmctld munged; do
        pid=$(live_pid "$BASE/$name.pid" "$name")
        [ -n "$pid" ] || continue
        [ -n "$quiet" ] || log "stopping $name ($pid)"
        kill "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 15))
        while [ -d "/proc/$pid" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
        if [ -d "/proc/$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
    done
    return 0
}

cmd_stop() {
    if [ ! -d "$BASE" ]; then
        log "not running (no $BASE)"
        return 0
    fi
    if daemons_alive; then
        # Cancel this cluster's jobs and give their steps a moment to end, so no job
        # processes outlive the cluster.
        SLURM_CONF=$CONF scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
        local deadline=$((SECONDS + 20))
        while [ $SECONDS -lt $deadline ] &&
            [ -n "$(SLURM_CONF=$CONF squeue -h -o %i 2>/dev/null)" ]; do
            sleep 0.5
        done
    fi
    stop_daemons
    rm -rf "$BASE"
    log "stopped"
}

cmd_status() {
    if daemons_alive && SLURM_CONF=$CONF scontrol ping 2>/dev/null | grep -q 'is UP'; then
        echo "running (base $BASE, SLURM_CONF=$CONF)"
        SLURM_CONF=$CONF sinfo -N -o '%N %P %t %c %m'
        return 0
    fi
    echo "not running"
    return 1
}

cmd_env() {
    [ -f "$ENV_FILE" ] || die "not running (no $ENV_FILE); run: $0 start"
    cat "$ENV_FILE"
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
