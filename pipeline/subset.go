package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/longtail-ml/longtail/sampling/dataset"
)

// SubsetFormat is the format tag of a subset file.
const SubsetFormat = "longtail-subset/1"

// SubsetFile is the copy of the chosen images that a run writes to its
// directory.
const SubsetFile = "subset.json"

// ErrSubsetMismatch reports a subset file drawn from other data.
var ErrSubsetMismatch = errors.New("pipeline: subset drawn from other data")

// Subset pins a long-tailed training split (and a validation split): the
// positions of the chosen images within each class, in the order the data
// source lists the class's images (CIFAR's official order; a folder's file
// names). Positions do not depend on how the images are stored, so a subset
// drawn from the binary CIFAR archive selects the same images from a copy
// that keeps each class's order.
type Subset struct {
	Format string `json:"format"`
	// How it was drawn (for the record; the positions decide).
	Source    string  `json:"source"`
	Pick      string  `json:"lt_pick"`
	LTSeed    int64   `json:"lt_seed"`
	Imbalance float64 `json:"imbalance"`
	Profile   string  `json:"profile"`
	// Classes and Sizes (images per class before the cut) are what the
	// positions refer to; data that differs is refused.
	Classes []string `json:"classes"`
	Sizes   []int    `json:"class_sizes"`
	// DataDigest is the training data's content digest (dataset.Set.Digest)
	// when written from data; when present, other data is refused. The
	// subsets shipped for the CIFAR paper configs leave it out, so that any
	// copy of CIFAR with the official class order takes them.
	DataDigest string `json:"data_digest,omitempty"`
	// Train and Val are ascending positions per class; Val is absent
	// without a validation split.
	Train [][]int `json:"train"`
	Val   [][]int `json:"val,omitempty"`
	// Digest is "sha256:" and the hex SHA-256 of the file's JSON without
	// this field: the subset's identity, recorded by every run that uses it.
	Digest string `json:"digest"`
}

// NewSubset records split, drawn by d's keys from training data with class
// names classes; dataDigest may be empty.
func NewSubset(d DataConfig, classes []string, split *dataset.Split, dataDigest string) *Subset {
	s := &Subset{Format: SubsetFormat, Source: d.Source, Pick: d.LTPick, LTSeed: d.LTSeed, Imbalance: d.Imbalance,
		Profile: d.Profile, Classes: slices.Clone(classes), Sizes: slices.Clone(split.Sizes), DataDigest: dataDigest,
		Train: split.Train, Val: split.Val}
	s.Digest = s.digest()
	return s
}

// NewSubsetFrom is s with val as its validation lists and the digest
// computed again.
func NewSubsetFrom(s *Subset, val [][]int) *Subset {
	c := *s
	c.Val = val
	c.Digest = c.digest()
	return &c
}

func (s *Subset) digest() string {
	c := *s
	c.Digest = ""
	b, _ := json.Marshal(&c) // plain fields: cannot fail
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// Split returns the subset's positions.
func (s *Subset) Split() *dataset.Split {
	return &dataset.Split{Sizes: s.Sizes, Train: s.Train, Val: s.Val}
}

// Encode is the file's bytes: indented JSON with one class's positions a
// line.
func (s *Subset) Encode() ([]byte, error) {
	head := *s
	head.Train, head.Val, head.Digest = nil, nil, ""
	b, err := json.MarshalIndent(&head, "", " ")
	if err != nil {
		return nil, fmt.Errorf("pipeline: subset: %w", err)
	}
	// head ends `"train": null,\n "digest": ""\n}`: replace that tail.
	i := bytes.LastIndex(b, []byte(",\n \"train\""))
	if i < 0 {
		return nil, fmt.Errorf("pipeline: subset: unexpected encoding")
	}
	buf := bytes.NewBuffer(b[:i:i])
	lists := func(key string, pos [][]int) {
		fmt.Fprintf(buf, ",\n %q: [", key)
		for c, p := range pos {
			l, _ := json.Marshal(p) // ints: cannot fail
			if c > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString("\n  ")
			buf.Write(l)
		}
		buf.WriteString("\n ]")
	}
	lists("train", s.Train)
	if s.Val != nil {
		lists("val", s.Val)
	}
	fmt.Fprintf(buf, ",\n \"digest\": %q\n}\n", s.Digest)
	return buf.Bytes(), nil
}

// WriteSubset writes s to path atomically.
func WriteSubset(path string, s *Subset) error {
	b, err := s.Encode()
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, b)
}

// ReadSubset reads and verifies a subset file: its format, its digest (the
// file was not edited) and the shape of its lists.
func ReadSubset(path string) (*Subset, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: data.subset: %w", err)
	}
	var s Subset
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("pipeline: data.subset %s: %w; want a subset file written by `longtail data --write-subset`", path, err)
	}
	if s.Format != SubsetFormat {
		return nil, fmt.Errorf("pipeline: data.subset %s: format %q; want %q", path, s.Format, SubsetFormat)
	}
	if d := s.digest(); d != s.Digest {
		return nil, fmt.Errorf("pipeline: data.subset %s: its content has digest %s but the file says %s; it was edited or damaged", path, d, s.Digest)
	}
	if len(s.Classes) != len(s.Sizes) || len(s.Train) != len(s.Sizes) || s.Val != nil && len(s.Val) != len(s.Sizes) {
		return nil, fmt.Errorf("pipeline: data.subset %s: %d classes, %d sizes, %d training lists, %d validation lists; want one each per class",
			path, len(s.Classes), len(s.Sizes), len(s.Train), len(s.Val))
	}
	if err := s.checkLists(); err != nil {
		return nil, fmt.Errorf("pipeline: data.subset %s: %w", path, err)
	}
	return &s, nil
}

// checkLists checks that every class's positions are in range and strictly
// ascending, that no image is in both splits, and that every class has as
// many validation images.
func (s *Subset) checkLists() error {
	for c, size := range s.Sizes {
		var val []int
		if s.Val != nil {
			val = s.Val[c]
			if len(val) != len(s.Val[0]) {
				return fmt.Errorf("class %d has %d validation images, class 0 %d; want as many in every class", c, len(val), len(s.Val[0]))
			}
		}
		for name, ps := range map[string][]int{"training": s.Train[c], "validation": val} {
			for i, p := range ps {
				if p < 0 || p >= size || i > 0 && p <= ps[i-1] {
					return fmt.Errorf("class %d %s position %d (at %d): want strictly ascending positions in [0, %d)", c, name, p, i, size)
				}
			}
		}
		for _, p := range val {
			if _, ok := slices.BinarySearch(s.Train[c], p); ok {
				return fmt.Errorf("class %d image %d is in both the training and the validation lists", c, p)
			}
		}
	}
	return nil
}

// Match checks that train, the full training split of data.source, is the
// data s was drawn from.
func (s *Subset) Match(path string, train *dataset.Set) error {
	if s.DataDigest != "" {
		if d := train.Digest(); d != s.DataDigest {
			return fmt.Errorf("%w: data.subset %s was drawn from training data with digest %s; this data has %s",
				ErrSubsetMismatch, path, s.DataDigest, d)
		}
	}
	if !slices.Equal(train.Classes, s.Classes) {
		return fmt.Errorf("%w: data.subset %s has classes %v; the data has %v", ErrSubsetMismatch, path, s.Classes, train.Classes)
	}
	if err := s.Split().Check(train); err != nil {
		return fmt.Errorf("%w: data.subset %s: %w", ErrSubsetMismatch, path, err)
	}
	return nil
}
