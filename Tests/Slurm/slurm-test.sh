#!/usr/bin/env bash
# `make slurm-test`: a real one-node Slurm cluster on localhost runs an experiment as
# sharded jobs, and the results must equal a single-machine run bit for bit.
#
# 1. Installs Debian's slurm-wlm and munge when missing (root, or sudo).
# 2. Starts munged, slurmctld and slurmd from Tests/Slurm/slurm.conf.in, with every state,
#    log and spool file under a temporary folder; stops them by PID on any exit.
# 3. `trawl slurm Experiments/mvtec-grid-patchcore.json --shards 4 --submit` with an empty
#    cache folder: the 4 array tasks extract the features, fit-score merges them, selects
#    the coreset in 4 shards and scores. Checks that every job completed, that fit-score
#    extracted nothing, and that scores.csv equals `trawl run --coreset-shards 4` on this
#    machine (its own empty cache) byte for byte.
# 4. The same with task 2 of the array failing (an injected `exit 1` in extract.sbatch,
#    submitted by hand as the script's comments say): fit-score must end CANCELLED
#    (DependencyNeverSatisfied) within a bounded time instead of pending forever.
#
# Needs the release build (`make build`) and ../shared (skips with the reason without it).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TRAWL=$ROOT/.build/release/trawl
SPEC=Experiments/mvtec-grid-patchcore.json
NAME=mvtec-grid-patchcore
SHARDS=4
JOB_TIMEOUT=${SLURM_TEST_JOB_TIMEOUT:-1200}     # seconds for the sharded run's jobs
CANCEL_TIMEOUT=${SLURM_TEST_CANCEL_TIMEOUT:-120} # seconds for fit-score to be cancelled
START=$(date +%s)

say() { echo "slurm-test: $*"; }
# The reason is printed again after the daemons' logs, so that the last line of the output says it.
FAILURE=
fail() { FAILURE=$*; echo "slurm-test: FAILED: $*" >&2; exit 1; }

[ -x "$TRAWL" ] || fail "$TRAWL is missing; run make build"
if [ ! -d ../shared/datasets/mvtec/grid ]; then
    say "SKIPPED: ../shared/datasets/mvtec/grid is absent (the MVTec grid subset the test runs on)"
    exit 0
fi
SUDO=
if [ "$(id -u)" != 0 ]; then
    sudo -n true 2>/dev/null || fail "needs root (or password-less sudo) to install and start Slurm"
    SUDO=sudo
fi

# One cluster at a time on a machine: its ports are fixed (the lock is writable by every user).
LOCK=/tmp/trawl-slurm-test.lock
[ -e "$LOCK" ] || { : > "$LOCK" && chmod 666 "$LOCK"; }
exec 9>> "$LOCK"
flock -n 9 || fail "another make slurm-test is running on this machine (it holds $LOCK)"

# 1. Debian packages.
missing=
for package in slurm-wlm munge; do dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"; done
if [ -n "$missing" ]; then
    say "installing Debian packages:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
for tool in munged slurmctld slurmd sbatch squeue scontrol; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || fail "$tool not found after installing slurm-wlm munge"
done

# 2. The cluster, under a temporary folder (mode 755: munged checks the folders above its socket).
STATE=$(mktemp -d /tmp/trawl-slurm.XXXXXX)
chmod 755 "$STATE"
PIDS=()
stop() {
    status=$?
    for pid in "${PIDS[@]}"; do $SUDO kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "$status" != 0 ]; then
        for log in slurmctld.log slurmd.log; do
            [ -f "$STATE/$log" ] && { echo "--- last lines of $log"; tail -n 15 "$STATE/$log"; }
        done
    fi
    $SUDO rm -rf "$STATE"
    say "daemons stopped; $(( $(date +%s) - START )) s in all"
    [ -z "$FAILURE" ] || echo "slurm-test: FAILED: $FAILURE" >&2
}
trap stop EXIT

mkdir -p "$STATE/munge" "$STATE/slurmctld" "$STATE/slurmd"
$SUDO chown munge:munge "$STATE/munge"
KEY=/etc/munge/munge.key
if [ ! -f "$KEY" ]; then   # Debian's postinst normally creates it
    KEY=$STATE/munge/munge.key
    $SUDO dd if=/dev/urandom of="$KEY" bs=1024 count=1 status=none
    $SUDO chown munge:munge "$KEY"
    $SUDO chmod 400 "$KEY"
fi
MEMORY_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
sed -e "s|@STATE@|$STATE|g" -e "s|@CTLD_PORT@|${SLURM_TEST_PORT:-16817}|" \
    -e "s|@SLURMD_PORT@|$(( ${SLURM_TEST_PORT:-16817} + 1 ))|" -e "s|@CPUS@|$(nproc)|" \
    -e "s|@MEMORY_MB@|$MEMORY_MB|" Tests/Slurm/slurm.conf.in > "$STATE/slurm.conf"
export SLURM_CONF=$STATE/slurm.conf

$SUDO runuser -u munge -- /usr/sbin/munged --foreground --socket="$STATE/munge/munge.socket.2" \
    --key-file="$KEY" --pid-file="$STATE/munge/munged.pid" --log-file="$STATE/munge/munged.log" \
    --seed-file="$STATE/munge/munged.seed" > "$STATE/munged.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$STATE/munge/munge.socket.2" ] && break; sleep 0.1; done
[ -S "$STATE/munge/munge.socket.2" ] || fail "munged did not create its socket (see $STATE/munge/munged.log)"
$SUDO env SLURM_CONF="$SLURM_CONF" /usr/sbin/slurmctld -D -i > "$STATE/slurmctld.out" 2>&1 &
PIDS+=($!)
$SUDO env SLURM_CONF="$SLURM_CONF" /usr/sbin/slurmd -D -N localhost > "$STATE/slurmd.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 60); do
    [ "$(sinfo -h -n localhost -o %t 2>/dev/null)" = idle ] && break
    sleep 0.5
done
[ "$(sinfo -h -n localhost -o %t 2>/dev/null)" = idle ] || fail "the node did not come up idle: $(sinfo 2>&1)"
for pid in "${PIDS[@]}"; do   # a daemon that lost its port to another program exits at once
    $SUDO kill -0 "$pid" 2>/dev/null || fail "a daemon exited at start (see $STATE/slurmctld.out, slurmd.out, munged.out)"
done
say "cluster up: munged, slurmctld, slurmd (PIDs ${PIDS[*]}), $(nproc) CPUs, ${MEMORY_MB} MB, state in $STATE"

# `scontrol -o show job`'s lines for job $1 (one per array task), read whole before any grep:
# `scontrol | grep -q` under pipefail fails when grep stops reading before scontrol has written.
job_lines() { scontrol -o show job "$1" 2>/dev/null || true; }
# States of job $1's tasks, counted.
states() { job_lines "$1" | grep -o 'JobState=[A-Z_]* Reason=[^ ]*' | sort | uniq -c | tr -s ' '; }
# Waits until every task of job $1 has ended (at most $2 seconds). Reads the job's states with
# scontrol (MinJobAge keeps ended jobs there) rather than waiting for the job to leave squeue, so
# a moment when squeue cannot reach slurmctld is not taken for the job's end.
ENDED='^(COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|BOOT_FAIL|DEADLINE|PREEMPTED)$'
wait_ended() {
    local deadline=$(( $(date +%s) + $2 )) task_states
    while :; do
        task_states=$(job_lines "$1" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2) || true
        if [ -n "$task_states" ] && ! grep -qvE "$ENDED" <<< "$task_states"; then return; fi
        [ "$(date +%s)" -lt "$deadline" ] || fail "job $1 has not ended after $2 s: $(states "$1")"
        sleep 1
    done
}
WORK=$STATE/work
mkdir -p "$WORK"

# 3. The sharded run on the cluster.
say "trawl slurm $SPEC --shards $SHARDS --submit (empty cache $WORK/cache-slurm)"
CLUSTER_START=$(date +%s)
"$TRAWL" slurm "$SPEC" --shards "$SHARDS" --submit --cache "$WORK/cache-slurm" --results "$WORK/results-slurm" \
    | tee "$WORK/submit.log"
EXTRACT_JOB=$(sed -n 's/^extract job \([0-9]*\) .*fit-score job \([0-9]*\) .*/\1/p' "$WORK/submit.log")
FIT_JOB=$(sed -n 's/^extract job \([0-9]*\) .*fit-score job \([0-9]*\) .*/\2/p' "$WORK/submit.log")
[ -n "$EXTRACT_JOB" ] && [ -n "$FIT_JOB" ] || fail "no job ids in the output of trawl slurm --submit"
wait_ended "$EXTRACT_JOB" "$JOB_TIMEOUT"
wait_ended "$FIT_JOB" "$JOB_TIMEOUT"
say "extract job $EXTRACT_JOB:"; states "$EXTRACT_JOB"
say "fit-score job $FIT_JOB:"; states "$FIT_JOB"
say "cluster run: $(( $(date +%s) - CLUSTER_START )) s"
[ "$(job_lines "$EXTRACT_JOB" | grep -c 'JobState=COMPLETED')" = "$SHARDS" ] \
    || fail "not every extract task completed (logs: slurm/$NAME/extract-${EXTRACT_JOB}_*.out)"
grep -q 'JobState=COMPLETED' <<< "$(job_lines "$FIT_JOB")" \
    || fail "fit-score did not complete: $(cat "slurm/$NAME/fit-score-$FIT_JOB.out")"
FIT_LOG=slurm/$NAME/fit-score-$FIT_JOB.out
grep '^features\|^headline' "$FIT_LOG"
grep -q '^features: [0-9]* images from the cache, 0 computed' "$FIT_LOG" \
    || fail "fit-score extracted features itself (see $FIT_LOG)"
for task in $(seq 0 $(( SHARDS - 1 ))); do
    grep -q "computed" "slurm/$NAME/extract-${EXTRACT_JOB}_$task.out" || fail "task $task printed no extraction counts"
done

say "single-machine run: trawl run $SPEC --coreset-shards $SHARDS (empty cache $WORK/cache-local)"
LOCAL_START=$(date +%s)
"$TRAWL" run "$SPEC" --coreset-shards "$SHARDS" --cache "$WORK/cache-local" --results "$WORK/results-local" --quiet \
    > "$WORK/local.log"
grep '^features\|^headline' "$WORK/local.log"
say "single-machine run: $(( $(date +%s) - LOCAL_START )) s"
cmp "$WORK/results-slurm/$NAME/scores.csv" "$WORK/results-local/$NAME/scores.csv" \
    || fail "scores.csv of the cluster run differs from the single-machine run"
grep -q '"coreset_shards_override" : 4' "$WORK/results-slurm/$NAME/run.json" \
    || fail "run.json does not record --coreset-shards 4"
say "scores.csv of the cluster run ($(wc -l < "$WORK/results-slurm/$NAME/scores.csv") lines) equals the single-machine run's byte for byte"

# 4. One failing task: fit-score must be cancelled, not pend forever.
say "failure case: task 2 of the array exits 1 (injected into extract.sbatch)"
"$TRAWL" slurm "$SPEC" --shards "$SHARDS" --cache "$WORK/cache-failing" --results "$WORK/results-failing" >/dev/null
SCRIPTS=slurm/$NAME
sed -i 's|^exec |[ "$SLURM_ARRAY_TASK_ID" = 2 ] \&\& { echo "injected failure" >\&2; exit 1; }\nexec |' \
    "$SCRIPTS/extract.sbatch"
grep -q 'injected failure' "$SCRIPTS/extract.sbatch" || fail "could not inject the failure"
FAILING_JOB=$(sbatch --parsable "$SCRIPTS/extract.sbatch")
DEPENDENT_JOB=$(sbatch --parsable --dependency=afterok:"$FAILING_JOB" --kill-on-invalid-dep=yes "$SCRIPTS/fit-score.sbatch")
say "extract job $FAILING_JOB, fit-score job $DEPENDENT_JOB"
wait_ended "$FAILING_JOB" "$JOB_TIMEOUT"
CANCEL_START=$(date +%s)
wait_ended "$DEPENDENT_JOB" "$CANCEL_TIMEOUT"
say "extract job $FAILING_JOB:"; states "$FAILING_JOB"
say "fit-score job $DEPENDENT_JOB ($(( $(date +%s) - CANCEL_START )) s after the array ended):"; states "$DEPENDENT_JOB"
grep -q 'ArrayTaskId=2 .*JobState=FAILED' <<< "$(job_lines "$FAILING_JOB")" || fail "task 2 did not fail: $(states "$FAILING_JOB")"
grep -q 'JobState=CANCELLED Reason=DependencyNeverSatisfied' <<< "$(job_lines "$DEPENDENT_JOB")" \
    || fail "fit-score was not cancelled for its dependency: $(states "$DEPENDENT_JOB")"
[ ! -e "$WORK/results-failing/$NAME" ] || fail "the cancelled fit-score job wrote results"
say "PASSED"
