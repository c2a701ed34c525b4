package pipeline

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// onehot returns logits that predict p for each entry.
func onehot(classes int, preds ...int) []float32 {
	out := make([]float32, len(preds)*classes)
	for i, p := range preds {
		out[i*classes+p] = 1
	}
	return out
}

func TestSummarize(t *testing.T) {
	// Class 0: 4 test images, 3 right, 1 taken for class 1 → 0.75.
	// Class 1: 2 images, 1 right → 0.5. Class 2: 4 images, all right → 1.
	// Top-1 8/10; mean per-class 0.75, deviations 0, −0.25, 0.25, so
	// SD = sqrt(0.125/3).
	c := NewConfusion(3)
	c.Add(onehot(3, 0, 0, 1, 0, 1, 2), []int32{0, 0, 0, 0, 1, 1})
	c.Add(onehot(3, 2, 2, 2, 2), []int32{2, 2, 2, 2})
	for _, tc := range []struct {
		name              string
		counts            []int
		many, medium, few float64 // NaN: no class in the group
	}{
		{"one per group", []int{500, 50, 5}, 0.75, 0.5, 1},
		{"boundaries", []int{101, 100, 20}, 0.75, 0.75, math.NaN()},
		{"few at 19", []int{101, 20, 19}, 0.75, 0.5, 1},
		{"all many", []int{5000, 2000, 101}, 0.75, math.NaN(), math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Summarize(c, tc.counts)
			if err != nil {
				t.Fatal(err)
			}
			near := func(what string, got, want float64) {
				if math.Abs(got-want) > 1e-12 {
					t.Errorf("%s = %v; want %v", what, got, want)
				}
			}
			near("top1", m.Top1, 0.8)
			near("sd", m.SD, math.Sqrt(0.125/3))
			for i, want := range []float64{0.75, 0.5, 1} {
				near(fmt.Sprintf("per-class[%d]", i), m.PerClass[i], want)
			}
			for _, g := range []struct {
				name string
				got  *float64
				want float64
			}{{"many", m.Many, tc.many}, {"medium", m.Medium, tc.medium}, {"few", m.Few, tc.few}} {
				switch {
				case math.IsNaN(g.want) && g.got != nil:
					t.Errorf("%s = %v; want none", g.name, *g.got)
				case !math.IsNaN(g.want) && g.got == nil:
					t.Errorf("%s missing; want %v", g.name, g.want)
				case g.got != nil:
					near(g.name, *g.got, g.want)
				}
			}
		})
	}
	if c[0][1] != 1 || c[1][2] != 1 || c[2][2] != 4 {
		t.Errorf("confusion %v", c)
	}
}

func TestSummarizeErrors(t *testing.T) {
	c := NewConfusion(2)
	c.Add(onehot(2, 0), []int32{0})
	tests := []struct {
		name   string
		counts []int
		want   string
	}{
		{"class without test images", []int{5, 5}, "pipeline: class 1 has no test images"},
		{"too few training counts", []int{5}, "pipeline: 1 training counts for 2 classes"},
		{"too many training counts", []int{5, 5, 5}, "pipeline: 3 training counts for 2 classes"},
	}
	for _, tc := range tests {
		if _, err := Summarize(c, tc.counts); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: error %v; want one starting %q", tc.name, err, tc.want)
		}
	}
}

func TestArgmaxFirstOnTies(t *testing.T) {
	c := NewConfusion(3)
	c.Add([]float32{0.5, 0.5, 0.1}, []int32{1})
	if c[1][0] != 1 {
		t.Errorf("tie went to %v; want class 0", c[1])
	}
}

func ExampleSummarize() {
	// Two classes: the head (300 training images) gets 9 of 10 test images
	// right, the tail (10 training images) 5 of 10.
	c := Confusion{{9, 1}, {5, 5}}
	m, _ := Summarize(c, []int{300, 10})
	fmt.Printf("top-1 %.2f, per class %.2f, SD %.2f, many %.2f, few %.2f, medium %v\n",
		m.Top1, m.PerClass, m.SD, *m.Many, *m.Few, m.Medium)
	// Output: top-1 0.70, per class [0.90 0.50], SD 0.20, many 0.90, few 0.50, medium <nil>
}
