package pipeline

import "math"

// LR returns the learning rate of epoch (0-based) out of epochs. The rate is
// constant within an epoch, as PyTorch's schedulers stepped once per epoch
// give it. A linear warm-up over the first WarmupEpochs epochs ramps to LR
// (epoch e gets LR·(e+1)/WarmupEpochs); the schedule then runs over the
// remaining epochs:
//
//   - cosine: LR·(1+cos(π·t/T))/2, t the epochs since warm-up, T their
//     number (CosineAnnealingLR with T_max = epochs and eta_min = 0);
//   - step: LR·Gamma^k, k the number of Milestones ≤ epoch;
//   - constant: LR.
func (o OptimConfig) LRAt(epoch, epochs int) float64 {
	if epoch < o.WarmupEpochs {
		return o.LR * float64(epoch+1) / float64(o.WarmupEpochs)
	}
	switch o.Schedule {
	case ScheduleCosine:
		t := float64(epoch - o.WarmupEpochs)
		T := float64(epochs - o.WarmupEpochs)
		return o.LR * (1 + math.Cos(math.Pi*t/T)) / 2
	case ScheduleStep:
		lr := o.LR
		for _, m := range o.Milestones {
			if epoch >= m {
				lr *= o.Gamma
			}
		}
		return lr
	}
	return o.LR
}
