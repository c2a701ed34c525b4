package sampling

import "github.com/longtail-ml/longtail/sampling/internal/rng"

// randomSampler is the paper's RS: a fresh shuffle of the whole set per
// epoch, cut into full batches.
type randomSampler struct {
	n, batch int
	seed     uint64
}

func newRandom(p *params) (Sampler, error) {
	if err := p.checkBatch("random"); err != nil {
		return nil, err
	}
	return &randomSampler{n: len(p.Labels), batch: p.Batch, seed: uint64(p.Seed)}, nil
}

func (s *randomSampler) Steps(int) int { return s.n / s.batch }

func (s *randomSampler) Batches(epoch int) [][]int {
	r := rng.New(tagShuffle, s.seed, uint64(epoch))
	perm := r.Perm(s.n)
	out := make([][]int, s.Steps(epoch))
	for b := range out {
		out[b] = perm[b*s.batch : (b+1)*s.batch : (b+1)*s.batch]
	}
	return out
}
