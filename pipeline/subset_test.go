package pipeline

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/longtail-ml/longtail/sampling/dataset"
)

var update = flag.Bool("update-subsets", false, "rewrite configs/subsets from the ldam draw")

// TestShippedSubsets checks that every subset in configs/subsets is the
// ldam draw (seed 0) of the official CIFAR training set's classes at its
// imbalance factor — the subset behind the literature's CE/CB/LDAM numbers
// — by drawing it again; -update-subsets rewrites them.
func TestShippedSubsets(t *testing.T) {
	type ship struct {
		source  string
		classes []string
		size    int
		imb     float64
	}
	var all []ship
	for _, imb := range []float64{10, 50, 100, 500} {
		all = append(all, ship{SourceCIFAR10, dataset.CIFAR10Classes(), 5000, imb})
	}
	for _, imb := range []float64{10, 50, 100} {
		all = append(all, ship{SourceCIFAR100, dataset.CIFAR100Classes(), 500, imb})
	}
	for _, s := range all {
		name := fmt.Sprintf("%s-lt-if%g-ldam0.json", s.source, s.imb)
		t.Run(name, func(t *testing.T) {
			sizes := make([]int, len(s.classes))
			for i := range sizes {
				sizes[i] = s.size
			}
			d := DataConfig{Source: s.source, Imbalance: s.imb, Profile: "exp", LTPick: string(dataset.PickLDAM)}
			split, err := dataset.ChooseSizes(sizes, dataset.SplitOptions{Imbalance: s.imb, Profile: dataset.Exp, Pick: dataset.PickLDAM})
			if err != nil {
				t.Fatal(err)
			}
			want, err := NewSubset(d, s.classes, split, "").Encode()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("..", "configs", "subsets", name)
			if *update {
				if err := WriteFileAtomic(path, want); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./pipeline -run TestShippedSubsets -update-subsets writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s differs from the ldam draw; rewrite it with -update-subsets", path)
			}
			if _, err := ReadSubset(path); err != nil {
				t.Fatal(err)
			}
		})
	}
}
