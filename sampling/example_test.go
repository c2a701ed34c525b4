package sampling_test

import (
	"context"
	"fmt"

	"github.com/longtail-ml/longtail/sampling"
	"github.com/longtail-ml/longtail/sampling/dataset"
)

// A balanced sampler puts exactly s images of every class in each batch,
// however skewed the training set.
func ExampleNew() {
	train, _, _ := dataset.Synthetic(dataset.SyntheticOptions{TrainPerClass: 200, TestPerClass: 1, Seed: 1})
	lt, _ := dataset.LongTail(train, 100, dataset.Exp, 0)
	fmt.Println("training set:", lt.Counts())

	smp, _ := sampling.New("balanced", lt.Labels, 10, 0, 2, 7, 1)
	batches := smp.Batches(0)
	perClass := make([]int, 10)
	for _, i := range batches[0] {
		perClass[lt.Labels[i]]++
	}
	fmt.Println("batches per epoch:", len(batches), "first batch per class:", perClass)
	// Output:
	// training set: [200 119 71 43 25 15 9 5 3 2]
	// batches per epoch: 24 first batch per class: [2 2 2 2 2 2 2 2 2 2]
}

// A Loader streams an epoch's augmented NCHW batches; each batch is handed
// back with Release so its buffers are reused.
func ExampleLoader() {
	train, _, _ := dataset.Synthetic(dataset.SyntheticOptions{TrainPerClass: 100, TestPerClass: 1, Seed: 1})
	smp, _ := sampling.New("random", train.Labels, 10, 128, 0, 1, 1)
	aug := sampling.Augment{Crop: true, Flip: true, Mean: dataset.CIFARMean[:], Std: dataset.CIFARStd[:]}
	l := sampling.NewLoader(train, smp, aug, 0, 2, 1)
	for b, err := range l.Epoch(context.Background(), 0, 0) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(b.Index, b.N, len(b.X), len(b.Y))
		l.Release(b)
	}
	// Output:
	// 0 128 393216 128
	// 1 128 393216 128
	// 2 128 393216 128
	// 3 128 393216 128
	// 4 128 393216 128
	// 5 128 393216 128
	// 6 128 393216 128
}
