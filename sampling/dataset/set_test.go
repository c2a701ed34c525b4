package dataset

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestSetAccessors(t *testing.T) {
	s := &Set{
		Pix:     []uint8{10, 11, 20, 21, 30, 31, 40, 41},
		Labels:  []int32{1, 0, 1, 2},
		Classes: []string{"a", "b", "c"},
		C:       1, H: 1, W: 2,
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 4 || !slices.Equal(s.Counts(), []int{1, 2, 1}) {
		t.Fatalf("Len %d Counts %v; want 4 [1 2 1]", s.Len(), s.Counts())
	}
	if got := s.ByClass(); !slices.EqualFunc(got, [][]int{{1}, {0, 2}, {3}}, slices.Equal) {
		t.Fatalf("ByClass %v", got)
	}
	sub := s.Subset([]int{3, 0, 3})
	if !slices.Equal(sub.Pix, []uint8{40, 41, 10, 11, 40, 41}) || !slices.Equal(sub.Labels, []int32{2, 1, 2}) {
		t.Fatalf("Subset pix %v labels %v", sub.Pix, sub.Labels)
	}
	sub.Pix[0], sub.Classes[0] = 99, "z"
	if s.Pix[6] != 40 || s.Classes[0] != "a" {
		t.Fatal("Subset aliases its source")
	}
}

func TestSetValidate(t *testing.T) {
	tests := []struct {
		name string
		s    Set
		want string
	}{
		{"short pix", Set{Pix: make([]uint8, 3), Labels: []int32{0}, Classes: []string{"a"}, C: 1, H: 2, W: 2}, "3 pixel bytes for 1 images"},
		{"label", Set{Pix: make([]uint8, 4), Labels: []int32{1}, Classes: []string{"a"}, C: 1, H: 2, W: 2}, "label 1 of image 0; want 0..0"},
		{"shape", Set{C: 0, H: 2, W: 2}, "want positive C×H×W"},
	}
	for _, tc := range tests {
		err := tc.s.Validate()
		if !errors.Is(err, ErrArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want ErrArgument containing %q", tc.name, err, tc.want)
		}
	}
}
