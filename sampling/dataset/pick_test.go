package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/internal/ci"
)

// python is Debian's interpreter, which has python3-numpy (CI installs it
// with python3-torch).
const python = "/usr/bin/python3"

// numpyLDAM is LDAM-DRW's IMBALANCECIFAR gen_imbalanced_data, run on a
// label array with the classes interleaved as in CIFAR's files; it prints,
// per class, the kept images' positions within the class.
const numpyLDAM = `
import json, sys
import numpy as np
classes, size, imb, seed = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
img_max = size
counts = [int(img_max * (1 / imb) ** (i / (classes - 1.0))) for i in range(classes)]
targets = np.tile(np.arange(classes), size)
np.random.seed(seed)
out = []
for c, n in zip(np.unique(targets), counts):
    idx = np.where(targets == c)[0]
    np.random.shuffle(idx)
    out.append(sorted(int(i) // classes for i in idx[:n]))
json.dump(out, sys.stdout)
`

// TestLDAMPickMatchesNumPy checks PickLDAM against NumPy itself, image for
// image, for CIFAR-10 and CIFAR-100 at the literature's imbalance factors.
func TestLDAMPickMatchesNumPy(t *testing.T) {
	if err := exec.Command(python, "-c", "import numpy").Run(); err != nil {
		ci.Skip(t, "%s cannot import numpy (apt-get install python3-numpy): %v", python, err)
	}
	for _, tc := range []struct {
		classes, size int
		imb           float64
		seed          int64
	}{
		{10, 5000, 10, 0}, {10, 5000, 50, 0}, {10, 5000, 100, 0}, {10, 5000, 500, 0},
		{100, 500, 10, 0}, {100, 500, 50, 0}, {100, 500, 100, 0}, {100, 500, 500, 0},
		{10, 5000, 100, 7},
	} {
		t.Run(fmt.Sprintf("C%d_IF%g_seed%d", tc.classes, tc.imb, tc.seed), func(t *testing.T) {
			cmd := exec.Command(python, "-c", numpyLDAM, fmt.Sprint(tc.classes), fmt.Sprint(tc.size), fmt.Sprint(tc.imb), fmt.Sprint(tc.seed))
			var stderr strings.Builder
			cmd.Stderr = &stderr
			b, err := cmd.Output()
			if err != nil {
				t.Fatalf("numpy: %v: %s", err, stderr.String())
			}
			var want [][]int
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			sizes := make([]int, tc.classes)
			for c := range sizes {
				sizes[c] = tc.size
			}
			sp, err := ChooseSizes(sizes, SplitOptions{Imbalance: tc.imb, Profile: Exp, Pick: PickLDAM, Seed: tc.seed})
			if err != nil {
				t.Fatal(err)
			}
			if len(want) != tc.classes {
				t.Fatalf("NumPy gave %d classes", len(want))
			}
			for c := range want {
				if !slices.Equal(sp.Train[c], want[c]) {
					t.Fatalf("class %d: %d kept, NumPy %d; first of %v vs %v", c, len(sp.Train[c]), len(want[c]), head(sp.Train[c]), head(want[c]))
				}
			}
		})
	}
}

func head(v []int) []int { return v[:min(len(v), 8)] }

// TestFirstPick checks PickFirst against the PyTorch anchor's rule: the
// first n_i images of each class in the source order.
func TestFirstPick(t *testing.T) {
	src := &Set{C: 1, H: 1, W: 1, Classes: []string{"a", "b", "c"}}
	// Interleaved labels, as in CIFAR's files.
	for i := range 300 {
		src.Labels = append(src.Labels, int32(i%3))
		src.Pix = append(src.Pix, uint8(i))
	}
	sp, err := Choose(src, SplitOptions{Imbalance: 10, Profile: Exp, Pick: PickFirst})
	if err != nil {
		t.Fatal(err)
	}
	got := sp.Apply(src).Train
	counts, _ := LongTailCounts(100, 3, 10, Exp)
	var want []uint8
	seen := make([]int, 3)
	for i, l := range src.Labels {
		if seen[l] < counts[l] {
			want = append(want, uint8(i))
		}
		seen[l]++
	}
	if !slices.Equal(got.Pix, want) {
		t.Fatalf("first pick kept %v…, want %v…", got.Pix[:10], want[:10])
	}
}

func TestValidationSplit(t *testing.T) {
	sizes := []int{500, 500, 500, 500}
	for _, pick := range Picks {
		sp, err := ChooseSizes(sizes, SplitOptions{Imbalance: 10, Profile: Exp, Pick: pick, Seed: 3, ValPerClass: 40})
		if err != nil {
			t.Fatal(err)
		}
		noVal, _ := ChooseSizes(sizes, SplitOptions{Imbalance: 10, Profile: Exp, Pick: pick, Seed: 3})
		counts, _ := LongTailCounts(500, 4, 10, Exp)
		for c := range sizes {
			if len(sp.Val[c]) != 40 {
				t.Fatalf("%s class %d: %d validation images, want 40", pick, c, len(sp.Val[c]))
			}
			if want := min(counts[c], 500-40); len(sp.Train[c]) != want {
				t.Fatalf("%s class %d: %d training images, want %d", pick, c, len(sp.Train[c]), want)
			}
			for _, p := range sp.Val[c] {
				if slices.Contains(sp.Train[c], p) {
					t.Fatalf("%s class %d: image %d in both splits", pick, c, p)
				}
			}
			// Where the tail leaves enough out, the training images are
			// the ones without a validation split.
			if counts[c] <= 460 && !slices.Equal(sp.Train[c], noVal.Train[c]) {
				t.Fatalf("%s class %d: the validation split changed the training images", pick, c)
			}
		}
	}
	if _, err := ChooseSizes(sizes, SplitOptions{Imbalance: 10, Profile: Exp, Pick: PickLDAM, ValPerClass: 500}); !errors.Is(err, ErrArgument) {
		t.Fatalf("all images for validation: %v, want ErrArgument", err)
	}
}
