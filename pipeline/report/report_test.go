package report

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/longtail-ml/longtail/internal/ci"
	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/pipeline/sweep"
)

// fakeRun is a finished (or, with nil perClass, unfinished) run of a sweep
// written without training.
type fakeRun struct {
	method   string
	imb      float64
	seed     int64
	perClass []float64
}

// fakeTrainCounts make class 0 many-shot, 1 medium-shot and 2 few-shot.
var fakeTrainCounts = []int{200, 50, 10}

// writeFakeSweep writes a sweep directory as `longtail sweep` leaves it:
// sweep.json, and for each finished run final.json (from a confusion matrix
// of 10 test images per class) and two epochs of metrics.
func writeFakeSweep(t *testing.T, dir string, methods []string, runs []fakeRun) *sweep.Sweep {
	t.Helper()
	s := &sweep.Sweep{File: "fake.yaml", Dir: dir, Baseline: methods[0], Methods: methods, Grid: map[string][]any{}}
	for i, r := range runs {
		name := "if" + formatFloat(r.imb) + "-" + r.method + "-seed" + formatFloat(float64(r.seed))
		s.Runs = append(s.Runs, sweep.Run{Index: i, Name: name, Method: r.method, Imbalance: r.imb, Seed: r.seed,
			Params: map[string]any{sweep.KeyImbalance: r.imb, sweep.KeySeed: r.seed}})
		rd := filepath.Join(dir, name)
		if err := os.MkdirAll(rd, 0o755); err != nil {
			t.Fatal(err)
		}
		if r.perClass == nil {
			continue
		}
		conf := pipeline.NewConfusion(len(r.perClass))
		for c, a := range r.perClass {
			right := int64(math.Round(10 * a))
			conf[c][c] = right
			conf[c][(c+1)%len(r.perClass)] = 10 - right
		}
		m, err := pipeline.Summarize(conf, fakeTrainCounts, pipeline.DefaultShots())
		if err != nil {
			t.Fatal(err)
		}
		f := &pipeline.Final{Metrics: m, Epoch: 2, Classes: []string{"a", "b", "c"}, TrainCounts: fakeTrainCounts}
		if err := pipeline.WriteFinal(rd, name, f); err != nil {
			t.Fatal(err)
		}
		recs := []pipeline.EpochRecord{{Epoch: 1, Loss: 2 - 0.1*float64(i)}, {Epoch: 2, Loss: 1 - 0.05*float64(i), Eval: &m}}
		if err := pipeline.WriteMetrics(rd, f.Classes, recs); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.WriteManifest(); err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeGrid is 2 methods × 2 imbalance factors × 2 seeds, one run unfinished.
func fakeGrid() []fakeRun {
	return []fakeRun{
		{"ce", 10, 0, []float64{0.9, 0.6, 0.3}},
		{"ours", 10, 0, []float64{0.8, 0.7, 0.6}},
		{"ce", 100, 0, []float64{1.0, 0.2, 0.0}},
		{"ours", 100, 0, []float64{0.7, 0.6, 0.5}},
		{"ce", 10, 1, []float64{0.9, 0.5, 0.1}},
		{"ours", 10, 1, []float64{0.8, 0.8, 0.5}},
		{"ce", 100, 1, []float64{0.9, 0.3, 0.0}},
		{"ours", 100, 1, nil},
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestBuildReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fake")
	writeFakeSweep(t, dir, []string{"ce", "ours"}, fakeGrid())
	rep, err := Build("", dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 4 || len(rep.Runs) != 7 || rep.Planned != 8 || strings.Join(rep.Missing, ",") != "if100-ours-seed1" {
		t.Fatalf("%d rows, %d runs of %d, missing %v", len(rep.Rows), len(rep.Runs), rep.Planned, rep.Missing)
	}
	// Worked by hand: per-class [0.9 0.6 0.3] and [0.9 0.5 0.1] have top-1
	// 0.6 and 0.5 and per-class SD √0.06 and √(0.32/3); ours' gains over ce
	// by seed are 0.1 and 0.2.
	sd0, sd1 := math.Sqrt(0.06), math.Sqrt(0.32/3)
	for _, tc := range []struct {
		row                  int
		label                string
		imb                  float64
		seeds                int
		top1, top1Std        float64
		sd, sdStd            float64
		few, fewStd          float64
		gain, gainStd        float64
		hasGain              bool
		unpaired             int
		perClass0, perClass2 float64
	}{
		{0, "ce", 10, 2, 0.55, math.Sqrt(0.005), (sd0 + sd1) / 2, math.Abs(sd0-sd1) / math.Sqrt2, 0.2, math.Sqrt(0.02), 0, 0, false, 0, 0.9, 0.2},
		{1, "ours", 10, 2, 0.7, 0, (math.Sqrt(0.02/3) + math.Sqrt(0.02)) / 2, math.Abs(math.Sqrt(0.02/3)-math.Sqrt(0.02)) / math.Sqrt2, 0.55, math.Sqrt(0.005), 0.15, math.Sqrt(0.005), true, 0, 0.8, 0.55},
		{2, "ce", 100, 2, 0.4, 0, (math.Sqrt(0.56/3) + math.Sqrt(0.42/3)) / 2, math.Abs(math.Sqrt(0.56/3)-math.Sqrt(0.42/3)) / math.Sqrt2, 0, 0, 0, 0, false, 0, 0.95, 0},
		// ours seed 1 did not finish: ce's seed 1 has no partner.
		{3, "ours", 100, 1, 0.6, 0, math.Sqrt(0.02 / 3), 0, 0.5, 0, 0.2, 0, true, 1, 0.7, 0.5},
	} {
		r := rep.Rows[tc.row]
		if r.Label() != tc.label || r.Imbalance != tc.imb || len(r.Replicates) != tc.seeds || r.Planned != 2 {
			t.Errorf("row %d: %s IF %g %d/%d seeds", tc.row, r.Label(), r.Imbalance, len(r.Replicates), r.Planned)
		}
		if !near(r.Top1.Mean, tc.top1) || !near(r.Top1.Std, tc.top1Std) || !near(r.SD.Mean, tc.sd) || !near(r.SD.Std, tc.sdStd) {
			t.Errorf("row %d: top-1 %+v SD %+v; want %g ± %g, %g ± %g", tc.row, r.Top1, r.SD, tc.top1, tc.top1Std, tc.sd, tc.sdStd)
		}
		if r.Few == nil || !near(r.Few.Mean, tc.few) || !near(r.Few.Std, tc.fewStd) {
			t.Errorf("row %d: few %+v; want %g ± %g", tc.row, r.Few, tc.few, tc.fewStd)
		}
		if (r.Gain != nil) != tc.hasGain || tc.hasGain && (!near(r.Gain.Top1.Mean, tc.gain) || !near(r.Gain.Top1.Std, tc.gainStd)) || r.Unpaired != tc.unpaired {
			t.Errorf("row %d: gain %+v, %d unpaired; want %g ± %g, %d", tc.row, r.Gain, r.Unpaired, tc.gain, tc.gainStd, tc.unpaired)
		}
		if !near(r.PerClass[0], tc.perClass0) || !near(r.PerClass[2], tc.perClass2) {
			t.Errorf("row %d: per-class %v", tc.row, r.PerClass)
		}
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	// ± is the half-width t_{0.975,1}·s/√2 = 12.7062·|a−b|/2 of two values
	// a, b: top-1 0.6 and 0.5 give 63.53 points, few-shot 0.3 and 0.1
	// 127.06, per-class SD √0.06 and √(0.32/3) 51.87. The worst class is c
	// in both runs (as few-shot, 0.3 and 0.1); the runs have no ECE.
	for _, w := range []string{
		"7 of 8 runs finished",
		"At IF 100: ours +20.00 points top-1 and -35.04 points SD against ce (n=1, no interval)",
		"| IF | method | n | top-1 % (95% CI) | SD of per-class acc. % (95% CI) |",
		"| 10 | ce | 2/2 | 55.00 ± 63.53 | 28.58 ± 51.87 | 90.00 ± 0.00 | 55.00 ± 63.53 | 20.00 ± 127.06 | 20.00 ± 127.06 (2 c) | – | – | – | – |",
		"| 10 | ours | 2/2 | 70.00 ± 0.00 |",
		"| +15.00 ± 63.53 |",
		"| 100 | ours | 1/2 | 60.00 (n=1, no interval) | 8.16 |",
		"| +20.00 (n=1, no interval) | -35.04 | 1 (1 unpaired) |",
		"1 replicate without a partner",
		"Not finished (1): if100-ours-seed1",
	} {
		if !strings.Contains(md.String(), w) {
			t.Errorf("report.md lacks %q:\n%s", w, md.String())
		}
	}
	var csv bytes.Buffer
	if err := rep.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(csv.String()), "\n")
	// ce at IF 10: 0.55 ∓ 0.635310 (t_{0.975,1}·0.1/2).
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "imbalance,method,setting,planned,n,seeds,lt_seeds,top1_mean,top1_std,top1_ci_lo,top1_ci_hi,") ||
		!strings.HasSuffix(lines[0], ",gain_top1_mean,gain_top1_std,gain_top1_ci_lo,gain_top1_ci_hi,gain_sd_mean,gain_sd_std,gain_sd_ci_lo,gain_sd_ci_hi,pairs,unpaired,"+
			"worst_mean,worst_std,worst_ci_lo,worst_ci_hi,ece_mean,ece_std,ece_ci_lo,ece_ci_hi,worst_classes,many_shot,few_shot") ||
		!strings.HasPrefix(lines[4], "100,ours,,2,1,0,0,0.6,,,,") || !strings.HasSuffix(lines[4], ",0.2,,,,-0.3504,,,,1,1,0.5,,,,,,,,2,100,20") ||
		!strings.HasPrefix(lines[1], "10,ce,,2,2,0 1,0 0,0.55,0.0707107,-0.0853102,1.18531,") {
		t.Errorf("report.csv:\n%s", csv.String())
	}

	// Against ours, ce loses what ours gained.
	rep, err = Build("ours", dir)
	if err != nil {
		t.Fatal(err)
	}
	if g := rep.Rows[0].Gain; g == nil || !near(g.Top1.Mean, -0.15) {
		t.Errorf("ce against ours: %+v", g)
	}
	if _, err := Build("softmax", dir); err == nil || !strings.Contains(err.Error(), "ce, ours") {
		t.Errorf("unknown baseline: %v", err)
	}
}

func TestBuildReportErrors(t *testing.T) {
	root := t.TempDir()
	if _, err := Build("", root); err == nil || !strings.Contains(err.Error(), "sweep.json") {
		t.Errorf("no manifest: %v", err)
	}
	empty := filepath.Join(root, "empty")
	writeFakeSweep(t, empty, []string{"ce"}, []fakeRun{{"ce", 10, 0, nil}})
	if _, err := Build("", empty); err == nil || !strings.Contains(err.Error(), "none of the 1 runs") {
		t.Errorf("nothing finished: %v", err)
	}
	other := filepath.Join(root, "other")
	writeFakeSweep(t, other, []string{"ce"}, []fakeRun{{"ce", 50, 0, nil}})
	if _, err := Build("", empty, other); err == nil || !strings.Contains(err.Error(), "different sweeps") {
		t.Errorf("different sweeps merged: %v", err)
	}
}

// TestReportMerge splits a sweep's runs between two directories, as shards
// without a shared file system leave them, and checks that the merged
// report is the report of the whole.
func TestReportMerge(t *testing.T) {
	root := t.TempDir()
	grid := fakeGrid()
	var a, b []fakeRun
	for i, r := range grid {
		ra, rb := r, r
		if i%2 == 0 {
			rb.perClass = nil
		} else {
			ra.perClass = nil
		}
		a, b = append(a, ra), append(b, rb)
	}
	whole := filepath.Join(root, "whole", "s")
	writeFakeSweep(t, whole, []string{"ce", "ours"}, grid)
	writeFakeSweep(t, filepath.Join(root, "a", "s"), []string{"ce", "ours"}, a)
	writeFakeSweep(t, filepath.Join(root, "b", "s"), []string{"ce", "ours"}, b)
	var want, got, half bytes.Buffer
	for _, x := range []struct {
		w    *bytes.Buffer
		dirs []string
	}{{&want, []string{whole}}, {&got, []string{filepath.Join(root, "a", "s"), filepath.Join(root, "b", "s")}}, {&half, []string{filepath.Join(root, "a", "s")}}} {
		rep, err := Build("", x.dirs...)
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.WriteMarkdown(x.w); err != nil {
			t.Fatal(err)
		}
	}
	if got.String() != want.String() {
		t.Errorf("merged report\n%s\nwant\n%s", got.String(), want.String())
	}
	if half.String() == want.String() {
		t.Error("half of the runs give the whole report")
	}
}

// decodePNG reads a PNG and checks its size.
func decodePNG(t *testing.T, path string, width, height int) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() != width || b.Dy() != height {
		t.Errorf("%s: %dx%d; want %dx%d", path, b.Dx(), b.Dy(), width, height)
	}
	return img
}

// pixels counts the pixels of img that have colour c.
func pixels(img image.Image, c color.RGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if uint8(r>>8) == c.R && uint8(g>>8) == c.G && uint8(bl>>8) == c.B {
				n++
			}
		}
	}
	return n
}

// TestReportFiles writes a report and checks the files: the PNGs decode,
// have one panel per imbalance factor, and show each method in its colour.
func TestReportFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fake")
	writeFakeSweep(t, dir, []string{"ce", "ours"}, fakeGrid())
	rep, err := Build("", dir)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, Dir)
	paths, err := rep.Write(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{MarkdownFile, CSVFile, Figure2File, Figure3File, SpreadFile, ReliabilityFile, "curves_if10.png", "curves_if100.png", HTMLFile}
	if len(paths) != len(want) {
		t.Fatalf("wrote %v; want %v", paths, want)
	}
	for i, p := range paths {
		if filepath.Base(p) != want[i] {
			t.Errorf("file %d: %s; want %s", i, p, want[i])
		}
	}
	px := func(l float64) int { return int(math.Round(l / 72 * figureDPI)) } // vg lengths are points
	panelW, panelH := px(float64(panelWidth)), px(float64(panelHeight))
	// Two imbalance factors: two panels side by side.
	fig2 := decodePNG(t, filepath.Join(out, Figure2File), 2*panelW, panelH)
	fig3 := decodePNG(t, filepath.Join(out, Figure3File), 2*panelW, panelH)
	curves := decodePNG(t, filepath.Join(out, "curves_if10.png"), 3*panelW, panelH)
	spread := decodePNG(t, filepath.Join(out, SpreadFile), 2*panelW, panelH)
	for i, m := range rep.Methods {
		// Each method's runs as light points, its means as bars.
		if n := pixels(spread, tint(pipeline.Palette(i), 0.5)); n < 50 {
			t.Errorf("spread: %d pixels of %s's points", n, m)
		}
		if n := pixels(spread, pipeline.Palette(i)); n < 50 {
			t.Errorf("spread: %d pixels of %s's means", n, m)
		}
		if n := pixels(fig2, tint(pipeline.Palette(i), 0.55)); n < 500 {
			t.Errorf("figure 2: %d pixels of %s's box colour", n, m)
		}
		for name, img := range map[string]image.Image{"figure 3": fig3, "curves": curves} {
			if n := pixels(img, pipeline.Palette(i)); n < 100 {
				t.Errorf("%s: %d pixels of %s's line colour", name, n, m)
			}
		}
	}
	html, err := os.ReadFile(filepath.Join(out, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(html), `src="data:image/png;base64,`); n != 6 {
		t.Errorf("report.html embeds %d images; want 6", n)
	}
	if regexp.MustCompile(`(src|href)="(https?:|file:|[a-z_]+\.png)`).Match(html) {
		t.Error("report.html refers to another file")
	}
}

// chromiumCheck is injected at the top of a page: it records errors and
// broken images and writes them into the <html> element, which --dump-dom
// prints.
const chromiumCheck = `<script>
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message || (e.target && e.target.src) || 'error').slice(0, 80)); }, true);
window.addEventListener('load', function () {
  var broken = 0, imgs = document.images;
  for (var i = 0; i < imgs.length; i++) { if (!imgs[i].complete || imgs[i].naturalWidth === 0) broken++; }
  document.documentElement.setAttribute('data-check', 'images=' + imgs.length + ' broken=' + broken + ' errors=' + window.__errors.length + ' ' + window.__errors.join('|'));
});
</script>`

// renderInChromium loads page in headless Chromium and returns what the
// injected check found and the console lines Chromium logged.
func renderInChromium(t *testing.T, bin, page string) (check string, console []string) {
	t.Helper()
	src, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(t.TempDir(), "probe.html")
	withCheck := strings.Replace(string(src), "<head>", "<head>"+chromiumCheck, 1)
	if err := os.WriteFile(probe, []byte(withCheck), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+t.TempDir(),
		"--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom", "file://"+probe)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("chromium: %v\n%s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("chromium did not finish in 60 s")
	}
	m := regexp.MustCompile(`<html[^>]*data-check="([^"]*)"`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("chromium's DOM has no check result; stderr:\n%s", stderr.String())
	}
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, "CONSOLE") || strings.Contains(l, "Uncaught") {
			console = append(console, l)
		}
	}
	return m[1], console
}

// TestReportHTMLInChromium is acceptance 5: the page renders in headless
// Chromium with every image decoded and no console error. It skips when
// Chromium is not installed (apt-get install chromium), and fails there under
// CI=true.
func TestReportHTMLInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		ci.Skip(t, "chromium not installed (Debian: apt-get install chromium)")
	}
	dir := filepath.Join(t.TempDir(), "fake")
	writeFakeSweep(t, dir, []string{"ce", "ours"}, fakeGrid())
	rep, err := Build("", dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rep.Write(filepath.Join(dir, Dir)); err != nil {
		t.Fatal(err)
	}
	check, console := renderInChromium(t, bin, filepath.Join(dir, Dir, HTMLFile))
	if check != "images=6 broken=0 errors=0 " || len(console) > 0 {
		t.Errorf("report.html in Chromium: %s; console:\n%s", check, strings.Join(console, "\n"))
	}

	// The probe itself: a page with a broken image and a script error
	// must be caught.
	bad := filepath.Join(t.TempDir(), "bad.html")
	if err := os.WriteFile(bad, []byte(`<!DOCTYPE html><html><head></head><body><img src="data:image/png;base64,AAAA"><script>missing();</script></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	check, console = renderInChromium(t, bin, bad)
	if !strings.HasPrefix(check, "images=1 broken=1 errors=2") || len(console) == 0 {
		t.Errorf("a broken page passed: %s; console %v", check, console)
	}
}
