package dataset

import (
	"math"
	"testing"

	"github.com/longtail-ml/longtail/sampling/internal/rng"
)

func TestMeanStdMatchesTwoPassFloat64(t *testing.T) {
	s := &Set{Pix: make([]uint8, 7*2*3*5), Labels: make([]int32, 7), Classes: []string{"a"}, C: 2, H: 3, W: 5}
	r := rng.New(1)
	for i := range s.Pix {
		s.Pix[i] = uint8(r.IntN(256))
	}
	for i := range 7 { // channel 1 of image 3 constant, to vary the channels
		if i == 3 {
			for k := range 15 {
				s.Pix[i*30+15+k] = 255
			}
		}
	}
	mean, std := MeanStd(s)
	for c := range 2 {
		var vals []float64
		for i := range 7 {
			for k := range 15 {
				vals = append(vals, float64(s.Pix[i*30+c*15+k])/255)
			}
		}
		m := 0.0
		for _, v := range vals {
			m += v
		}
		m /= float64(len(vals))
		v2 := 0.0
		for _, v := range vals {
			v2 += (v - m) * (v - m)
		}
		sd := math.Sqrt(v2 / float64(len(vals)))
		if math.Abs(float64(mean[c])-m) > 1e-6 || math.Abs(float64(std[c])-sd) > 1e-6 {
			t.Errorf("channel %d: mean %v std %v; want %v %v", c, mean[c], std[c], m, sd)
		}
	}
}

func TestMeanStdConstantAndEmpty(t *testing.T) {
	s := &Set{Pix: []uint8{51, 51, 51, 51}, Labels: []int32{0}, Classes: []string{"a"}, C: 1, H: 2, W: 2}
	mean, std := MeanStd(s)
	if math.Abs(float64(mean[0])-0.2) > 1e-7 || std[0] != 0 {
		t.Errorf("constant 51: mean %v std %v; want 0.2 and 0", mean[0], std[0])
	}
	mean, std = MeanStd(&Set{C: 3, H: 2, W: 2})
	if len(mean) != 3 || mean[0] != 0 || std[2] != 0 {
		t.Errorf("empty set: %v %v; want three zeros each", mean, std)
	}
}
