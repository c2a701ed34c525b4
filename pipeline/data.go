package pipeline

import (
	"fmt"
	"math"

	"github.com/longtail-ml/longtail/sampling/dataset"
)

// Data is a run's training and test sets with the normalisation to apply.
type Data struct {
	Train, Test *dataset.Set
	// Mean and Std are per channel, in [0,1] units; nil means none.
	Mean, Std []float32
}

// LoadData reads or generates the data d describes, makes the training split
// long-tailed (the test split stays balanced) and picks the normalisation.
// A missing data.path fails with ErrNoData (see DataConfig.CheckPath).
func LoadData(d DataConfig, normalize string) (*Data, error) {
	if err := d.CheckPath(); err != nil {
		return nil, err
	}
	var train, test *dataset.Set
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
		train, test, err = dataset.ReadImageFolder(d.Path)
	default:
		err = keyErr("data.source", "%q; want synthetic, cifar10, cifar100 or folder", d.Source)
	}
	if err != nil {
		return nil, fmt.Errorf("pipeline: data (data.source %s): %w", d.Source, err)
	}
	if d.Imbalance > 1 {
		train, err = dataset.LongTail(train, d.Imbalance, dataset.Profile(d.Profile), d.LTSeed)
		if err != nil {
			return nil, fmt.Errorf("pipeline: data.imbalance %v: %w", d.Imbalance, err)
		}
	}
	if len(test.Classes) != len(train.Classes) || test.C != train.C || test.H != train.H || test.W != train.W {
		return nil, fmt.Errorf("pipeline: data: test split is %d classes of %d×%d×%d images, training split %d of %d×%d×%d",
			len(test.Classes), test.C, test.H, test.W, len(train.Classes), train.C, train.H, train.W)
	}
	out := &Data{Train: train, Test: test}
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

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
