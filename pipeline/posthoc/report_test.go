package posthoc

import (
	"slices"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/pipeline"
)

// fakeReport is a report of checkpoint sum with a row per method, each
// with its own classifier (its bias the method's index + seconds) so that
// a test can tell which report a row came from.
func fakeReport(t *testing.T, sum string, seconds float64, methods ...string) *Report {
	t.Helper()
	counts := []int{100, 10, 1}
	conf := pipeline.NewConfusion(len(counts))
	for c := range counts {
		conf[c][c] = 8
		conf[c][(c+1)%len(counts)] = 2
	}
	m, err := pipeline.Summarize(conf, counts, pipeline.DefaultShots())
	if err != nil {
		t.Fatal(err)
	}
	r := &Report{Checkpoint: pipeline.CheckpointFile, CheckpointSHA256: sum, Epoch: 8, Classes: []string{"a", "b", "c"},
		TrainCounts: counts, ValCounts: []int{5, 5, 5}}
	for _, name := range append([]string{Plain}, methods...) {
		r.Methods = append(r.Methods, Result{Method: name, Val: m, Test: m, Seconds: seconds,
			Classifier: &Classifier{W: make([]float32, 3*2), B: []float32{float32(seconds), 0, 0}}})
		if name != Plain {
			r.Config.Methods = append(r.Config.Methods, name)
		}
	}
	return r
}

// TestReportMerge: a report of the same checkpoint and data keeps the
// earlier rows of methods it did not run, in their order, and replaces the
// others; one of another checkpoint or data is not merged.
func TestReportMerge(t *testing.T) {
	type row struct {
		method  string
		seconds float64 // 1: the earlier report's row, 2: the new one's
	}
	for _, tc := range []struct {
		name   string
		old    *Report
		new    []string
		change func(r *Report)
		merged bool
		want   []row
	}{
		{"methods added with the CLI before the sweep's", fakeReport(t, "aa", 1, CRT), []string{LogitAdjust, NCM}, nil, true,
			[]row{{Plain, 2}, {CRT, 1}, {LogitAdjust, 2}, {NCM, 2}}},
		{"a method run again is replaced in place", fakeReport(t, "aa", 1, TauNorm, LogitAdjust, LWS), []string{NCM, LogitAdjust}, nil, true,
			[]row{{Plain, 2}, {TauNorm, 1}, {LogitAdjust, 2}, {LWS, 1}, {NCM, 2}}},
		{"the same methods", fakeReport(t, "aa", 1, NCM), []string{NCM}, nil, true, []row{{Plain, 2}, {NCM, 2}}},
		{"another checkpoint", fakeReport(t, "bb", 1, CRT), []string{NCM}, nil, false, []row{{Plain, 2}, {NCM, 2}}},
		{"other training counts", fakeReport(t, "aa", 1, CRT), []string{NCM}, func(r *Report) { r.TrainCounts = []int{100, 10, 2} }, false,
			[]row{{Plain, 2}, {NCM, 2}}},
		{"other validation counts", fakeReport(t, "aa", 1, CRT), []string{NCM}, func(r *Report) { r.ValCounts = []int{5, 5, 4} }, false,
			[]row{{Plain, 2}, {NCM, 2}}},
		{"other classes", fakeReport(t, "aa", 1, CRT), []string{NCM}, func(r *Report) { r.Classes = []string{"a", "b", "d"} }, false,
			[]row{{Plain, 2}, {NCM, 2}}},
	} {
		r := fakeReport(t, "aa", 2, tc.new...)
		if tc.change != nil {
			tc.change(r)
		}
		if got := r.Merge(tc.old); got != tc.merged {
			t.Errorf("%s: merged %v; want %v", tc.name, got, tc.merged)
		}
		var got []row
		var methods []string
		for _, m := range r.Methods {
			got = append(got, row{m.Method, m.Seconds})
			if m.Classifier.B[0] != float32(m.Seconds) {
				t.Errorf("%s: %s has the classifier of another row", tc.name, m.Method)
			}
			if m.Method != Plain {
				methods = append(methods, m.Method)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: rows %v; want %v", tc.name, got, tc.want)
		}
		if !slices.Equal(r.Config.Methods, methods) {
			t.Errorf("%s: config.methods %v; the rows hold %v", tc.name, r.Config.Methods, methods)
		}
	}
}

// TestWriteTableHeading: the table's heading names the checkpoint and the
// epochs it had completed, and the steps of a mid-epoch one.
func TestWriteTableHeading(t *testing.T) {
	for _, tc := range []struct {
		epoch, step int
		want        string
	}{
		{8, 0, "checkpoint.ckpt, checkpoint epoch 8\n\nvalidation"},
		{3, 7, "checkpoint.ckpt, checkpoint epoch 3 + 7 steps of epoch 4 (taken mid-epoch)\n\nvalidation"},
	} {
		r := fakeReport(t, "aa", 1, NCM)
		r.Epoch, r.Step = tc.epoch, tc.step
		var b strings.Builder
		if err := WriteTable(&b, r); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(b.String(), tc.want) {
			t.Errorf("epoch %d step %d: the table starts\n%s\nwant %q", tc.epoch, tc.step, b.String(), tc.want)
		}
	}
}
