package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

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
	memory      string
	grace       time.Duration
	// Kubernetes
	image, pvc, mount, pvcSize, dataPVC, workdir string
	// Slurm
	chdir, timeLimit, partition string
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
directory; 'longtail report DIR' then merges what they wrote.

Paths follow one rule on both: a relative path in the sweep (data.path) resolves
against the task's working directory. --set overrides (e.g. an absolute
data.path) are passed on to every task.

k8s: a ConfigMap with the sweep file (its base config inlined), mounted at
/etc/longtail, and a batch/v1 Job with completionMode Indexed, one completion
per run, backoffLimitPerIndex 2 and a pod failure policy: a disruption
(preemption, eviction, drain) does not count against the retries, and exit code
2 (a bad config) fails the index at once. Pods run the image built by
scripts/image.sh (working directory /opt/longtail, uid 10001) with --cpus CPUs
(also ONNX Runtime's thread count) and --memory; SIGTERM makes a run
checkpoint within --grace, and its retry resumes. The claim --pvc holds the
sweep directory at --mount and must be ReadWriteMany (--pvc-size declares it
in the manifest); --data-pvc, if set, is mounted read-only at
/opt/longtail/data, where relative data paths such as data/cifar-10-binary.tar.gz
look.

slurm: an sbatch script with --array=0-(N-1) (%P with --parallelism P), one
task of --cpus CPUs per run, --chdir the current directory (or --chdir), and
--signal=B:USR1 --grace before the time limit: the task then checkpoints and
requeues itself ('scontrol requeue'), and resumes where it stopped. The sweep
file and directory are made absolute and must be on a shared file system.

The job is written to stdout, or -o FILE.`,
		Example: `  longtail sweep emit k8s -c configs/paper-sweep.yaml --image registry.example/longtail:v1 --data-pvc cifar > sweep-job.yaml
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
	fs.StringVar(&c.memory, "memory", "8Gi", "memory per task (k8s quantity; Slurm gets 8Gi as 8G)")
	fs.StringVar(&c.memory, "mem", "8Gi", "memory per task")
	_ = fs.MarkDeprecated("mem", "use --memory")
	fs.DurationVar(&c.grace, "grace", 2*time.Minute, "time a task has to checkpoint when stopped (Slurm: signal before the time limit; k8s: termination grace period)")
	fs.StringVar(&c.image, "image", "longtail:latest", "k8s: container image (scripts/image.sh builds one)")
	fs.StringVar(&c.pvc, "pvc", "longtail-sweeps", "k8s: ReadWriteMany PersistentVolumeClaim that holds the sweep directory")
	fs.StringVar(&c.pvcSize, "pvc-size", "", "k8s: declare the --pvc claim in the manifest with this size (e.g. 20Gi); empty: it exists")
	fs.StringVar(&c.mount, "mount", "/sweeps", "k8s: where the claim is mounted; the sweep directory defaults to MOUNT/<sweep directory name>")
	fs.StringVar(&c.dataPVC, "data-pvc", "", "k8s: claim with the data, mounted read-only at WORKDIR/data")
	fs.StringVar(&c.workdir, "workdir", sweep.ImageWorkdir, "k8s: the container's working directory")
	fs.StringVar(&c.chdir, "chdir", "", "slurm: the tasks' working directory (default: the current one)")
	fs.StringVar(&c.timeLimit, "time", "24:00:00", "slurm: time limit per task")
	fs.StringVar(&c.partition, "partition", "", "slurm: partition (default: the cluster's)")
	return cmd
}

func (c *emitCmd) run(cmd *cobra.Command, args []string) error {
	if c.cpus < 1 || c.parallelism < 0 {
		return fmt.Errorf("%w: --cpus %d, --parallelism %d; want ≥ 1 and ≥ 0", errUsage, c.cpus, c.parallelism)
	}
	if c.grace < time.Second {
		return fmt.Errorf("%w: --grace %s; want at least 1s", errUsage, c.grace)
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
		Name: c.name, Bin: c.bin, Dir: c.dir, Set: c.set, CPUs: c.cpus, Parallelism: c.parallelism,
		Memory: c.memory, Grace: c.grace,
		Image: c.image, PVC: c.pvc, Mount: c.mount, PVCSize: c.pvcSize, DataPVC: c.dataPVC, Workdir: c.workdir,
		Chdir: c.chdir, Time: c.timeLimit, Partition: c.partition,
	}
	var b bytes.Buffer
	if err := job.Emit(&b, args[0], s); err != nil {
		return err
	}
	if c.out == "" {
		_, err = c.app.stdout.Write(b.Bytes())
		return err
	}
	mode := os.FileMode(0o644)
	if args[0] == sweep.TargetSlurm {
		mode = 0o755
	}
	if err := pipeline.WriteFileAtomic(c.out, b.Bytes()); err != nil {
		return err
	}
	return os.Chmod(c.out, mode)
}
