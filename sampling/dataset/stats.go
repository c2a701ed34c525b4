package dataset

import "math"

// MeanStd returns the per-channel mean and (population) standard deviation
// of s's pixels, in [0,1] units. The sums are exact integers, so the result
// does not depend on image order. An empty set gives zeros.
func MeanStd(s *Set) (mean, std []float32) {
	mean = make([]float32, s.C)
	std = make([]float32, s.C)
	plane := s.H * s.W
	n := s.Len()
	if n == 0 || plane == 0 {
		return mean, std
	}
	var hist [256]uint64
	for c := range s.C {
		clear(hist[:])
		for i := range n {
			off := i*s.C*plane + c*plane
			for _, v := range s.Pix[off : off+plane] {
				hist[v]++
			}
		}
		var sum, sum2 float64
		for v, k := range hist {
			x := float64(v) / 255
			sum += float64(k) * x
			sum2 += float64(k) * x * x
		}
		total := float64(n * plane)
		m := sum / total
		mean[c] = float32(m)
		std[c] = float32(math.Sqrt(max(0, sum2/total-m*m)))
	}
	return mean, std
}
