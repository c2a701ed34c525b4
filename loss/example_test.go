package loss_test

import (
	"fmt"

	"github.com/longtail-ml/longtail/loss"
)

// The paper's clamped weights for CIFAR10-LT at imbalance factor 100:
// W_i = N_total/(N_i·n) clamped to [1, 10^(1/4)].
func ExampleClassWeights() {
	counts := []int{5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50}
	w, err := loss.ClassWeights(loss.WeightsClamped, counts, 0, 0, 0)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%.4f\n", w)
	// Output: [1.0000 1.0000 1.0000 1.1519 1.7783 1.7783 1.7783 1.7783 1.7783 1.7783]
}

// With all-zero logits over 4 classes every sample's cross-entropy is
// log 4, and its gradient is (1/4 − onehot)/B.
func ExampleNew() {
	l, err := loss.New(loss.Config{Name: "ce"}, []int{400, 200, 100, 50})
	if err != nil {
		panic(err)
	}
	logits := make([]float32, 2*4) // B = 2 samples × C = 4 classes
	labels := []int32{0, 3}
	grad := make([]float32, len(logits))
	var stats loss.Stats
	v, err := l.Compute(logits, labels, 4, grad, &stats)
	if err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f\n", v)
	fmt.Println("grad", grad)
	fmt.Println("class 3 samples", stats.Count[3])
	// Output:
	// loss 1.3863
	// grad [-0.375 0.125 0.125 0.125 0.125 0.125 0.125 -0.375]
	// class 3 samples 1
}

// A bad setting names its config key.
func ExampleConfig_Validate() {
	err := loss.Config{Name: "weighted_ce", Lo: 2, Hi: 1.5}.Validate(10)
	fmt.Println(err)
	// Output: loss: invalid config: loss.lo: 2 exceeds loss.hi 1.5; want lo ≤ hi
}
