package pipeline

import (
	"fmt"
	"testing"

	"github.com/longtail-ml/longtail/sampling/dataset"
)

// TestClassAxis checks that the per-class plot labels classes by name
// (slanted when level names would overlap) up to 30 classes, and by index
// beyond.
func TestClassAxis(t *testing.T) {
	many := make([]string, 100)
	for i := range many {
		many[i] = fmt.Sprint("c", i)
	}
	for _, tc := range []struct {
		name    string
		classes []string
		want    int
	}{
		{"4 short names", []string{"cat", "dog", "fox", "owl"}, axisNames},
		{"CIFAR-10", []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}, axisSlanted},
		{"the synthetic classes", func() []string {
			train, _, err := dataset.Synthetic(dataset.SyntheticOptions{Classes: 10, TrainPerClass: 1, TestPerClass: 1, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			return train.Classes
		}(), axisSlanted},
		{"30 classes", many[:30], axisSlanted},
		{"CIFAR-100", many, axisIndex},
	} {
		if got := classAxis(tc.classes); got != tc.want {
			t.Errorf("%s: axis %d; want %d", tc.name, got, tc.want)
		}
	}
}
