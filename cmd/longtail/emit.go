package main

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/longtail-ml/longtail/pipeline"
)

// emitCmd writes a cluster job that runs a sweep one run per task: a
// Kubernetes Indexed Job or a Slurm job array.
type emitCmd struct {
	sweepCmd
	out         string
	bin         string
	cpus        int
	parallelism int
	name        string
	// Kubernetes
	image, pvc, mount, memory, workdir string
	// Slurm
	mem, timeLimit, partition string
}

// emitTargets are the job kinds emit writes.
var emitTargets = []string{"k8s", "slurm"}

func newEmitCmd(a *app) *cobra.Command {
	c := &emitCmd{sweepCmd: sweepCmd{app: a}}
	cmd := &cobra.Command{
		Use:   "emit k8s|slurm -c SWEEP",
		Short: "Write a Kubernetes Indexed Job or a Slurm job array that runs a sweep",
		Long: `emit checks the sweep as 'sweep --dry-run' does and writes a job that trains it
with one run per task, through the cluster's own scheduler: task i runs
'longtail sweep -c SWEEP --shard env/N', which picks run i from
$JOB_COMPLETION_INDEX or $SLURM_ARRAY_TASK_ID. The tasks share the sweep
directory (a PersistentVolumeClaim mounted in every pod; a shared file system
under Slurm). A task that fails or is preempted is retried and resumes from its
checkpoint; 'longtail report DIR' then merges what the tasks wrote.

k8s: a batch/v1 Job with completionMode Indexed, completions = the number of
runs, backoffLimitPerIndex 2; each pod gets --cpus CPUs (also ONNX Runtime's
thread count) and --memory. The image must hold the longtail binary (--bin),
the sweep file and its base config at the paths given (relative to --workdir).

slurm: an sbatch script with --array=0-(N-1) (%P with --parallelism P), one
task of --cpus CPUs per run; SIGTERM two minutes before the time limit makes the
run checkpoint, and a requeued task resumes.

The job is written to stdout, or -o FILE. --set overrides are passed on to
every task.`,
		Example: `  longtail sweep emit k8s -c configs/paper-sweep.yaml --image registry.example/longtail:v1 > sweep-job.yaml
  kubectl apply -f sweep-job.yaml
  longtail sweep emit slurm -c configs/paper-sweep.yaml --cpus 8 --time 12:00:00 -o sweep.sbatch
  sbatch sweep.sbatch`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 || !slices.Contains(emitTargets, args[0]) {
				return fmt.Errorf("%w: emit takes one target, k8s or slurm; got %q", errUsage, strings.Join(args, " "))
			}
			return nil
		},
		ValidArgs: emitTargets,
		RunE:      c.run,
	}
	c.flags(cmd)
	fs := cmd.Flags()
	fs.StringVarP(&c.out, "output", "o", "", "write the job to `FILE` instead of stdout")
	fs.StringVar(&c.bin, "bin", "longtail", "the longtail binary as the tasks find it")
	fs.IntVar(&c.cpus, "cpus", 4, "CPUs per task (ONNX Runtime threads)")
	fs.IntVar(&c.parallelism, "parallelism", 0, "tasks running at once; 0: all")
	fs.StringVar(&c.name, "name", "", "job name (default longtail-<sweep directory name>)")
	fs.StringVar(&c.image, "image", "longtail:latest", "k8s: container image with longtail, the sweep file and its configs")
	fs.StringVar(&c.pvc, "pvc", "longtail-sweeps", "k8s: PersistentVolumeClaim that holds the sweep directory")
	fs.StringVar(&c.mount, "mount", "/sweeps", "k8s: where the claim is mounted; the sweep directory defaults to MOUNT/<sweep directory name>")
	fs.StringVar(&c.memory, "memory", "8Gi", "k8s: memory per pod")
	fs.StringVar(&c.workdir, "workdir", "", "k8s: the container's working directory (default: the image's)")
	fs.StringVar(&c.mem, "mem", "8G", "slurm: memory per task")
	fs.StringVar(&c.timeLimit, "time", "24:00:00", "slurm: time limit per task")
	fs.StringVar(&c.partition, "partition", "", "slurm: partition (default: the cluster's)")
	return cmd
}

func (c *emitCmd) run(cmd *cobra.Command, args []string) error {
	if c.cpus < 1 || c.parallelism < 0 {
		return fmt.Errorf("%w: --cpus %d, --parallelism %d; want ≥ 1 and ≥ 0", errUsage, c.cpus, c.parallelism)
	}
	s, err := c.load()
	if err != nil {
		return err
	}
	if c.name == "" {
		c.name = "longtail-" + filepath.Base(s.Dir)
	}
	c.name = dnsLabel(c.name)
	var b bytes.Buffer
	switch args[0] {
	case "k8s":
		err = c.kubernetes(&b, s)
	case "slurm":
		err = c.slurm(&b, s)
	}
	if err != nil {
		return err
	}
	if c.out == "" {
		_, err = c.app.stdout.Write(b.Bytes())
		return err
	}
	return pipeline.WriteFileAtomic(c.out, b.Bytes())
}

// taskArgs is the command line of every task.
func (c *emitCmd) taskArgs(s *pipeline.Sweep, dir string) []string {
	args := []string{c.bin, "sweep", "-c", c.file, "--dir", dir, "--shard", fmt.Sprintf("env/%d", len(s.Runs))}
	for _, kv := range c.set {
		args = append(args, "--set", kv)
	}
	return args
}

// header lists the runs by task index, as comments.
func header(w io.Writer, s *pipeline.Sweep, what string) {
	fmt.Fprintf(w, "# %s for the sweep %s: %d runs (%s), one per task.\n", what, s.File, len(s.Runs), s.Counts())
	fmt.Fprintf(w, "# Written by `longtail sweep emit`; `longtail report DIR` merges the results.\n")
	for _, r := range s.Runs {
		fmt.Fprintf(w, "#   task %d: %s\n", r.Index, r.Name)
	}
}

func (c *emitCmd) kubernetes(w *bytes.Buffer, s *pipeline.Sweep) error {
	dir := c.dir
	if dir == "" {
		dir = strings.TrimSuffix(c.mount, "/") + "/" + filepath.Base(s.Dir)
	}
	n := len(s.Runs)
	parallelism := n
	if c.parallelism > 0 {
		parallelism = min(c.parallelism, n)
	}
	container := map[string]any{
		"name":    "longtail",
		"image":   c.image,
		"command": c.taskArgs(s, dir),
		"resources": map[string]any{
			"requests": map[string]any{"cpu": c.cpus, "memory": c.memory},
			"limits":   map[string]any{"cpu": c.cpus, "memory": c.memory},
		},
		"volumeMounts": []any{map[string]any{"name": "sweep", "mountPath": c.mount}},
	}
	if _, gridded := s.Grid["runtime.threads"]; !gridded {
		container["env"] = []any{map[string]any{
			"name": pipeline.EnvName("runtime.threads"),
			"valueFrom": map[string]any{"resourceFieldRef": map[string]any{
				"containerName": "longtail", "resource": "limits.cpu", "divisor": "1",
			}},
		}}
	}
	if c.workdir != "" {
		container["workingDir"] = c.workdir
	}
	job := map[string]any{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata":   map[string]any{"name": c.name, "labels": map[string]any{"app.kubernetes.io/name": "longtail"}},
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
						"persistentVolumeClaim": map[string]any{"claimName": c.pvc},
					}},
				},
			},
		},
	}
	header(w, s, "Kubernetes Indexed Job")
	fmt.Fprintf(w, "# Apply with `kubectl apply -f FILE`; the sweep directory is %s on the claim %s.\n", dir, c.pvc)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(job); err != nil {
		return fmt.Errorf("emit k8s: %w", err)
	}
	return enc.Close()
}

func (c *emitCmd) slurm(w *bytes.Buffer, s *pipeline.Sweep) error {
	dir, err := filepath.Abs(s.Dir)
	if err != nil {
		return err
	}
	file, err := filepath.Abs(c.file)
	if err != nil {
		return err
	}
	n := len(s.Runs)
	array := fmt.Sprintf("0-%d", n-1)
	if c.parallelism > 0 {
		array += fmt.Sprintf("%%%d", c.parallelism)
	}
	fmt.Fprintln(w, "#!/bin/bash")
	header(w, s, "Slurm job array")
	fmt.Fprintf(w, "# Submit with `sbatch FILE`; the sweep directory %s must be on a file system every node shares.\n", dir)
	for _, o := range [][2]string{
		{"job-name", c.name}, {"array", array}, {"ntasks", "1"}, {"cpus-per-task", fmt.Sprint(c.cpus)},
		{"mem", c.mem}, {"time", c.timeLimit}, {"partition", c.partition},
		{"output", c.name + "-%A_%a.out"}, {"signal", "B:TERM@120"}, {"requeue", ""},
	} {
		switch {
		case o[0] == "requeue":
			fmt.Fprintln(w, "#SBATCH --requeue")
		case o[1] != "":
			fmt.Fprintf(w, "#SBATCH --%s=%s\n", o[0], o[1])
		}
	}
	fmt.Fprintln(w, "set -euo pipefail")
	fmt.Fprintf(w, "export %s=\"${SLURM_CPUS_PER_TASK:-%d}\"\n", pipeline.EnvName("runtime.threads"), c.cpus)
	args := c.taskArgs(s, dir)
	args[3] = file
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
