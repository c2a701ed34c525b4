package sweep

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/longtail-ml/longtail/pipeline"
)

// k8sObjects splits a manifest into its documents and decodes each strictly
// into the Kubernetes API type its kind names: an unknown or misplaced field
// fails.
func k8sObjects(t *testing.T, manifest []byte) (jobs []batchv1.Job, cms []corev1.ConfigMap, pvcs []corev1.PersistentVolumeClaim) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(manifest))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("manifest: %v\n%s", err, manifest)
		}
		raw, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		var into any
		switch kind := doc["apiVersion"].(string) + " " + doc["kind"].(string); kind {
		case "batch/v1 Job":
			jobs = append(jobs, batchv1.Job{})
			into = &jobs[len(jobs)-1]
		case "v1 ConfigMap":
			cms = append(cms, corev1.ConfigMap{})
			into = &cms[len(cms)-1]
		case "v1 PersistentVolumeClaim":
			pvcs = append(pvcs, corev1.PersistentVolumeClaim{})
			into = &pvcs[len(pvcs)-1]
		default:
			t.Fatalf("unexpected object %s in the manifest", kind)
		}
		if err := sigsyaml.UnmarshalStrict(raw, into); err != nil {
			t.Fatalf("%s %v does not decode strictly into the API type: %v\n%s", doc["kind"], doc["metadata"], err, raw)
		}
	}
	return jobs, cms, pvcs
}

// TestEmitKubernetes decodes the emitted objects into k8s.io/api's types and
// checks what a cluster relies on: one index per run, retries that
// disruptions do not use up, the volumes, and a sweep file in the ConfigMap
// that loads to the same runs from another directory.
func TestEmitKubernetes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "base.yaml", "model: {depth: 8, width: 4}\ndata: {source: synthetic, path: data/ignored}\ntrain: {epochs: 1}\n")
	file := writeFile(t, dir, "s.yaml", `
base: base.yaml
methods:
  - name: ce
    set: {loss.name: ce}
  - name: cb
    set: {loss.name: cb}
grid:
  data.imbalance: [10, 100]
  train.seed: [0, 1, 2]
dir: runs/s
`)
	s, err := Load(file, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		job  Job
		pvcs int
	}{
		{"defaults", Job{CPUs: 2, Image: "example/longtail:1", PVC: "sweeps", Mount: "/sweeps", Memory: "6Gi",
			Set: []string{"data.path=/data/x.tar.gz"}}, 0},
		{"declared claim, data claim, parallelism", Job{CPUs: 4, Parallelism: 3, Image: "i", PVC: "out", Mount: "/out/",
			PVCSize: "5Gi", DataPVC: "cifar", Memory: "8Gi", Grace: 90 * time.Second}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := c.job.Emit(&b, TargetKubernetes, s); err != nil {
				t.Fatal(err)
			}
			jobs, cms, pvcs := k8sObjects(t, b.Bytes())
			if len(jobs) != 1 || len(cms) != 1 || len(pvcs) != c.pvcs {
				t.Fatalf("%d jobs, %d config maps, %d claims; want 1, 1, %d", len(jobs), len(cms), len(pvcs), c.pvcs)
			}
			job, cm := jobs[0], cms[0]
			spec := job.Spec
			n := int32(len(s.Runs))
			par := n
			if c.job.Parallelism > 0 {
				par = int32(c.job.Parallelism)
			}
			if spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion ||
				*spec.Completions != n || *spec.Parallelism != par || spec.BackoffLimitPerIndex == nil || *spec.BackoffLimitPerIndex != 2 {
				t.Errorf("job spec %+v", spec)
			}
			pod := spec.Template.Spec
			if pod.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("restartPolicy %q; a pod failure policy needs Never", pod.RestartPolicy)
			}
			grace := c.job.Grace
			if grace == 0 {
				grace = 2 * time.Minute
			}
			if pod.TerminationGracePeriodSeconds == nil || *pod.TerminationGracePeriodSeconds != int64(grace.Seconds()) {
				t.Errorf("terminationGracePeriodSeconds %v; want %v", pod.TerminationGracePeriodSeconds, grace.Seconds())
			}
			// Disruptions are ignored; a config error fails its index.
			var ignore, failIndex bool
			if spec.PodFailurePolicy != nil {
				for _, r := range spec.PodFailurePolicy.Rules {
					switch {
					case r.Action == batchv1.PodFailurePolicyActionIgnore && len(r.OnPodConditions) == 1 && r.OnPodConditions[0].Type == corev1.DisruptionTarget:
						ignore = true
					case r.Action == batchv1.PodFailurePolicyActionFailIndex && r.OnExitCodes != nil && slices.Contains(r.OnExitCodes.Values, ExitConfig):
						failIndex = true
					}
				}
			}
			if !ignore || !failIndex {
				t.Errorf("pod failure policy %+v; want disruptions ignored and exit %d failing the index", spec.PodFailurePolicy, ExitConfig)
			}
			if len(pod.Containers) != 1 {
				t.Fatalf("%d containers", len(pod.Containers))
			}
			ctr := pod.Containers[0]
			mount := strings.TrimSuffix(c.job.Mount, "/")
			want := []string{"longtail", "sweep", "-c", "/etc/longtail/sweep.yaml", "--dir", mount + "/s", "--shard", "env/12"}
			for _, kv := range c.job.Set {
				want = append(want, "--set", kv)
			}
			if !slices.Equal(ctr.Command, want) || ctr.Image != c.job.Image || ctr.WorkingDir != ImageWorkdir {
				t.Errorf("container command %q image %q workdir %q; want %q", ctr.Command, ctr.Image, ctr.WorkingDir, want)
			}
			if q := ctr.Resources.Limits[corev1.ResourceMemory]; q.String() != c.job.Memory {
				t.Errorf("memory limit %s; want %s", q.String(), c.job.Memory)
			}
			if len(ctr.Env) != 1 || ctr.Env[0].ValueFrom == nil || ctr.Env[0].ValueFrom.ResourceFieldRef == nil ||
				ctr.Env[0].ValueFrom.ResourceFieldRef.Resource != "limits.cpu" {
				t.Errorf("env %+v; want the thread count from limits.cpu", ctr.Env)
			}
			if pod.SecurityContext == nil || pod.SecurityContext.FSGroup == nil || *pod.SecurityContext.FSGroup != ImageUID {
				t.Errorf("pod security context %+v; want fsGroup %d", pod.SecurityContext, ImageUID)
			}
			// Every mount has its volume; the claims are the ones asked for.
			vols := map[string]corev1.Volume{}
			for _, v := range pod.Volumes {
				vols[v.Name] = v
			}
			mounts := map[string]string{}
			for _, m := range ctr.VolumeMounts {
				if _, ok := vols[m.Name]; !ok {
					t.Errorf("mount %s has no volume", m.Name)
				}
				mounts[m.Name] = m.MountPath
			}
			if v := vols["sweep"]; v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != c.job.PVC || mounts["sweep"] != mount {
				t.Errorf("sweep volume %+v at %q", v, mounts["sweep"])
			}
			if v := vols["config"]; v.ConfigMap == nil || v.ConfigMap.Name != cm.Name || mounts["config"] != "/etc/longtail" {
				t.Errorf("config volume %+v at %q; want the ConfigMap %s", v, mounts["config"], cm.Name)
			}
			v, hasData := vols["data"]
			if hasData != (c.job.DataPVC != "") {
				t.Errorf("data volume %v; data claim %q", hasData, c.job.DataPVC)
			}
			if hasData && (v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != c.job.DataPVC ||
				!v.PersistentVolumeClaim.ReadOnly || mounts["data"] != ImageWorkdir+"/data") {
				t.Errorf("data volume %+v at %q", v, mounts["data"])
			}
			for _, p := range pvcs {
				if p.Name != c.job.PVC || !slices.Equal(p.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}) {
					t.Errorf("claim %s %v; want %s ReadWriteMany", p.Name, p.Spec.AccessModes, c.job.PVC)
				}
				if q := p.Spec.Resources.Requests[corev1.ResourceStorage]; q.String() != c.job.PVCSize {
					t.Errorf("claim size %s; want %s", q.String(), c.job.PVCSize)
				}
			}
			// The ConfigMap's sweep file, alone in another directory, loads
			// to the same runs with the same configs.
			other := t.TempDir()
			got, err := Load(writeFile(t, other, "sweep.yaml", cm.Data["sweep.yaml"]), Sources{Dir: s.Dir})
			if err != nil {
				t.Fatalf("the ConfigMap's sweep file: %v\n%s", err, cm.Data["sweep.yaml"])
			}
			if !got.SameRuns(s) {
				t.Errorf("the ConfigMap's sweep file lists other runs")
			}
			for i := range got.Runs {
				d, err := fingerprintDiffs(mustFingerprint(t, s.Runs[i]), got.Runs[i].Config, 10)
				if err != nil || len(d) > 0 {
					t.Errorf("run %s: the ConfigMap's config differs: %v %v", got.Runs[i].Name, d, err)
				}
			}
		})
	}
}

// TestEmitSlurm checks the script's directives and runs it through bash -n;
// scripts/slurm-test.sh runs it on a real Slurm.
func TestEmitSlurm(t *testing.T) {
	dir := t.TempDir()
	file := tinySweep(t, dir, "")
	s, err := Load(file, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	j := Job{CPUs: 2, Parallelism: 2, Memory: "6Gi", Time: "1:00:00", Chdir: dir, Grace: 45 * time.Second, Set: []string{"train.epochs=2"}}
	if err := j.Emit(&b, TargetSlurm, s); err != nil {
		t.Fatal(err)
	}
	script := b.String()
	abs, _ := filepath.Abs(file)
	for _, w := range []string{
		"#!/bin/bash\n", "\n#SBATCH --array=0-3%2\n", "\n#SBATCH --mem=6G\n", "\n#SBATCH --chdir=" + dir + "\n",
		"\n#SBATCH --signal=B:USR1@45\n", "\n#SBATCH --requeue\n", "\n#SBATCH --open-mode=append\n",
		"longtail sweep -c " + abs + " --dir " + filepath.Join(dir, "sweep") + " --shard env/4 --set train.epochs=2 &\n",
		"scontrol requeue \"$SLURM_JOB_ID\"",
	} {
		if !strings.Contains(script, w) {
			t.Errorf("the script lacks %q:\n%s", w, script)
		}
	}
	// #SBATCH lines are read only before the first command.
	if i, j := strings.LastIndex(script, "#SBATCH"), strings.Index(script, "set -uo"); i > j {
		t.Errorf("an #SBATCH line follows a command:\n%s", script)
	}
	p := filepath.Join(dir, "s.sbatch")
	if err := os.WriteFile(p, b.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bash", "-n", p).CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v %s", err, out)
	}
}

func mustFingerprint(t *testing.T, r Run) map[string]string {
	t.Helper()
	c := *r.Config
	if err := c.Complete(10); err != nil {
		t.Fatal(err)
	}
	fp, err := pipeline.Fingerprint(&c)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}
