package rng

import (
	"math"
	"testing"
)

// The reference values are the published first outputs of splitmix64 seeded
// with 0 (Vigna's splitmix64.c; the zero Stream is that generator).
func TestStreamMatchesSplitmix64Reference(t *testing.T) {
	want := []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f}
	var r Stream
	for i, w := range want {
		if got := r.Uint64(); got != w {
			t.Fatalf("output %d = %#x, want %#x", i, got, w)
		}
	}
}

func TestKeySeparatesParts(t *testing.T) {
	keys := map[uint64][]uint64{}
	for _, parts := range [][]uint64{{}, {0}, {1}, {0, 0}, {0, 1}, {1, 0}, {1, 2, 3}, {3, 2, 1}, {1, 2}} {
		k := Key(parts...)
		if prev, ok := keys[k]; ok {
			t.Fatalf("Key(%v) == Key(%v)", parts, prev)
		}
		keys[k] = parts
	}
}

// chiSquare returns Pearson's statistic of counts against a uniform law.
func chiSquare(counts []int) float64 {
	total := 0
	for _, c := range counts {
		total += c
	}
	e := float64(total) / float64(len(counts))
	x := 0.0
	for _, c := range counts {
		d := float64(c) - e
		x += d * d / e
	}
	return x
}

func TestIntNUniform(t *testing.T) {
	tests := []struct {
		n     int
		limit float64 // chi-square at p = 0.001 for n-1 degrees of freedom
	}{
		{2, 10.83},
		{3, 13.82},
		{9, 26.12},
		{10, 27.88},
	}
	for _, tc := range tests {
		r := New(7, uint64(tc.n))
		counts := make([]int, tc.n)
		for range 90000 {
			v := r.IntN(tc.n)
			if v < 0 || v >= tc.n {
				t.Fatalf("IntN(%d) = %d", tc.n, v)
			}
			counts[v]++
		}
		if x := chiSquare(counts); x > tc.limit {
			t.Errorf("IntN(%d): chi-square %.2f > %.2f; counts %v", tc.n, x, tc.limit, counts)
		}
	}
}

func TestShuffleUniformOverPermutations(t *testing.T) {
	// All 24 orders of 4 items should appear equally often.
	byOrder := map[[4]int]int{}
	for i := range 48000 {
		r := New(1, uint64(i))
		byOrder[[4]int(r.Perm(4))]++
	}
	if len(byOrder) != 24 {
		t.Fatalf("%d distinct orders of 4 items; want 24", len(byOrder))
	}
	counts := make([]int, 0, 24)
	for _, c := range byOrder {
		counts = append(counts, c)
	}
	if x := chiSquare(counts); x > 49.73 { // p = 0.001, 23 dof
		t.Errorf("chi-square %.2f over the 24 permutations: %v", x, counts)
	}
}

func TestPermIsPermutation(t *testing.T) {
	for _, n := range []int{0, 1, 2, 17, 1000} {
		r := New(3)
		p := r.Perm(n)
		seen := make([]bool, n)
		for _, v := range p {
			if v < 0 || v >= n || seen[v] {
				t.Fatalf("Perm(%d) = %v is not a permutation", n, p)
			}
			seen[v] = true
		}
	}
}

func TestNormMoments(t *testing.T) {
	r := New(11)
	const n = 200000
	var s, s2, s4 float64
	for range n {
		v := r.Norm()
		s += v
		s2 += v * v
		s4 += v * v * v * v
	}
	mean, vr, kurt := s/n, s2/n, s4/n
	if math.Abs(mean) > 0.01 || math.Abs(vr-1) > 0.015 || math.Abs(kurt-3) > 0.08 {
		t.Errorf("mean %.4f var %.4f E[x^4] %.4f; want 0, 1, 3", mean, vr, kurt)
	}
}

func TestFloat64Range(t *testing.T) {
	r := New(5)
	for range 100000 {
		if v := r.Float64(); v < 0 || v >= 1 {
			t.Fatalf("Float64 = %v", v)
		}
	}
}
