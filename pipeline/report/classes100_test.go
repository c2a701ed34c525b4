package report

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/pipeline/sweep"
)

// writeFake100 writes a finished CIFAR-100-LT-shaped sweep: 3 methods × the
// imbalance factors, 100 classes with exponential training counts (n_max
// 500) and 100 test images each, per-class accuracy falling from head to
// tail (less so for the later methods), with noise.
func writeFake100(t *testing.T, dir string, imbalances []float64) *sweep.Sweep {
	t.Helper()
	methods := []string{"softmax_rs", "cb_rs", "ours_bs"}
	s := &sweep.Sweep{File: "cifar100-sweep.yaml", Dir: dir, Baseline: methods[0], Methods: methods,
		Grid: map[string][]any{sweep.KeyImbalance: {}, sweep.KeySeed: {0}}}
	classes := make([]string, 100)
	for c := range classes {
		classes[c] = fmt.Sprintf("class%02d", c)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, imb := range imbalances {
		s.Grid[sweep.KeyImbalance] = append(s.Grid[sweep.KeyImbalance], imb)
		counts := make([]int, 100)
		for c := range counts {
			counts[c] = int(500 * math.Pow(1/imb, float64(c)/99))
		}
		for m, method := range methods {
			name := fmt.Sprintf("if%s-%s-seed0", formatFloat(imb), method)
			s.Runs = append(s.Runs, sweep.Run{Index: len(s.Runs), Name: name, Method: method, Imbalance: imb,
				Params: map[string]any{sweep.KeyImbalance: imb, sweep.KeySeed: 0}})
			conf := pipeline.NewConfusion(100)
			drop := (0.6 - 0.15*float64(m)) * math.Log10(imb) / 2
			for c := range 100 {
				a := 0.75 - drop*float64(c)/99 + 0.08*rng.NormFloat64()
				right := int64(math.Round(100 * min(1, max(0, a))))
				conf[c][c] = right
				conf[c][(c+1)%100] = 100 - right
			}
			met, err := pipeline.Summarize(conf, counts, pipeline.DefaultShots())
			if err != nil {
				t.Fatal(err)
			}
			rd := filepath.Join(dir, name)
			if err := os.MkdirAll(rd, 0o755); err != nil {
				t.Fatal(err)
			}
			f := &pipeline.Final{Metrics: met, Epoch: 200, Classes: classes, TrainCounts: counts}
			if err := pipeline.WriteFinal(rd, name, f); err != nil {
				t.Fatal(err)
			}
			var recs []pipeline.EpochRecord
			for e := 1; e <= 200; e++ {
				r := pipeline.EpochRecord{Epoch: e, Loss: 4.6 * math.Exp(-float64(e)/60)}
				if e%10 == 0 {
					ev := met
					ev.Top1 = met.Top1 * (1 - math.Exp(-float64(e)/40))
					r.Eval = &ev
				}
				recs = append(recs, r)
			}
			if err := pipeline.WriteMetrics(rd, classes, recs); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.WriteManifest(); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReport100Classes writes the report of a CIFAR-100-LT-shaped sweep and
// checks that Figure 3 stays readable: each method's per-class line light,
// its moving mean in full colour over them, and Figure 2 one box per method.
// LONGTAIL_REPORT_PREVIEW=DIR keeps the report in DIR to look at.
func TestReport100Classes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cifar100-sweep")
	if d := os.Getenv("LONGTAIL_REPORT_PREVIEW"); d != "" {
		dir = d
	}
	writeFake100(t, dir, []float64{10, 50, 100})
	rep, err := Build("", dir)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, Dir)
	if _, err := rep.Write(out); err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 9 || len(rep.Rows[0].TrainCounts) != 100 || rep.Rows[0].TrainCounts[99] != 50 {
		t.Fatalf("%d rows, counts %v; want 9 rows of 100 classes, IF 10 ending at 50", len(rep.Rows), rep.Rows[0].TrainCounts)
	}
	px := func(l float64) int { return int(math.Round(l / 72 * figureDPI)) }
	panelW, panelH := px(float64(panelWidth)), px(float64(panelHeight))
	fig2 := decodePNG(t, filepath.Join(out, Figure2File), 3*panelW, panelH)
	fig3 := decodePNG(t, filepath.Join(out, Figure3File), 3*panelW, panelH)
	for i, m := range rep.Methods {
		if n := pixels(fig2, tint(pipeline.Palette(i), 0.55)); n < 1000 {
			t.Errorf("figure 2: %d pixels of %s's box colour", n, m)
		}
		if n := pixels(fig3, pipeline.Palette(i)); n < 1000 {
			t.Errorf("figure 3: %d pixels of %s's moving mean", n, m)
		}
		if n := pixels(fig3, tint(pipeline.Palette(i), 0.4)); n < 400 {
			t.Errorf("figure 3: %d pixels of %s's light per-class line", n, m)
		}
	}
}

func TestMovingMean(t *testing.T) {
	for _, tc := range []struct {
		v    []float64
		w    int
		want []float64
	}{
		{[]float64{1, 2, 3, 4, 5}, 1, []float64{1, 2, 3, 4, 5}},
		{[]float64{1, 2, 3, 4, 5}, 3, []float64{1.5, 2, 3, 4, 4.5}},
		{[]float64{0, 0, 6, 0, 0}, 5, []float64{2, 1.5, 1.2, 1.5, 2}},
		{[]float64{4}, 11, []float64{4}},
	} {
		got := movingMean(tc.v, tc.w)
		for i := range got {
			if !near(got[i], tc.want[i]) {
				t.Errorf("movingMean(%v, %d) = %v; want %v", tc.v, tc.w, got, tc.want)
				break
			}
		}
	}
	if w := smoothWindow(100); w != 11 {
		t.Errorf("smoothWindow(100) = %d; want 11", w)
	}
}

func TestShotBounds(t *testing.T) {
	def := pipeline.DefaultShots()
	for _, tc := range []struct {
		counts      []int
		shots       pipeline.Shots
		medium, few int
	}{
		{[]int{200, 50, 10}, def, 1, 2},
		{[]int{5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50}, def, 8, 10}, // CIFAR-10, IF 100
		{[]int{500, 300, 101, 100, 20, 19}, def, 3, 5},                          // the bounds themselves
		{[]int{150, 120}, def, 2, 2},
		{[]int{10, 5}, def, 0, 0},
		{[]int{5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50}, pipeline.Shots{Many: 1000, Few: 100}, 4, 8}, // eval.* moved
		{[]int{500, 300, 101, 100, 20, 19}, pipeline.Shots{Many: 0, Few: 0}, 6, 6},                              // all many-shot
	} {
		m, f := shotBounds(tc.counts, tc.shots)
		if m != tc.medium || f != tc.few {
			t.Errorf("shotBounds(%v, %v) = %d, %d; want %d, %d", tc.counts, tc.shots, m, f, tc.medium, tc.few)
		}
	}
}
