package dataset

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// Sentinel errors; returned errors wrap one of them with the file, key or
// value at fault.
var (
	// ErrFormat marks input data that is malformed: a truncated or
	// oversized file, a label out of range, an undecodable image, images of
	// different sizes, an empty class folder.
	ErrFormat = errors.New("dataset: bad data")
	// ErrChecksum marks an archive whose checksum is not the official one.
	ErrChecksum = errors.New("dataset: checksum mismatch")
	// ErrArgument marks an invalid argument (imbalance factor < 1, ...).
	ErrArgument = errors.New("dataset: invalid argument")
)

// CIFAR normalisation constants (per channel, RGB, in [0,1] units) as used
// by the long-tail literature's reference code.
var (
	CIFARMean = [3]float32{0.4914, 0.4822, 0.4465}
	CIFARStd  = [3]float32{0.2023, 0.1994, 0.2010}
)

// Set is an in-memory labelled image set. Pix holds N images, each C×H×W
// uint8 planes (CHW, like CIFAR's binary records), image i at
// Pix[i*C*H*W:]. Labels[i] in [0, len(Classes)) is image i's class.
type Set struct {
	Pix     []uint8
	Labels  []int32
	Classes []string
	C, H, W int
}

// Len returns the number of images.
func (s *Set) Len() int { return len(s.Labels) }

// ImageSize returns the number of bytes per image, C·H·W.
func (s *Set) ImageSize() int { return s.C * s.H * s.W }

// Image returns image i's C×H×W bytes (a view into Pix, not a copy).
func (s *Set) Image(i int) []uint8 {
	n := s.ImageSize()
	return s.Pix[i*n : (i+1)*n : (i+1)*n]
}

// Counts returns the number of images per class, len == len(Classes).
func (s *Set) Counts() []int {
	c := make([]int, len(s.Classes))
	for _, l := range s.Labels {
		c[l]++
	}
	return c
}

// ByClass returns, for each class, the indices of its images in ascending
// order.
func (s *Set) ByClass() [][]int {
	counts := s.Counts()
	out := make([][]int, len(counts))
	for c, n := range counts {
		out[c] = make([]int, 0, n)
	}
	for i, l := range s.Labels {
		out[l] = append(out[l], i)
	}
	return out
}

// Subset returns a new Set holding copies of the images idx, in that order
// (an index may repeat). It panics if an index is out of range.
func (s *Set) Subset(idx []int) *Set {
	n := s.ImageSize()
	out := &Set{
		Pix:     make([]uint8, len(idx)*n),
		Labels:  make([]int32, len(idx)),
		Classes: append([]string(nil), s.Classes...),
		C:       s.C, H: s.H, W: s.W,
	}
	for j, i := range idx {
		copy(out.Pix[j*n:], s.Image(i))
		out.Labels[j] = s.Labels[i]
	}
	return out
}

// Validate checks that the fields agree: positive C, H, W, len(Pix) ==
// Len()·C·H·W and every label a class index.
func (s *Set) Validate() error {
	if s.C < 1 || s.H < 1 || s.W < 1 {
		return fmt.Errorf("set shape %d×%d×%d; want positive C×H×W: %w", s.C, s.H, s.W, ErrArgument)
	}
	if want := s.Len() * s.ImageSize(); len(s.Pix) != want {
		return fmt.Errorf("set holds %d pixel bytes for %d images of %d×%d×%d; want %d: %w",
			len(s.Pix), s.Len(), s.C, s.H, s.W, want, ErrArgument)
	}
	for i, l := range s.Labels {
		if l < 0 || int(l) >= len(s.Classes) {
			return fmt.Errorf("set label %d of image %d; want 0..%d: %w", l, i, len(s.Classes)-1, ErrArgument)
		}
	}
	return nil
}

// Digest is "sha256:" and the hex SHA-256 of the set's content: class
// names, image shape, and every image's label and pixels in order. Two sets
// with the same digest hold the same images in the same order.
func (s *Set) Digest() string {
	h := sha256.New()
	fmt.Fprintf(h, "longtail-set/1 %d %d %d %d\n", len(s.Classes), s.C, s.H, s.W)
	for _, c := range s.Classes {
		fmt.Fprintf(h, "%q\n", c)
	}
	var b [4]byte
	for i, l := range s.Labels {
		binary.LittleEndian.PutUint32(b[:], uint32(l))
		h.Write(b[:])
		h.Write(s.Image(i))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
