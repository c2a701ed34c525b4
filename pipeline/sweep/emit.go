package sweep

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/longtail-ml/longtail/pipeline"
)

// Job describes a cluster job that trains a sweep one run per task: task i
// runs `longtail sweep -c File --dir DIR --shard env/N`, which picks run i
// from $JOB_COMPLETION_INDEX or $SLURM_ARRAY_TASK_ID. The tasks share the
// sweep directory.
//
// Paths follow one rule on both clusters: a relative path in the sweep (such
// as data.path) resolves against the task's working directory, which is
// Workdir in the image (Kubernetes, where the data claim is mounted at
// Workdir/data) and Chdir (Slurm, default the directory emit runs in).
type Job struct {
	// Name is the job's name; empty means longtail-<sweep directory name>.
	// Kubernetes names are made DNS labels.
	Name string
	// Bin is the longtail binary as the tasks find it; empty means
	// "longtail".
	Bin string
	// Dir, when set, is the sweep directory as the tasks see it; empty
	// means Mount/<sweep directory name> (Kubernetes) or the sweep's
	// directory made absolute (Slurm).
	Dir string
	// Set holds "key=value" overrides passed on to every task.
	Set []string
	// CPUs per task, also ONNX Runtime's thread count; Parallelism is the
	// number of tasks running at once, 0 for all.
	CPUs, Parallelism int
	// Memory per task, in Kubernetes' notation ("8Gi"; Slurm gets "8G").
	Memory string
	// Grace is how long a task has to checkpoint once told to stop: Slurm
	// signals the task this long before its time limit, Kubernetes waits
	// this long between SIGTERM and SIGKILL. Zero means 2 minutes.
	Grace time.Duration

	// Kubernetes: the container image; the claim that holds the sweep
	// directory (ReadWriteMany) and where it is mounted; PVCSize, when set,
	// declares that claim in the manifest with this size; DataPVC, when
	// set, is a claim with the data, mounted read-only at Workdir/data;
	// Workdir is the container's working directory (empty: /opt/longtail,
	// the image's). The pods run as the image's user, ImageUID.
	Image, PVC, Mount, PVCSize, DataPVC, Workdir string
	// Slurm: the tasks' working directory (empty: the current directory),
	// time limit per task and partition (empty: the cluster's).
	Chdir, Time, Partition string
}

// Emit targets.
const (
	TargetKubernetes = "k8s"
	TargetSlurm      = "slurm"
)

// Targets are the job kinds Emit writes.
var Targets = []string{TargetKubernetes, TargetSlurm}

// Image layout (Containerfile): where the image keeps its working
// directory, the configs, and where a job mounts the sweep file.
const (
	ImageWorkdir = "/opt/longtail"
	ImageUID     = 10001
	configMount  = "/etc/longtail"
	configKey    = "sweep.yaml"
)

// ExitConfig is the exit code of a task whose config is bad: retrying it
// cannot help, so the Kubernetes Job fails its index at once.
const ExitConfig = 2

// Emit writes the job for s to w: a Kubernetes Indexed Job with its
// ConfigMap (and claim, if PVCSize is set) (k8s) or an sbatch script with a
// job array (slurm).
func (j Job) Emit(w io.Writer, target string, s *Sweep) error {
	if j.CPUs < 1 || j.Parallelism < 0 {
		return fmt.Errorf("sweep: emit: %d CPUs, parallelism %d; want ≥ 1 and ≥ 0", j.CPUs, j.Parallelism)
	}
	if j.Grace == 0 {
		j.Grace = 2 * time.Minute
	}
	if j.Grace < time.Second {
		return fmt.Errorf("sweep: emit: grace %s; want at least 1s", j.Grace)
	}
	if j.Bin == "" {
		j.Bin = "longtail"
	}
	if j.Name == "" {
		j.Name = "longtail-" + filepath.Base(s.Dir)
	}
	j.Name = dnsLabel(j.Name)
	switch target {
	case TargetKubernetes:
		return j.kubernetes(w, s)
	case TargetSlurm:
		return j.slurm(w, s)
	}
	return fmt.Errorf("sweep: emit: target %q; want one of %s", target, strings.Join(Targets, ", "))
}

// taskArgs is the command line of every task.
func (j *Job) taskArgs(s *Sweep, file, dir string) []string {
	args := []string{j.Bin, "sweep", "-c", file, "--dir", dir, "--shard", fmt.Sprintf("env/%d", len(s.Runs))}
	for _, kv := range j.Set {
		args = append(args, "--set", kv)
	}
	return args
}

// header lists the runs by task index, as comments.
func header(w io.Writer, s *Sweep, what string) {
	fmt.Fprintf(w, "# %s for the sweep %s: %d runs (%s), one per task.\n", what, s.File, len(s.Runs), s.Counts())
	fmt.Fprintf(w, "# Written by `longtail sweep emit`; `longtail report DIR` merges the results.\n")
	for _, r := range s.Runs {
		fmt.Fprintf(w, "#   task %d: %s\n", r.Index, r.Name)
	}
}

// SelfContained returns the sweep file with its base config inlined as a
// mapping and its dir dropped, so that it loads to the same runs from any
// directory (a Kubernetes ConfigMap holds it).
func SelfContained(file string) ([]byte, error) {
	raw, err := readYAMLMap(file)
	if err != nil {
		return nil, err
	}
	if b, ok := raw["base"].(string); ok && b != "" {
		if !filepath.IsAbs(b) {
			b = filepath.Join(filepath.Dir(file), b)
		}
		base, err := readYAMLMap(b)
		if err != nil {
			return nil, err
		}
		raw["base"] = base
	}
	delete(raw, "dir")
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# %s with its base config inlined (longtail sweep emit).\n", filepath.Base(file))
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(raw); err != nil {
		return nil, fmt.Errorf("sweep: %s: %w", file, err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func readYAMLMap(file string) (map[string]any, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, &pipeline.ConfigError{Source: file, Msg: fmt.Sprintf("not valid YAML: %v", err)}
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

func (j *Job) kubernetes(w io.Writer, s *Sweep) error {
	if j.Workdir == "" {
		j.Workdir = ImageWorkdir
	}
	mount := strings.TrimSuffix(j.Mount, "/")
	if !filepath.IsAbs(mount) || !filepath.IsAbs(j.Workdir) {
		return fmt.Errorf("sweep: emit k8s: mount %q and workdir %q; want absolute paths", j.Mount, j.Workdir)
	}
	dir := j.Dir
	if dir == "" {
		dir = mount + "/" + filepath.Base(s.Dir)
	}
	sweepFile, err := SelfContained(s.File)
	if err != nil {
		return err
	}
	n := len(s.Runs)
	parallelism := n
	if j.Parallelism > 0 {
		parallelism = min(j.Parallelism, n)
	}
	configMap := j.Name + "-sweep"
	mounts := []any{
		map[string]any{"name": "sweep", "mountPath": mount},
		map[string]any{"name": "config", "mountPath": configMount, "readOnly": true},
	}
	volumes := []any{
		map[string]any{"name": "sweep", "persistentVolumeClaim": map[string]any{"claimName": j.PVC}},
		map[string]any{"name": "config", "configMap": map[string]any{"name": configMap}},
	}
	if j.DataPVC != "" {
		mounts = append(mounts, map[string]any{"name": "data", "mountPath": j.Workdir + "/data", "readOnly": true})
		volumes = append(volumes, map[string]any{"name": "data",
			"persistentVolumeClaim": map[string]any{"claimName": j.DataPVC, "readOnly": true}})
	}
	container := map[string]any{
		"name":       "longtail",
		"image":      j.Image,
		"command":    j.taskArgs(s, configMount+"/"+configKey, dir),
		"workingDir": j.Workdir,
		"resources": map[string]any{
			"requests": map[string]any{"cpu": j.CPUs, "memory": j.Memory},
			"limits":   map[string]any{"cpu": j.CPUs, "memory": j.Memory},
		},
		"volumeMounts": mounts,
		"securityContext": map[string]any{
			"allowPrivilegeEscalation": false,
			"capabilities":             map[string]any{"drop": []any{"ALL"}},
		},
	}
	if _, gridded := s.Grid["runtime.threads"]; !gridded {
		container["env"] = []any{map[string]any{
			"name": pipeline.EnvName("runtime.threads"),
			"valueFrom": map[string]any{"resourceFieldRef": map[string]any{
				"containerName": "longtail", "resource": "limits.cpu", "divisor": "1",
			}},
		}}
	}
	labels := map[string]any{"app.kubernetes.io/name": "longtail", "app.kubernetes.io/instance": j.Name}
	job := map[string]any{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata":   map[string]any{"name": j.Name, "labels": labels},
		"spec": map[string]any{
			"completionMode":       "Indexed",
			"completions":          n,
			"parallelism":          parallelism,
			"backoffLimitPerIndex": 2,
			// Preemption, eviction and node drains are not the run's
			// fault: the pod's SIGTERM makes it checkpoint, and the index
			// starts again and resumes without using up a retry. A bad
			// config fails the same way every time: fail the index at once.
			"podFailurePolicy": map[string]any{"rules": []any{
				map[string]any{"action": "Ignore", "onPodConditions": []any{map[string]any{"type": "DisruptionTarget"}}},
				map[string]any{"action": "FailIndex", "onExitCodes": map[string]any{
					"containerName": "longtail", "operator": "In", "values": []any{ExitConfig}}},
			}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{
					"restartPolicy":                 "Never",
					"terminationGracePeriodSeconds": int64(j.Grace.Seconds()),
					"securityContext": map[string]any{
						"runAsNonRoot": true, "runAsUser": ImageUID, "runAsGroup": ImageUID, "fsGroup": ImageUID,
					},
					"containers": []any{container},
					"volumes":    volumes,
				},
			},
		},
	}
	cm := map[string]any{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata":   map[string]any{"name": configMap, "labels": labels},
		"data":       map[string]any{configKey: string(sweepFile)},
	}
	header(w, s, "Kubernetes Indexed Job")
	fmt.Fprintf(w, "# Apply with `kubectl apply -f FILE`. The sweep file reaches the pods as the ConfigMap %s\n", configMap)
	fmt.Fprintf(w, "# (%s/%s, its base config inlined); the image supplies the binary and ONNX Runtime.\n", configMount, configKey)
	fmt.Fprintf(w, "# The sweep directory is %s on the claim %s, which every pod writes at once:\n", dir, j.PVC)
	fmt.Fprintf(w, "# it must be ReadWriteMany (NFS, CephFS, EFS, Filestore...) and writable by uid/gid %d.\n", ImageUID)
	if j.DataPVC != "" {
		fmt.Fprintf(w, "# The data claim %s is mounted read-only at %s/data, the working directory's data/,\n", j.DataPVC, j.Workdir)
		fmt.Fprintf(w, "# where relative data paths such as data/cifar-10-binary.tar.gz look.\n")
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if j.PVCSize != "" {
		pvc := map[string]any{
			"apiVersion": "v1",
			"kind":       "PersistentVolumeClaim",
			"metadata":   map[string]any{"name": j.PVC, "labels": labels},
			"spec": map[string]any{
				"accessModes": []any{"ReadWriteMany"},
				"resources":   map[string]any{"requests": map[string]any{"storage": j.PVCSize}},
			},
		}
		if err := enc.Encode(pvc); err != nil {
			return fmt.Errorf("sweep: emit k8s: %w", err)
		}
	}
	for _, obj := range []any{cm, job} {
		if err := enc.Encode(obj); err != nil {
			return fmt.Errorf("sweep: emit k8s: %w", err)
		}
	}
	return enc.Close()
}

// slurmMemory writes a Kubernetes quantity ("8Gi") as Slurm's --mem ("8G",
// where Slurm's units are powers of 1024).
func slurmMemory(q string) string {
	for _, u := range []string{"Ki", "Mi", "Gi", "Ti"} {
		if strings.HasSuffix(q, u) {
			return strings.TrimSuffix(q, "i")
		}
	}
	return q
}

func (j *Job) slurm(w io.Writer, s *Sweep) error {
	dir := j.Dir
	if dir == "" {
		dir = s.Dir
	}
	chdir := j.Chdir
	if chdir == "" {
		chdir = "."
	}
	// The sweep file and directory are relative to where emit runs.
	var err error
	for _, p := range []*string{&chdir, &dir} {
		if *p, err = filepath.Abs(*p); err != nil {
			return fmt.Errorf("sweep: emit slurm: %w", err)
		}
	}
	file, err := filepath.Abs(s.File)
	if err != nil {
		return fmt.Errorf("sweep: emit slurm: %w", err)
	}
	n := len(s.Runs)
	array := fmt.Sprintf("0-%d", n-1)
	if j.Parallelism > 0 {
		array += fmt.Sprintf("%%%d", j.Parallelism)
	}
	grace := int(j.Grace.Seconds())
	fmt.Fprintln(w, "#!/bin/bash")
	header(w, s, "Slurm job array")
	fmt.Fprintf(w, "# Submit with `sbatch FILE`. Every task works in %s (relative data paths resolve there);\n", chdir)
	fmt.Fprintf(w, "# the sweep directory %s must be on a file system every node shares.\n", dir)
	fmt.Fprintf(w, "# %d s before its time limit a task gets SIGUSR1: longtail checkpoints, and the task\n", grace)
	fmt.Fprintf(w, "# requeues itself (scontrol requeue) to resume from the checkpoint. scancel stops it for good.\n")
	for _, o := range [][2]string{
		{"job-name", j.Name}, {"array", array}, {"ntasks", "1"}, {"cpus-per-task", fmt.Sprint(j.CPUs)},
		{"mem", slurmMemory(j.Memory)}, {"time", j.Time}, {"partition", j.Partition},
		{"chdir", chdir}, {"output", j.Name + "-%A_%a.out"}, {"open-mode", "append"},
		{"signal", fmt.Sprintf("B:USR1@%d", grace)}, {"requeue", ""},
	} {
		switch {
		case o[0] == "requeue":
			fmt.Fprintln(w, "#SBATCH --requeue")
		case o[1] != "":
			fmt.Fprintf(w, "#SBATCH --%s=%s\n", o[0], o[1])
		}
	}
	args := j.taskArgs(s, file, dir)
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	fmt.Fprintf(w, slurmBody, pipeline.EnvName("runtime.threads"), j.CPUs, strings.Join(args, " "))
	return nil
}

// slurmBody runs the task in the background so that the batch shell can
// take Slurm's warning signal (USR1, --signal=B:...): it passes SIGTERM on to
// longtail, which checkpoints and exits 130, and then requeues the task. A
// plain SIGTERM (scancel) is passed on without requeueing.
const slurmBody = `set -uo pipefail
export %s="${SLURM_CPUS_PER_TASK:-%d}"
task="${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}_${SLURM_ARRAY_TASK_ID:-0}"
say() { echo "longtail-slurm: $(date -u +%%FT%%TZ) task $task (job ${SLURM_JOB_ID}): $*"; }
say "start on $(hostname), restart ${SLURM_RESTART_COUNT:-0}"
requeue=0
pid=
trap 'requeue=1; say "time limit near (SIGUSR1): stopping at a checkpoint"; [ -n "$pid" ] && kill -TERM "$pid"' USR1
trap 'say "SIGTERM: stopping at a checkpoint"; [ -n "$pid" ] && kill -TERM "$pid"' TERM
%s &
pid=$!
# wait returns early when a trap runs; wait again until longtail has exited.
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; done
wait "$pid"
rc=$?
if [ "$requeue" = 1 ] && [ "$rc" = 130 ]; then
  say "checkpoint written; requeueing"
  scontrol requeue "$SLURM_JOB_ID" && exit 0
  say "scontrol requeue failed; resubmit the task to resume"
fi
say "exit $rc"
exit "$rc"
`

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// dnsLabel makes name a Kubernetes object name: lower-case letters, digits
// and '-', at most 52 characters (room for the pods' suffixes).
func dnsLabel(name string) string {
	name = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, name)
	if len(name) > 52 {
		name = name[:52]
	}
	return strings.Trim(name, "-")
}
