package sweep

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/longtail-ml/longtail/pipeline"
)

// Job describes a cluster job that trains a sweep one run per task: task i
// runs `longtail sweep -c File --dir DIR --shard env/N`, which picks run i
// from $JOB_COMPLETION_INDEX or $SLURM_ARRAY_TASK_ID. The tasks share the
// sweep directory.
type Job struct {
	// Name is the job's name; empty means longtail-<sweep directory name>.
	// Kubernetes names are made DNS labels.
	Name string
	// Bin is the longtail binary as the tasks find it; empty means
	// "longtail".
	Bin string
	// File is the sweep file as the tasks find it (Kubernetes: relative to
	// Workdir; Slurm: made absolute).
	File string
	// Dir, when set, is the sweep directory as the tasks see it; empty
	// means Mount/<sweep directory name> (Kubernetes) or the sweep's
	// directory made absolute (Slurm).
	Dir string
	// Set holds "key=value" overrides passed on to every task.
	Set []string
	// CPUs per task, also ONNX Runtime's thread count; Parallelism is the
	// number of tasks running at once, 0 for all.
	CPUs, Parallelism int

	// Kubernetes: the container image, the PersistentVolumeClaim that holds
	// the sweep directory and where it is mounted, memory per pod and the
	// container's working directory (empty: the image's).
	Image, PVC, Mount, Memory, Workdir string
	// Slurm: memory per task, time limit per task and partition (empty:
	// the cluster's).
	Mem, Time, Partition string
}

// Emit targets.
const (
	TargetKubernetes = "k8s"
	TargetSlurm      = "slurm"
)

// Targets are the job kinds Emit writes.
var Targets = []string{TargetKubernetes, TargetSlurm}

// Emit writes the job for s to w: a Kubernetes Indexed Job (k8s) or an
// sbatch script with a job array (slurm).
func (j Job) Emit(w io.Writer, target string, s *Sweep) error {
	if j.CPUs < 1 || j.Parallelism < 0 {
		return fmt.Errorf("sweep: emit: %d CPUs, parallelism %d; want ≥ 1 and ≥ 0", j.CPUs, j.Parallelism)
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

func (j *Job) kubernetes(w io.Writer, s *Sweep) error {
	dir := j.Dir
	if dir == "" {
		dir = strings.TrimSuffix(j.Mount, "/") + "/" + filepath.Base(s.Dir)
	}
	n := len(s.Runs)
	parallelism := n
	if j.Parallelism > 0 {
		parallelism = min(j.Parallelism, n)
	}
	container := map[string]any{
		"name":    "longtail",
		"image":   j.Image,
		"command": j.taskArgs(s, j.File, dir),
		"resources": map[string]any{
			"requests": map[string]any{"cpu": j.CPUs, "memory": j.Memory},
			"limits":   map[string]any{"cpu": j.CPUs, "memory": j.Memory},
		},
		"volumeMounts": []any{map[string]any{"name": "sweep", "mountPath": j.Mount}},
	}
	if _, gridded := s.Grid["runtime.threads"]; !gridded {
		container["env"] = []any{map[string]any{
			"name": pipeline.EnvName("runtime.threads"),
			"valueFrom": map[string]any{"resourceFieldRef": map[string]any{
				"containerName": "longtail", "resource": "limits.cpu", "divisor": "1",
			}},
		}}
	}
	if j.Workdir != "" {
		container["workingDir"] = j.Workdir
	}
	job := map[string]any{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata":   map[string]any{"name": j.Name, "labels": map[string]any{"app.kubernetes.io/name": "longtail"}},
		"spec": map[string]any{
			"completionMode":       "Indexed",
			"completions":          n,
			"parallelism":          parallelism,
			"backoffLimitPerIndex": 2,
			"template": map[string]any{
				"spec": map[string]any{
					"restartPolicy": "Never",
					"containers":    []any{container},
					"volumes": []any{map[string]any{
						"name":                  "sweep",
						"persistentVolumeClaim": map[string]any{"claimName": j.PVC},
					}},
				},
			},
		},
	}
	header(w, s, "Kubernetes Indexed Job")
	fmt.Fprintf(w, "# Apply with `kubectl apply -f FILE`; the sweep directory is %s on the claim %s.\n", dir, j.PVC)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(job); err != nil {
		return fmt.Errorf("sweep: emit k8s: %w", err)
	}
	return enc.Close()
}

func (j *Job) slurm(w io.Writer, s *Sweep) error {
	dir := j.Dir
	if dir == "" {
		dir = s.Dir
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("sweep: emit slurm: %w", err)
	}
	file, err := filepath.Abs(j.File)
	if err != nil {
		return fmt.Errorf("sweep: emit slurm: %w", err)
	}
	n := len(s.Runs)
	array := fmt.Sprintf("0-%d", n-1)
	if j.Parallelism > 0 {
		array += fmt.Sprintf("%%%d", j.Parallelism)
	}
	fmt.Fprintln(w, "#!/bin/bash")
	header(w, s, "Slurm job array")
	fmt.Fprintf(w, "# Submit with `sbatch FILE`; the sweep directory %s must be on a file system every node shares.\n", dir)
	for _, o := range [][2]string{
		{"job-name", j.Name}, {"array", array}, {"ntasks", "1"}, {"cpus-per-task", fmt.Sprint(j.CPUs)},
		{"mem", j.Mem}, {"time", j.Time}, {"partition", j.Partition},
		{"output", j.Name + "-%A_%a.out"}, {"signal", "B:TERM@120"}, {"requeue", ""},
	} {
		switch {
		case o[0] == "requeue":
			fmt.Fprintln(w, "#SBATCH --requeue")
		case o[1] != "":
			fmt.Fprintf(w, "#SBATCH --%s=%s\n", o[0], o[1])
		}
	}
	fmt.Fprintln(w, "set -euo pipefail")
	fmt.Fprintf(w, "export %s=\"${SLURM_CPUS_PER_TASK:-%d}\"\n", pipeline.EnvName("runtime.threads"), j.CPUs)
	args := j.taskArgs(s, file, dir)
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	fmt.Fprintf(w, "exec %s\n", strings.Join(args, " "))
	return nil
}

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
