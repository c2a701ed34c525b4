package sampling

import (
	"context"
	"errors"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/longtail-ml/longtail/sampling/dataset"
	"github.com/longtail-ml/longtail/sampling/internal/rng"
)

// randomSet returns n random images of c×h×w with labels i mod classes.
func randomSet(n, classes, c, h, w int, seed uint64) *dataset.Set {
	s := &dataset.Set{Pix: make([]uint8, n*c*h*w), Labels: make([]int32, n), C: c, H: h, W: w}
	for k := range classes {
		s.Classes = append(s.Classes, string(rune('a'+k)))
	}
	r := rng.New(seed)
	for i := range s.Pix {
		s.Pix[i] = uint8(r.Uint64())
	}
	for i := range s.Labels {
		s.Labels[i] = int32(i % classes)
	}
	return s
}

// reference augments one image the slow, literal way: zero-pad in pixel
// space, crop at (ox, oy) in padded coordinates, mirror, then normalise in
// float64, as the PyTorch reference (torch_resnet32.py) does.
func reference(src []uint8, c, h, w, pad, ox, oy int, flip bool, mean, std []float64) []float64 {
	ph, pw := h+2*pad, w+2*pad
	padded := make([]float64, c*ph*pw)
	for ch := range c {
		for y := range h {
			for x := range w {
				padded[(ch*ph+y+pad)*pw+x+pad] = float64(src[(ch*h+y)*w+x])
			}
		}
	}
	out := make([]float64, c*h*w)
	for ch := range c {
		for y := range h {
			for x := range w {
				cx := x
				if flip {
					cx = w - 1 - x
				}
				v := padded[(ch*ph+oy+y)*pw+ox+cx]
				out[(ch*h+y)*w+x] = (v/255 - mean[ch]) / std[ch]
			}
		}
	}
	return out
}

func closeTo(got []float32, want []float64, tol float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > tol {
			return false
		}
	}
	return true
}

func TestApplyMatchesReference(t *testing.T) {
	const c, h, w = 3, 5, 7 // not square, to catch swapped axes
	set := randomSet(1, 1, c, h, w, 1)
	mean := []float64{0.4914, 0.4822, 0.4465}
	std := []float64{0.2023, 0.1994, 0.2010}
	lut, err := tables(c, []float32{0.4914, 0.4822, 0.4465}, []float32{0.2023, 0.1994, 0.2010})
	if err != nil {
		t.Fatal(err)
	}
	for _, pad := range []int{0, 1, 4, 9} {
		for ox := 0; ox <= 2*pad; ox++ {
			for oy := 0; oy <= 2*pad; oy++ {
				for _, flip := range []bool{false, true} {
					dst := make([]float32, c*h*w)
					apply(lut, set.Image(0), dst, h, w, ox-pad, oy-pad, flip)
					want := reference(set.Image(0), c, h, w, pad, ox, oy, flip, mean, std)
					if !closeTo(dst, want, 1e-5) {
						t.Fatalf("pad %d crop (%d,%d) flip %v:\n got %v\nwant %v", pad, ox, oy, flip, dst, want)
					}
				}
			}
		}
	}
}

func TestAssembleNormalises(t *testing.T) {
	set := randomSet(6, 2, 3, 4, 4, 2)
	idx := []int{5, 0, 5}
	dst := make([]float32, len(idx)*set.ImageSize())
	Assemble(set, idx, dataset.CIFARMean[:], dataset.CIFARStd[:], dst)
	mean := []float64{0.4914, 0.4822, 0.4465}
	std := []float64{0.2023, 0.1994, 0.2010}
	n := set.ImageSize()
	for j, i := range idx {
		want := reference(set.Image(i), 3, 4, 4, 0, 0, 0, false, mean, std)
		if !closeTo(dst[j*n:(j+1)*n], want, 1e-5) {
			t.Fatalf("image %d (set %d) not normalised as reference", j, i)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Assemble with a short dst did not panic")
		}
	}()
	Assemble(set, idx, nil, nil, dst[:10])
}

// collect runs one epoch and returns copies of its batches.
func collect(t *testing.T, l *Loader, epoch, from int) []Batch {
	t.Helper()
	var out []Batch
	for b, err := range l.Epoch(context.Background(), epoch, from) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Batch{X: slices.Clone(b.X), Y: slices.Clone(b.Y), Index: b.Index, N: b.N, Indices: b.Indices})
		l.Release(b)
	}
	return out
}

func sameBatches(a, b []Batch) bool {
	return slices.EqualFunc(a, b, func(x, y Batch) bool {
		return x.Index == y.Index && x.N == y.N && slices.Equal(x.X, y.X) && slices.Equal(x.Y, y.Y)
	})
}

func cifarAug() Augment {
	return Augment{Crop: true, Flip: true, Mean: dataset.CIFARMean[:], Std: dataset.CIFARStd[:]}
}

func TestLoaderIsReproducibleAcrossWorkerCounts(t *testing.T) {
	set := randomSet(600, 10, 3, 32, 32, 3)
	for _, name := range []string{"random", "balanced"} {
		t.Run(name, func(t *testing.T) {
			smp, err := New(name, set.Labels, 10, 32, 3, 11, 2)
			if err != nil {
				t.Fatal(err)
			}
			one := collect(t, NewLoader(set, smp, cifarAug(), 1, 1, 5), 1, 0)
			eight := collect(t, NewLoader(set, smp, cifarAug(), 8, 4, 5), 1, 0)
			if len(one) != smp.(Stepper).Steps(1) {
				t.Fatalf("%d batches; want %d", len(one), smp.(Stepper).Steps(1))
			}
			for i, b := range one {
				if b.Index != i {
					t.Fatalf("batch %d arrived as number %d", i, b.Index)
				}
			}
			if !sameBatches(one, eight) {
				t.Fatal("1 and 8 workers give different batches")
			}
			other := collect(t, NewLoader(set, smp, cifarAug(), 2, 2, 6), 1, 0)
			if sameBatches(one, other) {
				t.Fatal("augmentation seeds 5 and 6 give identical batches")
			}
			resumed := collect(t, NewLoader(set, smp, cifarAug(), 3, 2, 5), 1, 4)
			if !sameBatches(one[4:], resumed) {
				t.Fatal("resuming at batch 4 does not continue the epoch's stream")
			}
		})
	}
}

// TestLoaderAugmentsLikeTheReference checks every image of an epoch against
// the reference for some crop and flip, and that the crops and flips are
// spread as the PyTorch reference draws them (offsets uniform on 0..8 per
// axis, flip with probability 1/2).
func TestLoaderAugmentsLikeTheReference(t *testing.T) {
	const c, h, w = 3, 8, 8
	set := randomSet(400, 4, c, h, w, 4)
	smp, err := New("random", set.Labels, 4, 20, 0, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	mean, std := []float64{0, 0, 0}, []float64{1, 1, 1}
	l := NewLoader(set, smp, Augment{Crop: true, Flip: true}, 2, 2, 9)
	// Crop offsets 0..8 in each direction (pad 4 on an 8-pixel side).
	offsets := [2][]int{make([]int, 9), make([]int, 9)}
	flips, images := 0, 0
	for b, err := range l.Epoch(context.Background(), 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		n := set.ImageSize()
		for j, i := range b.Indices {
			if b.Y[j] != set.Labels[i] {
				t.Fatalf("label %d for image %d of class %d", b.Y[j], i, set.Labels[i])
			}
			found := false
			for ox := 0; ox <= 8 && !found; ox++ {
				for oy := 0; oy <= 8 && !found; oy++ {
					for _, flip := range []bool{false, true} {
						if closeTo(b.X[j*n:(j+1)*n], reference(set.Image(i), c, h, w, 4, ox, oy, flip, mean, std), 1e-6) {
							found = true
							offsets[0][ox]++
							offsets[1][oy]++
							if flip {
								flips++
							}
							break
						}
					}
				}
			}
			if !found {
				t.Fatalf("batch %d image %d is no pad-4 crop or flip of set image %d", b.Index, j, i)
			}
			images++
		}
		l.Release(b)
	}
	// 400 images; binomial bounds at about 4 standard deviations.
	if flips < 160 || flips > 240 {
		t.Errorf("%d of %d images flipped; want about half", flips, images)
	}
	// Each offset about 400/9 ≈ 44 times (SD ≈ 6.3): 20..70 is about 4 SDs.
	for axis, name := range []string{"x", "y"} {
		for o, k := range offsets[axis] {
			if k < 20 || k > 70 {
				t.Errorf("crop %s offset %d drawn %d times of %d; want about %d", name, o, k, images, images/9)
			}
		}
	}
}

func TestLoaderStopsOnCancelAndBreak(t *testing.T) {
	set := randomSet(2000, 10, 3, 32, 32, 5)
	smp, err := New("random", set.Labels, 10, 20, 0, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLoader(set, smp, cifarAug(), 4, 2, 1)
	before := runtime.NumGoroutine()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got, stopErr := 0, error(nil)
	for b, err := range l.Epoch(ctx, 0, 0) {
		if err != nil {
			stopErr = err
			break
		}
		got++
		l.Release(b)
		if got == 3 {
			cancel()
		}
	}
	if !errors.Is(stopErr, ErrStopped) || !errors.Is(stopErr, context.Canceled) {
		t.Errorf("after cancel: error %v; want ErrStopped and context.Canceled", stopErr)
	}
	if got >= 100 {
		t.Errorf("%d batches after cancel at 3; want the stream to stop", got)
	}

	for b := range l.Epoch(context.Background(), 1, 0) {
		l.Release(b)
		break
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after stopping; %d before", n, before)
	}
}

func TestLoaderReportsBadSettings(t *testing.T) {
	set := randomSet(100, 2, 3, 4, 4, 6)
	smp, err := New("random", set.Labels, 2, 10, 0, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		aug  Augment
		from int
		want string
	}{
		{"mean length", Augment{Mean: []float32{0.5}}, 0, "augment.mean: 1 values; want one per channel, 3"},
		{"std zero", Augment{Std: []float32{1, 0, 1}}, 0, "augment.std: channel 1 is 0; want > 0"},
		{"negative pad", Augment{Crop: true, Pad: -1}, 0, "augment.pad: -1; want >= 0"},
		{"resume past end", Augment{}, 11, "resume at batch 11; want 0..10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLoader(set, smp, tc.aug, 1, 1, 1)
			var errs []error
			for b, err := range l.Epoch(context.Background(), 0, tc.from) {
				if b != nil {
					t.Fatal("got a batch")
				}
				errs = append(errs, err)
			}
			if len(errs) != 1 || !errors.Is(errs[0], ErrConfig) || !strings.Contains(errs[0].Error(), tc.want) {
				t.Fatalf("errors %v; want one ErrConfig containing %q", errs, tc.want)
			}
		})
	}
}

// BenchmarkLoader measures batch assembly with augmentation (pad-4 crop,
// flip, CIFAR normalisation) of 128-image CIFAR-sized batches by the full
// worker pool, as training consumes them. One op is an epoch of 100
// batches; B/op and allocs/op are per epoch.
func BenchmarkLoader(b *testing.B) {
	set := randomSet(12800, 10, 3, 32, 32, 7)
	smp, err := New("random", set.Labels, 10, 128, 0, 1, 1)
	if err != nil {
		b.Fatal(err)
	}
	l := NewLoader(set, smp, cifarAug(), 0, 4, 1)
	b.ReportAllocs()
	images := 0
	for epoch := 0; b.Loop(); epoch++ {
		for batch, err := range l.Epoch(context.Background(), epoch, 0) {
			if err != nil {
				b.Fatal(err)
			}
			images += batch.N
			l.Release(batch)
		}
	}
	b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkAugmentImage measures one goroutine augmenting one 3×32×32 image.
func BenchmarkAugmentImage(b *testing.B) {
	set := randomSet(1, 1, 3, 32, 32, 8)
	lut, err := tables(3, dataset.CIFARMean[:], dataset.CIFARStd[:])
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, set.ImageSize())
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		apply(lut, set.Image(0), dst, 32, 32, i%9-4, (i/9)%9-4, i&1 == 1)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}
