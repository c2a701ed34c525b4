package pipeline

import (
	"encoding/csv"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestMetricsFiles(t *testing.T) {
	dir := t.TempDir()
	many := 0.9
	recs := []EpochRecord{
		{Epoch: 1, Loss: 2.5, LR: 0.1, TrainAcc: 0.25, ImagesPerSec: 123.45},
		{Epoch: 2, Loss: 1.5, LR: 0.05, TrainAcc: 0.5, ImagesPerSec: 130,
			Eval: &Metrics{Top1: 0.7, PerClass: []float64{0.9, 0.5}, SD: 0.2, Many: &many, Confusion: Confusion{{9, 1}, {5, 5}}},
			Val:  &Metrics{Top1: 0.6, SD: 0.1}},
	}
	if err := WriteMetrics(dir, []string{"cat", "dog"}, recs); err != nil {
		t.Fatal(err)
	}
	back, err := ReadMetrics(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 2 || back[0].Eval != nil || back[1].Eval == nil || back[1].Eval.Confusion[1][0] != 5 || *back[1].Eval.Many != 0.9 ||
		back[0].Val != nil || back[1].Val.Top1 != 0.6 {
		t.Errorf("read back %+v", back)
	}
	f, err := os.Open(filepath.Join(dir, MetricsCSV))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"epoch", "loss", "lr", "train_acc", "images_per_s", "test_top1", "test_sd", "many", "medium", "few", "acc_cat", "acc_dog", "val_top1", "val_sd"},
		{"1", "2.5", "0.1", "0.25", "123.5", "", "", "", "", "", "", "", "", ""},
		{"2", "1.5", "0.05", "0.5", "130.0", "0.7", "0.2", "0.9", "", "", "0.9", "0.5", "0.6", "0.1"},
	}
	for i := range want {
		if i >= len(rows) || !slices.Equal(rows[i], want[i]) {
			t.Errorf("row %d = %v; want %v", i, rows[min(i, len(rows)-1)], want[i])
		}
	}
}

func TestReadMetricsMissing(t *testing.T) {
	recs, err := ReadMetrics(t.TempDir())
	if err != nil || recs != nil {
		t.Errorf("got %v, %v; want no records", recs, err)
	}
}

func TestCreateRunDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runs", "a")
	if err := createRunDir(dir); err != nil {
		t.Fatal(err)
	}
	if err := createRunDir(dir); err != nil {
		t.Errorf("an empty run directory refused: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := createRunDir(dir); !errors.Is(err, ErrRunExists) {
		t.Errorf("got %v; want ErrRunExists", err)
	}
}

func TestWriteFinal(t *testing.T) {
	dir := t.TempDir()
	f := &Final{Metrics: Metrics{Top1: 0.7, PerClass: []float64{0.9, 0.5}, SD: 0.2, Confusion: Confusion{{9, 1}, {5, 5}}},
		Epoch: 3, Classes: []string{"cat", "dog"}, TrainCounts: []int{300, 10}}
	if err := WriteFinal(dir, "test", f); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFinal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if back.Epoch != 3 || !slices.Equal(back.PerClass, f.PerClass) || back.TrainCounts[1] != 10 {
		t.Errorf("final %+v", back)
	}
	// The file has no precision (as those written before it was recorded):
	// ReadFinal takes it and the worst class from the confusion matrix.
	if want := []float64{9.0 / 14, 5.0 / 6}; !slices.Equal(back.Precision, want) || back.Worst != 0.5 || back.WorstClass != 1 {
		t.Errorf("completed precision %v, worst %v (class %d); want %v, 0.5 (class 1)", back.Precision, back.Worst, back.WorstClass, want)
	}
	pf, err := os.Open(filepath.Join(dir, PlotFile))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	img, err := png.Decode(pf)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 200 {
		t.Errorf("plot is %v", b)
	}
	cf, err := os.Open(filepath.Join(dir, PerClassCSV))
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	rows, err := csv.NewReader(cf).ReadAll()
	if err != nil || len(rows) != 3 || !slices.Equal(rows[2], []string{"1", "dog", "10", "0.5", ""}) {
		t.Errorf("per_class.csv %v, %v", rows, err)
	}
}
