package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/pipeline/sweep"
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
			if len(args) != 1 || !slices.Contains(sweep.Targets, args[0]) {
				return fmt.Errorf("%w: emit takes one target, k8s or slurm; got %q", errUsage, strings.Join(args, " "))
			}
			return nil
		},
		ValidArgs: sweep.Targets,
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
	log, err := c.app.logger()
	if err != nil {
		return err
	}
	// The data lives where the tasks run, not necessarily here.
	for _, err := range s.MissingData() {
		log.Warn("data not found here; the tasks need it where they run", "err", err)
	}
	job := sweep.Job{
		Name: c.name, Bin: c.bin, File: c.file, Dir: c.dir, Set: c.set, CPUs: c.cpus, Parallelism: c.parallelism,
		Image: c.image, PVC: c.pvc, Mount: c.mount, Memory: c.memory, Workdir: c.workdir,
		Mem: c.mem, Time: c.timeLimit, Partition: c.partition,
	}
	var b bytes.Buffer
	if err := job.Emit(&b, args[0], s); err != nil {
		return err
	}
	if c.out == "" {
		_, err = c.app.stdout.Write(b.Bytes())
		return err
	}
	return pipeline.WriteFileAtomic(c.out, b.Bytes())
}
