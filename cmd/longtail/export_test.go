package main

import (
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/runtime"
	"github.com/longtail-ml/longtail/sampling"
	"github.com/longtail-ml/longtail/sampling/dataset"
)

// trainTiny trains tinyYAML through the CLI and returns the run directory.
func trainTiny(t *testing.T, dir string) string {
	t.Helper()
	cfg := write(t, filepath.Join(dir, "tiny.yaml"), tinyYAML)
	if code, _, errs := cli(t, "train", "-c", cfg, "--out", filepath.Join(dir, "runs"), "--name", "t"); code != 0 {
		t.Fatal(errs)
	}
	return filepath.Join(dir, "runs", "t")
}

// writePNG writes image i of set as a PNG file.
func writePNG(t *testing.T, path string, set *dataset.Set, i int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, set.W, set.H))
	pix, plane := set.Image(i), set.H*set.W
	for k := range plane {
		img.Set(k%set.W, k/set.W, color.RGBA{pix[k], pix[plane+k], pix[2*plane+k], 255})
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

type predictJSON struct {
	Model       string       `json:"model"`
	Backend     string       `json:"backend"`
	Predictions []prediction `json:"predictions"`
}

// TestExportPredictEval trains a run, exports it, and checks through the
// CLI that both backends' logits for test images written as PNG files match
// the training network in evaluation mode (Net.Predict), and that eval of
// the model reproduces the run's final.json.
func TestExportPredictEval(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	run := trainTiny(t, dir)
	model := filepath.Join(dir, "model.onnx")
	code, out, errs := cli(t, "export", run, "-o", model)
	if code != 0 {
		t.Fatal(errs)
	}
	if !strings.Contains(out, "ONNX opset 9") || !strings.Contains(out, "4 classes") {
		t.Errorf("export output %q", out)
	}
	final, err := pipeline.ReadFinal(run)
	if err != nil {
		t.Fatal(err)
	}

	// The reference: the run's network in evaluation mode on test images.
	cfg, err := pipeline.Load(pipeline.Sources{File: filepath.Join(run, pipeline.ConfigFile)})
	if err != nil {
		t.Fatal(err)
	}
	data, err := pipeline.LoadData(cfg.Data, cfg.Augment.Normalize)
	if err != nil {
		t.Fatal(err)
	}
	test := data.Test
	ck, err := pipeline.ReadCheckpoint(filepath.Join(run, pipeline.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	env, err := runtime.Open(runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	net, err := pipeline.NewNetwork(env, cfg.Model, cfg.Optim, len(test.Classes), 16, test.C, test.H, test.W, cfg.Train.Seed)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	if err := net.SetState(ck.State); err != nil {
		t.Fatal(err)
	}
	idx := []int{0, 9, 10, 25, 31, 39} // images of every class
	x := make([]float32, len(idx)*test.ImageSize())
	sampling.Assemble(test, idx, data.Mean, data.Std, x)
	want, err := net.Predict(x, len(idx))
	if err != nil {
		t.Fatal(err)
	}
	var images []string
	for _, i := range idx {
		p := filepath.Join(dir, "img", test.Classes[test.Labels[i]]+"-"+string(rune('a'+len(images)))+".png")
		os.MkdirAll(filepath.Dir(p), 0o755)
		writePNG(t, p, test, i)
		images = append(images, p)
	}

	for _, b := range []struct {
		backend string
		tol     float64
	}{{"ort", 1e-4}, {"go", 1e-3}} {
		t.Run(b.backend, func(t *testing.T) {
			code, out, errs := cli(t, append([]string{"predict", "-m", model, "--backend", b.backend, "--json", "-k", "2", "--batch", "4"}, images...)...)
			if code != 0 {
				t.Fatal(errs)
			}
			var got predictJSON
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Predictions) != len(idx) || got.Backend != b.backend {
				t.Fatalf("%d predictions from %s", len(got.Predictions), got.Backend)
			}
			var d float64
			for j, p := range got.Predictions {
				k := len(test.Classes)
				ref := want[j*k : (j+1)*k]
				for c, v := range p.Logits {
					d = math.Max(d, math.Abs(float64(v)-float64(ref[c])))
				}
				if p.Image != images[j] || len(p.Logits) != k || len(p.Top) != 2 || p.Top[0].Index != argmaxOf(ref) ||
					p.Top[0].Class != test.Classes[p.Top[0].Index] || !(p.Top[0].Probability >= p.Top[1].Probability) {
					t.Errorf("image %d: %+v; reference logits %v", j, p, ref)
				}
			}
			if !(d < b.tol) {
				t.Errorf("max |predict − Net.Predict| = %.3g; want < %g", d, b.tol)
			}
			t.Logf("max |predict − Net.Predict| = %.3g", d)

			code, out, errs = cli(t, "eval", model, "--backend", b.backend, "--json")
			if code != 0 {
				t.Fatal(errs)
			}
			var f pipeline.Final
			if err := json.Unmarshal([]byte(out), &f); err != nil {
				t.Fatal(err)
			}
			if f.Top1 != final.Top1 || !slices.Equal(f.PerClass, final.PerClass) || f.Epoch != final.Epoch {
				t.Errorf("eval %s: top-1 %v per class %v epoch %d; final.json %v %v %d", model, f.Top1, f.PerClass, f.Epoch, final.Top1, final.PerClass, final.Epoch)
			}
		})
	}

	// Text output: the image, then ranked classes with percentages.
	code, out, errs = cli(t, "predict", "-m", model, "-k", "3", images[0])
	if code != 0 || !strings.HasPrefix(out, images[0]+"\n  1. ") || strings.Count(out, "%\n") != 3 {
		t.Errorf("predict text: %d %q %q", code, out, errs)
	}
}

func argmaxOf(v []float32) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

// TestModelErrors: bad models, images and flags fail with one line that
// says what is wrong.
func TestModelErrors(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	run := trainTiny(t, dir)
	model := filepath.Join(dir, "model.onnx")
	if code, _, errs := cli(t, "export", run, "-o", model); code != 0 {
		t.Fatal(errs)
	}
	good, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	truncated := write(t, filepath.Join(dir, "truncated.onnx"), string(good[:len(good)*2/3]))
	flipped := []byte(string(good))
	flipped[len(flipped)/2] ^= 1
	corrupt := write(t, filepath.Join(dir, "corrupt.onnx"), string(flipped))
	if code, _, errs := cli(t, "graphs", "--depth", "8", "--width", "4", "--classes", "4", "--out", filepath.Join(dir, "g")); code != 0 {
		t.Fatal(errs)
	}
	foreign := filepath.Join(dir, "g", "eval.onnx")
	img := filepath.Join(dir, "x.png")
	f, _ := os.Create(img)
	png.Encode(f, image.NewGray(image.Rect(0, 0, 50, 20)))
	f.Close()
	text := write(t, filepath.Join(dir, "notes.txt"), "hello\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"truncated model", []string{"predict", "-m", truncated, img}, exitError, []string{"truncated.onnx", "corrupt or truncated"}},
		{"corrupt model", []string{"predict", "-m", corrupt, "--backend", "go", img}, exitError, []string{"corrupt.onnx"}},
		{"foreign model", []string{"predict", "-m", foreign, img}, exitError, []string{"eval.onnx", "not a longtail export"}},
		{"not a model", []string{"eval", text}, exitError, []string{"notes.txt", "not an ONNX model"}},
		{"not an image", []string{"predict", "-m", model, img, text}, exitError, []string{"notes.txt: not a PNG or JPEG image"}},
		{"missing image", []string{"predict", "-m", model, filepath.Join(dir, "none.png")}, exitError, []string{"none.png", "no such file"}},
		{"no model", []string{"predict", img}, exitConfig, []string{"-m MODEL"}},
		{"bad backend", []string{"predict", "-m", model, "--backend", "tpu", img}, exitConfig, []string{`--backend "tpu"`}},
		{"wrong data", []string{"eval", model, "--set", "data.synthetic.classes=5"}, exitError, []string{"model does not fit the data", "classes"}},
		{"checkpoint with a model", []string{"eval", model, "--checkpoint", "x.ckpt"}, exitConfig, []string{"--checkpoint applies to a run directory"}},
		{"backend with a run", []string{"eval", run, "--backend", "go"}, exitConfig, []string{"--backend applies to a model file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := cli(t, tc.args...)
			if code != tc.code || out != "" || strings.Count(errs, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and one line on stderr", code, out, errs, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q lacks %q", errs, w)
				}
			}
		})
	}
	// A grey image of another size is fitted to the model's input.
	if code, out, errs := cli(t, "predict", "-m", model, "--backend", "go", img); code != 0 || !strings.Contains(out, "  1. ") {
		t.Errorf("grey 50×20 image: %d %q %q", code, out, errs)
	}
}

func TestExportPredictHelp(t *testing.T) {
	for _, c := range []string{"export", "predict"} {
		code, out, _ := cli(t, c, "--help")
		if code != 0 || !strings.Contains(out, "Usage:") || !strings.Contains(out, "Examples:") || !strings.Contains(out, "longtail "+c) {
			t.Errorf("longtail %s --help: code %d:\n%s", c, code, out)
		}
	}
}
