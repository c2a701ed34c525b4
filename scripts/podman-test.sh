#!/usr/bin/env bash
# Proves the container image with a real engine, Podman, and no container registry: builds a
# Debian base image on this machine (debootstrap --variant=minbase from the Debian mirror apt
# already uses, read from apt's own configuration, then `podman import`), builds the longtail
# image from it with scripts/image.sh, runs `longtail doctor` in it, and runs one shard of a small
# sweep in it with no network, the data (an image folder written by `longtail data write`) and the
# output directory mounted as volumes and the sweep file mounted where a Kubernetes ConfigMap
# would put it. It checks the shard's final.json on the output volume against the same run
# trained here, outside the container.
#
#   scripts/podman-test.sh        # LONGTAIL_PODMAN_KEEP=1 keeps the scratch directory
#
# The base image is kept in Podman's store as localhost/longtail-base:<codename> and reused.
# Where Podman's default OCI runtime (crun) cannot run containers under a hybrid cgroup
# hierarchy, runc is used (LONGTAIL_PODMAN_RUNTIME overrides); where the process may not raise
# its resource limits (no CAP_SYS_RESOURCE), the container's limits are set at or below the
# current ones instead of Podman's defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "podman-test: $*"; }
fail() { echo "podman-test: FAIL: $*" >&2; exit 1; }
for t in podman debootstrap go; do
  command -v "$t" >/dev/null || fail "$t not found (apt-get install podman debootstrap runc)"
done
[ "$(id -u)" = 0 ] || fail "run as root: debootstrap and the import need it"

. /etc/os-release
codename=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
base=localhost/longtail-base:$codename
tag=localhost/longtail:podman-test

work=$(mktemp -d /tmp/longtail-podman.XXXXXX)
chmod 755 "$work"
cleanup() {
  rc=$?
  if [ "${LONGTAIL_PODMAN_KEEP:-}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
  exit $rc
}
trap cleanup EXIT

if podman image exists "$base"; then
  say "base image $base already in Podman's store"
else
  # The mirror apt uses for the release itself (not -security or -updates).
  mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
    awk -v r="$codename" '$2 == r { print $1; exit }')
  [ -n "$mirror" ] || fail "no apt source for $codename in apt's configuration (apt-get indextargets); run apt-get update"
  say "debootstrap --variant=minbase $codename from $mirror"
  debootstrap --variant=minbase "$codename" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log"; fail "debootstrap failed"; }
  say "podman import -> $base"
  tar -C "$work/rootfs" -c . | podman import - "$base" >/dev/null
  rm -rf "$work/rootfs"
fi

say "building the image from $base, never pulling"
./scripts/image.sh --engine podman --base "$base" --tag "$tag" -- --pull=never

runtime=${LONGTAIL_PODMAN_RUNTIME:-}
if [ -z "$runtime" ] && [ -d /sys/fs/cgroup/unified ] && command -v runc >/dev/null; then
  runtime=runc # crun refuses the hybrid cgroup layout
fi
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=65536
nofile=$((nofile < 65536 ? nofile : 65536))
run() {
  podman ${runtime:+--runtime "$runtime"} run --rm --network=none \
    --ulimit "nofile=$nofile:$nofile" --ulimit nproc=4096:4096 "$@"
}

say "longtail doctor in the image (OCI runtime: ${runtime:-the default})"
run "$tag" doctor >"$work/doctor.log" 2>&1 || { cat "$work/doctor.log"; fail "doctor failed in the image"; }
sed 's/^/  /' "$work/doctor.log"

# The data: a small synthetic set as an image folder, which the runs read with data.source folder
# from the relative path data/synthetic, i.e. /opt/longtail/data/synthetic in the image.
cp .image/longtail "$work/longtail" # the binary image.sh built for the image
"$work/longtail" data write "$work/data/synthetic" \
  --set data.synthetic.classes=4 --set data.synthetic.train_per_class=120 --set data.synthetic.test_per_class=20
cat >"$work/sweep.yaml" <<'EOF'
base:
  data: {source: folder, path: data/synthetic}
  model: {depth: 8, width: 4}
  train: {epochs: 2, eval_every: 0, seed: 0}
  runtime: {threads: 1}
methods:
  - name: ce_rs
    set: {loss.name: ce, sampling.name: random, sampling.batch: 16}
  - name: ours_bs
    set: {loss.name: weighted_ce, loss.weights: clamped, sampling.name: balanced, sampling.per_class: 4}
grid:
  data.imbalance: [10]
EOF
mkdir -p "$work/out"
chown 10001:10001 "$work/out" # the image's user

shard=1/2
say "sweep shard $shard in the container, no network, data and output on volumes"
run -v "$work/data:/opt/longtail/data:ro" -v "$work/out:/sweeps" -v "$work/sweep.yaml:/etc/longtail/sweep.yaml:ro" \
  "$tag" sweep -c /etc/longtail/sweep.yaml --dir /sweeps/tiny --shard "$shard" >"$work/shard.log" 2>&1 ||
  { cat "$work/shard.log"; fail "the shard failed in the container"; }
sed 's/^/  /' "$work/shard.log"

run_name=if10-ours_bs-seed0
final=$work/out/tiny/$run_name/final.json
[ -s "$final" ] || fail "no $final on the output volume: $(ls -R "$work/out")"
[ ! -e "$work/out/tiny/if10-ce_rs-seed0" ] || fail "the container trained a run of the other shard"
say "$final on the volume, owned by $(stat -c %u:%g "$final")"

say "the same shard here, outside the container"
(cd "$work" && ./longtail sweep -c sweep.yaml --dir host --shard "$shard" >host.log 2>&1) || { cat "$work/host.log"; fail "the host run failed"; }
cmp -s "$final" "$work/host/$run_name/final.json" || fail "final.json from the container differs from the host's"
sum=$(sha256sum <"$final" | cut -c1-12)
say "final.json identical to that of the same run trained on the host (sha256 $sum...)"
say "PASS"
