#!/usr/bin/env bash
# Proves `longtail sweep emit slurm` on a real Slurm: starts a single-node cluster on this machine
# (Debian's slurm-wlm and munge: munged, slurmctld and slurmd on localhost, in a scratch
# directory, with their own ports and key; nothing in /etc is touched), submits the emitted job
# array for a small synthetic sweep, sends task 0 Slurm's time-limit warning (SIGUSR1 to the batch
# shell, what --signal=B:USR1@GRACE does before the limit) in the middle of its run, and checks the
# log for: interrupted -> checkpoint written -> requeued -> resumed at the saved epoch and step ->
# sweep complete, and that every final.json equals that of the same sweep run uninterrupted.
# Stops the cluster on exit. Needs root (the daemons run as root) and Go.
#
#   scripts/slurm-test.sh            # LONGTAIL_SLURM_KEEP=1 keeps the scratch directory
#
# Slurm holds a requeued job back for two minutes (its BeginTime); the test moves that to now with
# `scontrol update` so that it need not wait. On a real cluster the task simply starts later.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

say() { echo "slurm-test: $*"; }
fail() { echo "slurm-test: FAIL: $*" >&2; exit 1; }
for t in munged slurmctld slurmd sbatch squeue scontrol scancel; do
  command -v "$t" >/dev/null || fail "$t not found: apt-get install slurm-wlm munge"
done
[ "$(id -u)" = 0 ] || fail "run as root: this single-node cluster runs its daemons as root"

work=$(mktemp -d /tmp/longtail-slurm.XXXXXX)
chmod 755 "$work"
export SLURM_CONF=$work/slurm.conf
cleanup() {
  rc=$?
  scancel --quiet --full "${job:-0}" 2>/dev/null || true
  for p in slurmd slurmctld; do
    [ -f "$work/$p.pid" ] && kill "$(cat "$work/$p.pid")" 2>/dev/null || true
  done
  sleep 1
  [ -f "$work/munge-run/munged.pid" ] && kill "$(cat "$work/munge-run/munged.pid")" 2>/dev/null || true
  if [ $rc != 0 ]; then
    for f in "$work"/log/*.log; do
      [ -f "$f" ] && { echo "--- $f (last 20 lines)"; tail -20 "$f"; }
    done
  fi
  if [ "${LONGTAIL_SLURM_KEEP:-}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
  exit $rc
}
trap cleanup EXIT

say "building longtail"
go build -o "$work/longtail" ./cmd/longtail
./scripts/setup.sh >/dev/null

# munge: its own key and socket.
mkdir -m 700 "$work/munge"
mkdir -m 755 "$work/munge-run"
mkdir -p "$work/state" "$work/spool" "$work/log"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 600 "$work/munge/munge.key"
munged --socket="$work/munge-run/munge.sock" --key-file="$work/munge/munge.key" \
  --pid-file="$work/munge-run/munged.pid" --log-file="$work/log/munged.log" --seed-file="$work/munge/seed" \
  || fail "munged did not start"

node=$(hostname -s)
ctl_port=${LONGTAIL_SLURM_PORT:-16817}
cat >"$SLURM_CONF" <<EOF
ClusterName=longtail-test
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge-run/munge.sock
CredType=cred/munge
SlurmctldPort=$ctl_port
SlurmdPort=$((ctl_port + 1))
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=2048 State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld || fail "slurmctld did not start"
slurmd || fail "slurmd did not start"
for _ in $(seq 1 30); do
  sinfo -h -o %t 2>/dev/null | grep -q idle && break
  sleep 1
done
sinfo -h -o %t | grep -q idle || fail "the node did not come up: $(sinfo 2>&1)"
say "cluster up: $(slurmctld -V), node $node"

# Two runs of a few seconds per epoch: enough to be signalled mid-run.
cat >"$work/sweep.yaml" <<'EOF'
base:
  data:
    source: synthetic
    imbalance: 10
    synthetic: {classes: 4, train_per_class: 300, test_per_class: 20, seed: 1}
  model: {depth: 8, width: 8}
  train: {epochs: 4, eval_every: 0, seed: 0}
methods:
  - name: ce_rs
    set: {loss.name: ce, sampling.name: random, sampling.batch: 16}
  - name: ours_bs
    set: {loss.name: weighted_ce, loss.weights: clamped, sampling.name: balanced, sampling.per_class: 4}
EOF
runs=(if10-ce_rs-seed0 if10-ours_bs-seed0)

say "reference: the same sweep, uninterrupted"
(cd "$work" && LONGTAIL_RUNTIME_THREADS=1 ./longtail sweep -c sweep.yaml --dir ref >ref.log 2>&1) || { cat "$work/ref.log"; fail "the reference sweep failed"; }

cd "$work"
./longtail sweep emit slurm -c sweep.yaml --dir out --bin "$work/longtail" --cpus 1 --memory 512Mi \
  --time 10 --grace 30s --name lt-test -o job.sbatch
job=$(sbatch --parsable job.sbatch)
say "submitted job array $job (2 tasks)"
log0="$work/lt-test-${job}_0.out"

# Signal task 0 once it has finished an epoch and is inside the next.
for _ in $(seq 1 120); do
  [ -s "out/${runs[0]}/metrics.jsonl" ] && break
  sleep 0.5
done
[ -s "out/${runs[0]}/metrics.jsonl" ] || fail "task 0 did not finish an epoch: $(cat "$log0" 2>/dev/null)"
[ -e "out/${runs[0]}/final.json" ] && fail "task 0 finished before it could be signalled; make the runs longer"
sleep 1
say "sending task ${job}_0 SIGUSR1 (Slurm's warning before the time limit)"
scancel --signal=USR1 --batch "${job}_0"

# The task checkpoints and requeues itself; skip Slurm's two-minute hold on requeued jobs.
for _ in $(seq 1 120); do
  grep -q "requeueing" "$log0" 2>/dev/null && squeue -h -j "${job}_0" -o %T | grep -q PENDING && break
  sleep 0.5
done
squeue -h -j "${job}_0" -o %T | grep -q PENDING || fail "task 0 was not requeued: $(cat "$log0")"
say "task 0 requeued: $(squeue -h -j "${job}_0" -o '%T, reason %r, begin %S')"
scontrol update JobId="${job}_0" StartTime=now

# Done when squeue answers with no task left and both tasks logged their exit (squeue may fail
# for a moment while slurmctld is busy; that is no answer).
finished() {
  local q
  q=$(squeue -h -j "$job" 2>/dev/null) && [ -z "$q" ] &&
    grep -q ': exit ' "$log0" && grep -q ': exit ' "lt-test-${job}_1.out" 2>/dev/null
}
for _ in $(seq 1 300); do
  finished && break
  sleep 1
done
finished || fail "the job did not finish: $(squeue -j "$job" 2>&1)"

echo "--- task 0's log (without debug lines)"
grep -v 'level=DEBUG' "$log0" | cut -c1-240
echo "---"
# The sequence, in order.
interrupted=$(grep -m1 'msg=interrupted' "$log0") || fail "no 'interrupted' line"
resumed=$(grep -m1 'msg=resume ' "$log0") || fail "no 'resume' line"
at() { sed -n 's/.* epoch=\([0-9]*\)[/0-9]* step=\([0-9]*\).*/epoch \1 step \2/p' <<<"$1"; }
saved=$(at "$interrupted")
[ -n "$saved" ] || fail "cannot read the interrupted step: $interrupted"
order=$(grep -n -e 'time limit near' -e 'msg=interrupted' -e 'checkpoint written; requeueing' -e 'restart 1' \
  -e 'msg=resume ' -e 'msg="sweep done"' -e ': exit 0' "$log0" | cut -d: -f1 | tr '\n' ' ')
[ "$(wc -w <<<"$order")" = 7 ] || fail "task 0's log lacks a step of the sequence (line numbers: $order)"
[ "$(tr ' ' '\n' <<<"$order" | grep . | sort -n | tr '\n' ' ')" = "$order" ] || fail "task 0's log is out of order (lines $order)"
[ "$(at "$resumed")" = "$saved" ] || fail "resumed at $(at "$resumed"), checkpointed at $saved"
grep -q 'exit 0' "lt-test-${job}_1.out" || fail "task 1 did not finish: $(cat "lt-test-${job}_1.out")"

say "task 0: interrupted at $saved -> checkpoint written -> requeued -> resumed at $saved -> sweep complete"
for r in "${runs[@]}"; do
  cmp -s "ref/$r/final.json" "out/$r/final.json" || fail "$r: final.json differs from the uninterrupted sweep's"
  say "$r: final.json identical to the uninterrupted sweep's ($(sha256sum <"out/$r/final.json" | cut -c1-12))"
done
say "PASS"
