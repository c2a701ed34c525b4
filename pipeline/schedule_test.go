package pipeline

import (
	"math"
	"testing"
)

func TestLRAt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		o      OptimConfig
		epochs int
		want   map[int]float64 // epoch → rate
	}{
		{"cosine", OptimConfig{LR: 0.1, Schedule: ScheduleCosine}, 4,
			// (1+cos(πe/4))/2 for e = 0..3.
			map[int]float64{0: 0.1, 1: 0.1 * (1 + math.Sqrt2/2) / 2, 2: 0.05, 3: 0.1 * (1 - math.Sqrt2/2) / 2}},
		{"cosine after warm-up", OptimConfig{LR: 0.2, Schedule: ScheduleCosine, WarmupEpochs: 2}, 6,
			map[int]float64{0: 0.1, 1: 0.2, 2: 0.2, 4: 0.1}},
		{"step", OptimConfig{LR: 1, Schedule: ScheduleStep, Milestones: []int{2, 4}, Gamma: 0.1}, 6,
			map[int]float64{0: 1, 1: 1, 2: 0.1, 3: 0.1, 4: 0.01, 5: 0.01}},
		{"step with warm-up", OptimConfig{LR: 0.1, Schedule: ScheduleStep, Milestones: []int{3}, Gamma: 0.01, WarmupEpochs: 5}, 8,
			map[int]float64{0: 0.02, 4: 0.1, 5: 0.001}},
		{"constant", OptimConfig{LR: 0.3, Schedule: ScheduleConstant}, 3, map[int]float64{0: 0.3, 2: 0.3}},
	} {
		for e, want := range tc.want {
			if got := tc.o.LRAt(e, tc.epochs); math.Abs(got-want) > 1e-12 {
				t.Errorf("%s: epoch %d: %v; want %v", tc.name, e, got, want)
			}
		}
	}
}
