package posthoc

import (
	"fmt"
	"math"

	"github.com/longtail-ml/longtail/graphs"
	"github.com/longtail-ml/longtail/pipeline"
)

// Split is one data split's pooled features with its labels.
type Split struct {
	// Name is train, val or test.
	Name string
	// X is Len()×Dim, row-major, in the order of the split's images.
	X      []float32
	Labels []int32
	Dim    int
}

// Len is the number of images.
func (s *Split) Len() int { return len(s.Labels) }

// Row is image i's features (a view).
func (s *Split) Row(i int) []float32 { return s.X[i*s.Dim : (i+1)*s.Dim : (i+1)*s.Dim] }

// Classifier is a linear classifier on the pooled features (see the package
// doc): logits = W·f̃ + B.
type Classifier struct {
	// W is Classes()×Dim(), row-major.
	W []float32 `json:"w"`
	// B has one value per class.
	B []float32 `json:"b"`
	// Normalize divides each feature vector by its L2 norm first.
	Normalize bool `json:"normalize"`
}

// Classes is the number of logits.
func (c *Classifier) Classes() int { return len(c.B) }

// Dim is the feature length.
func (c *Classifier) Dim() int {
	if len(c.B) == 0 {
		return 0
	}
	return len(c.W) / len(c.B)
}

// Head is the classifier as graphs folds it into an export.
func (c *Classifier) Head() *graphs.Head {
	return &graphs.Head{W: c.W, B: c.B, Normalize: c.Normalize}
}

// Clone returns a deep copy.
func (c *Classifier) Clone() *Classifier {
	return &Classifier{W: append([]float32(nil), c.W...), B: append([]float32(nil), c.B...), Normalize: c.Normalize}
}

func (c *Classifier) check(dim int) error {
	k := len(c.B)
	if k < 2 || len(c.W) != k*dim {
		return fmt.Errorf("posthoc: classifier of %d weights and %d biases for %d features; want classes×%d and one bias per class", len(c.W), k, dim, dim)
	}
	return nil
}

// normalized writes f̃ (f scaled to unit L2 norm, as in the export) into dst
// in float64.
func normalized(f []float32, dst []float64) {
	var ss float64
	for _, v := range f {
		ss += float64(v) * float64(v)
	}
	inv := 1 / math.Sqrt(ss+graphs.NormEps)
	for j, v := range f {
		dst[j] = float64(v) * inv
	}
}

// features writes row f of the split as the classifier sees it (f̃ or f) in
// float64 into dst.
func (c *Classifier) features(f []float32, dst []float64) {
	if c.Normalize {
		normalized(f, dst)
		return
	}
	for j, v := range f {
		dst[j] = float64(v)
	}
}

// Logits returns the split's logits, Len()×Classes(), computed in float64
// and rounded once.
func (c *Classifier) Logits(s *Split) []float32 {
	k, d := c.Classes(), s.Dim
	out := make([]float32, s.Len()*k)
	f := make([]float64, d)
	for i := range s.Len() {
		c.features(s.Row(i), f)
		for j := range k {
			w := c.W[j*d : (j+1)*d]
			z := float64(c.B[j])
			for t, v := range f {
				z += float64(w[t]) * v
			}
			out[i*k+j] = float32(z)
		}
	}
	return out
}

// Tally counts the classifier's predictions on the split, with their
// confidences. A label outside [0, Classes()) is an error naming the split
// and the image.
func (c *Classifier) Tally(s *Split) (*pipeline.Tally, error) {
	k := c.Classes()
	for i, y := range s.Labels {
		if y < 0 || int(y) >= k {
			return nil, fmt.Errorf("posthoc: %s label %d of image %d; want 0 ≤ label < %d", s.Name, y, i, k)
		}
	}
	t := pipeline.NewTally(k)
	t.Add(c.Logits(s), s.Labels)
	return t, nil
}
