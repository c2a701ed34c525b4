package dataset

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func sum(x []int) int {
	t := 0
	for _, v := range x {
		t += v
	}
	return t
}

// The CIFAR-10-LT and CIFAR-100-LT sizes published with LDAM-DRW and
// collected in FACTS.md.
func TestLongTailCountsMatchLiterature(t *testing.T) {
	tests := []struct {
		nMax, classes int
		imb           float64
		total         int
		counts        []int // nil: total only
	}{
		{5000, 10, 10, 20431, []int{5000, 3871, 2997, 2320, 1796, 1391, 1077, 834, 645, 500}},
		{5000, 10, 50, 13996, nil},
		{5000, 10, 100, 12406, []int{5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50}},
		{5000, 10, 200, 11203, nil},
		{5000, 10, 500, 10011, []int{5000, 2506, 1256, 629, 315, 158, 79, 39, 19, 10}},
		{500, 100, 10, 19573, nil},
		{500, 100, 50, 12608, nil},
		{500, 100, 100, 10847, nil},
		{500, 100, 200, 9502, nil},
	}
	for _, tc := range tests {
		got, err := LongTailCounts(tc.nMax, tc.classes, tc.imb, Exp)
		if err != nil {
			t.Fatal(err)
		}
		if sum(got) != tc.total {
			t.Errorf("n_max %d, %d classes, IF %v: total %d; want %d", tc.nMax, tc.classes, tc.imb, sum(got), tc.total)
		}
		if tc.counts != nil && !slices.Equal(got, tc.counts) {
			t.Errorf("n_max %d, %d classes, IF %v: %v; want %v", tc.nMax, tc.classes, tc.imb, got, tc.counts)
		}
	}
}

// testdata/longtail_counts.txt is written by gen_longtail_counts.py with
// Python's float arithmetic; every per-class count must agree.
func TestLongTailCountsMatchPython(t *testing.T) {
	f, err := os.Open("testdata/longtail_counts.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	cases := 0
	for sc.Scan() {
		head, body, ok := strings.Cut(sc.Text(), ":")
		var nMax, classes int
		var imb float64
		if _, err := fmt.Sscan(head, &nMax, &classes, &imb); !ok || err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		var want []int
		for _, f := range strings.Fields(body) {
			v, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, v)
		}
		got, err := LongTailCounts(nMax, classes, imb, Exp)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("n_max %d, %d classes, IF %v:\n got %v\nwant %v", nMax, classes, imb, got, want)
		}
		cases++
	}
	if cases < 20 {
		t.Fatalf("read %d cases; want the generated file's 27", cases)
	}
}

func TestLongTailCountsStep(t *testing.T) {
	tests := []struct {
		nMax, classes int
		imb           float64
		want          []int
	}{
		{5000, 10, 10, []int{5000, 5000, 5000, 5000, 5000, 500, 500, 500, 500, 500}},
		{5000, 10, 100, []int{5000, 5000, 5000, 5000, 5000, 50, 50, 50, 50, 50}},
		{100, 5, 3, []int{100, 100, 33, 33, 33}},
		{7, 1, 5, []int{7}},
	}
	for _, tc := range tests {
		got, err := LongTailCounts(tc.nMax, tc.classes, tc.imb, Step)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("step n_max %d, %d classes, IF %v: %v; want %v", tc.nMax, tc.classes, tc.imb, got, tc.want)
		}
	}
}

func TestLongTailCountsRejectsBadInput(t *testing.T) {
	nan := func() float64 { var z float64; return z / z }()
	tests := []struct {
		nMax, classes int
		imb           float64
		p             Profile
		want          string
	}{
		{5000, 10, 0.5, Exp, "imbalance factor 0.5; want a finite number >= 1"},
		{5000, 10, nan, Exp, "imbalance factor NaN"},
		{5000, 10, 10, "linear", `profile "linear"; want "exp" or "step"`},
		{0, 10, 10, Exp, "head count 0"},
		{5000, 0, 10, Exp, "classes 0"},
		{10, 10, 20, Exp, "leaves class 7 of 10 with no image"},
	}
	for _, tc := range tests {
		_, err := LongTailCounts(tc.nMax, tc.classes, tc.imb, tc.p)
		if !errors.Is(err, ErrArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LongTailCounts(%d, %d, %v, %q): %v; want ErrArgument containing %q", tc.nMax, tc.classes, tc.imb, tc.p, err, tc.want)
		}
	}
}

// balancedSet returns a set of perClass images of each class whose first
// pixel byte encodes the image's index (mod 256) and second its class.
func balancedSet(classes, perClass int) *Set {
	n := classes * perClass
	s := &Set{Pix: make([]uint8, n*3*2*2), Labels: make([]int32, n), C: 3, H: 2, W: 2}
	for c := range classes {
		s.Classes = append(s.Classes, fmt.Sprintf("class%d", c))
	}
	for i := range n {
		s.Labels[i] = int32(i % classes)
		s.Pix[i*12] = uint8(i)
		s.Pix[i*12+1] = uint8(i % classes)
	}
	return s
}

func TestLongTailKeepsASeededSubsetPerClass(t *testing.T) {
	src := balancedSet(10, 500)
	orig := slices.Clone(src.Pix)
	for _, imb := range []float64{1, 10, 50, 100} {
		want, err := LongTailCounts(500, 10, imb, Exp)
		if err != nil {
			t.Fatal(err)
		}
		a, err := LongTail(src, imb, Exp, 1)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a.Counts(), want) {
			t.Errorf("IF %v: counts %v; want %v", imb, a.Counts(), want)
		}
		for i := range a.Len() {
			if a.Image(i)[1] != uint8(a.Labels[i]) {
				t.Fatalf("IF %v: image %d carries class %d's pixels but label %d", imb, i, a.Image(i)[1], a.Labels[i])
			}
		}
		b, _ := LongTail(src, imb, Exp, 1)
		c, _ := LongTail(src, imb, Exp, 2)
		if !slices.Equal(a.Pix, b.Pix) {
			t.Errorf("IF %v: seed 1 twice gives different subsets", imb)
		}
		if imb > 1 && slices.Equal(a.Pix, c.Pix) {
			t.Errorf("IF %v: seeds 1 and 2 keep the same images", imb)
		}
	}
	if !slices.Equal(src.Pix, orig) || src.Len() != 5000 {
		t.Error("LongTail modified its input")
	}
	if _, err := LongTail(src, 0.9, Exp, 1); !errors.Is(err, ErrArgument) {
		t.Errorf("IF 0.9: %v; want ErrArgument", err)
	}
	short := src.Subset(append(slices.Concat(src.ByClass()[:9]...), src.ByClass()[9][1:]...))
	if _, err := LongTail(short, 1, Exp, 1); err == nil || !strings.Contains(err.Error(), "class 9 (class9) has 499 images; profile exp IF 1 wants 500") {
		t.Errorf("class with too few images: %v; want an error naming class 9", err)
	}
}

func ExampleLongTailCounts() {
	counts, _ := LongTailCounts(5000, 10, 100, Exp)
	fmt.Println(counts, sum(counts))
	// Output: [5000 2997 1796 1077 645 387 232 139 83 50] 12406
}
