package pipeline

import (
	"fmt"
	"math"

	"github.com/longtail-ml/longtail/sampling/dataset"
)

// Data is a run's training, validation and test sets with the
// normalisation to apply.
type Data struct {
	Train, Test *dataset.Set
	// Val is the validation split: data.val_per_class images per class the
	// long tail left out, or a folder's val/; nil without one.
	Val *dataset.Set
	// Mean and Std are per channel, in [0,1] units; nil means none.
	Mean, Std []float32
	// SourceDigest is the content digest of the training split as read,
	// before the long tail (dataset.Set.Digest).
	SourceDigest string
	// Subset records the images chosen from it; nil when the training split
	// is used whole with no validation split.
	Subset *Subset
}

// LoadData reads or generates the data d describes, makes the training split
// long-tailed (the test split stays balanced) and picks the normalisation.
// A missing data.path fails with ErrNoData (see DataConfig.CheckPath).
func LoadData(d DataConfig, normalize string) (*Data, error) {
	if err := d.CheckPath(); err != nil {
		return nil, err
	}
	var train, test, val *dataset.Set
	var err error
	switch d.Source {
	case SourceSynthetic:
		s := d.Synthetic
		train, test, err = dataset.Synthetic(dataset.SyntheticOptions{
			Classes: s.Classes, TrainPerClass: s.TrainPerClass, TestPerClass: s.TestPerClass, Seed: s.Seed})
	case SourceCIFAR10:
		train, test, err = dataset.ReadCIFAR10(d.Path)
	case SourceCIFAR100:
		train, test, err = dataset.ReadCIFAR100(d.Path)
	case SourceFolder:
		var sp *dataset.FolderSplits
		if sp, err = dataset.ReadImageFolderSplits(d.Path); err == nil {
			train, test, val = sp.Train, sp.Test, sp.Val
		}
	default:
		err = keyErr("data.source", "%q; want synthetic, cifar10, cifar100 or folder", d.Source)
	}
	if err != nil {
		return nil, fmt.Errorf("pipeline: data (data.source %s): %w", d.Source, err)
	}
	if val != nil && d.ValPerClass > 0 {
		return nil, keyErr("data.val_per_class", "%d, but %s has a val/ split; set 0 to use it, or remove val/ to carve one from the training images",
			d.ValPerClass, d.Path)
	}
	out := &Data{SourceDigest: train.Digest()}
	if err := out.cut(d, train); err != nil {
		return nil, err
	}
	if out.Subset != nil {
		sp := out.Subset.Split().Apply(train)
		train = sp.Train
		if sp.Val != nil {
			val = sp.Val
		}
	}
	if len(test.Classes) != len(train.Classes) || test.C != train.C || test.H != train.H || test.W != train.W {
		return nil, fmt.Errorf("pipeline: data: test split is %d classes of %d×%d×%d images, training split %d of %d×%d×%d",
			len(test.Classes), test.C, test.H, test.W, len(train.Classes), train.C, train.H, train.W)
	}
	if val != nil && (len(val.Classes) != len(train.Classes) || val.C != train.C || val.H != train.H || val.W != train.W) {
		return nil, fmt.Errorf("pipeline: data: validation split is %d classes of %d×%d×%d images, training split %d of %d×%d×%d",
			len(val.Classes), val.C, val.H, val.W, len(train.Classes), train.C, train.H, train.W)
	}
	out.Train, out.Test, out.Val = train, test, val
	if normalize == NormalizeAuto {
		normalize = NormalizeDataset
		if (d.Source == SourceCIFAR10 || d.Source == SourceCIFAR100) && train.C == 3 {
			normalize = NormalizeCIFAR
		}
	}
	switch normalize {
	case NormalizeCIFAR:
		if train.C != 3 {
			return nil, keyErr("augment.normalize", "cifar needs 3 channels; the data has %d", train.C)
		}
		out.Mean, out.Std = dataset.CIFARMean[:], dataset.CIFARStd[:]
	case NormalizeDataset:
		out.Mean, out.Std = dataset.MeanStd(train)
		for c, s := range out.Std {
			if s == 0 {
				out.Std[c] = 1
			}
		}
	}
	return out, nil
}

// cut decides the training and validation images of train, the whole
// training split: from data.subset, or drawn by data.lt_pick; it leaves
// Subset nil when train is used whole.
func (out *Data) cut(d DataConfig, train *dataset.Set) error {
	if d.Subset != "" {
		s, err := ReadSubset(d.Subset)
		if err != nil {
			return err
		}
		if err := s.Match(d.Subset, train); err != nil {
			return err
		}
		if s.Imbalance != d.Imbalance || s.Profile != d.Profile {
			return keyErr("data.imbalance", "%g (profile %s), but data.subset %s was drawn at %g (profile %s); set them to agree",
				d.Imbalance, d.Profile, d.Subset, s.Imbalance, s.Profile)
		}
		switch {
		case d.ValPerClass == 0 && s.Val != nil:
			// Trained without the file's validation split: the run's
			// subset is the training lists alone, with their own digest.
			s = NewSubsetFrom(s, nil)
		case s.Val == nil || len(s.Val[0]) != d.ValPerClass:
			n := 0
			if s.Val != nil {
				n = len(s.Val[0])
			}
			return keyErr("data.val_per_class", "%d, but data.subset %s holds %d validation images per class; write the subset with the same data.val_per_class",
				d.ValPerClass, d.Subset, n)
		}
		out.Subset = s
		return nil
	}
	if d.Imbalance <= 1 && d.ValPerClass == 0 {
		return nil
	}
	split, err := dataset.Choose(train, dataset.SplitOptions{Imbalance: d.Imbalance, Profile: dataset.Profile(d.Profile),
		Pick: dataset.Pick(d.LTPick), Seed: d.LTSeed, ValPerClass: d.ValPerClass})
	if err != nil {
		return fmt.Errorf("pipeline: data.imbalance %v, data.val_per_class %d: %w", d.Imbalance, d.ValPerClass, err)
	}
	out.Subset = NewSubset(d, train.Classes, split, out.SourceDigest)
	return nil
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
