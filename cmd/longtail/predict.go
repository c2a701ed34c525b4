package main

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/spf13/cobra"

	"github.com/longtail-ml/longtail/runtime"
	"github.com/longtail-ml/longtail/sampling"
	"github.com/longtail-ml/longtail/sampling/dataset"
)

type predictCmd struct {
	app     *app
	model   string
	backend string
	topK    int
	batch   int
	threads int
	asJSON  bool
}

func newPredictCmd(a *app) *cobra.Command {
	c := &predictCmd{app: a}
	cmd := &cobra.Command{
		Use:   "predict -m MODEL IMAGE...",
		Short: "Classify images with an exported model",
		Long: `predict classifies PNG or JPEG images of any size with a model written by
longtail export and prints each image's top-k classes with their softmax
probabilities; --json prints the probabilities and the raw logits for
machines.

Each image is fitted to the model's input as torchvision's evaluation transform
(Resize then CenterCrop) does: the largest centred region with the input's
proportions is scaled to its size by bilinear filtering (antialiased when
shrinking); an image of the input's size is used as it is. Grey images become
RGB and alpha is dropped. Pixels are then normalised with the mean and std in
the model's metadata.

--backend ort runs the model in ONNX Runtime (the shared library that
./scripts/setup.sh installs); --backend go runs it in pure Go (onnx-go with its
gorgonia backend) and needs no library.`,
		Example: `  longtail predict -m model.onnx cat.png dog.jpg
  longtail predict -m model.onnx --backend go -k 3 photos/*.jpg
  longtail predict -m model.onnx --json img.png | jq '.predictions[0].top[0]'`,
		Args: cobra.MinimumNArgs(1),
		RunE: c.run,
	}
	f := cmd.Flags()
	f.StringVarP(&c.model, "model", "m", "", "exported model `FILE` (required)")
	f.StringVar(&c.backend, "backend", backendORT, "inference backend: ort (ONNX Runtime) or go (pure Go)")
	f.IntVarP(&c.topK, "top-k", "k", 5, "classes to print per image")
	f.IntVar(&c.batch, "batch", 64, "images per forward pass")
	f.IntVar(&c.threads, "threads", 0, "ONNX Runtime threads, 0 for all cores")
	f.BoolVar(&c.asJSON, "json", false, "print JSON")
	return cmd
}

// prediction is one image's result.
type prediction struct {
	Image  string      `json:"image"`
	Top    []classProb `json:"top"`
	Logits []float32   `json:"logits"`
}

type classProb struct {
	Class       string  `json:"class"`
	Index       int     `json:"index"`
	Probability float64 `json:"probability"`
}

func (c *predictCmd) run(cmd *cobra.Command, images []string) error {
	switch {
	case c.model == "":
		return fmt.Errorf("%w: predict needs -m MODEL (a file written by longtail export)", errUsage)
	case c.topK < 1:
		return fmt.Errorf("%w: --top-k %d; want at least 1", errUsage, c.topK)
	case c.batch < 1:
		return fmt.Errorf("%w: --batch %d; want at least 1", errUsage, c.batch)
	}
	if err := checkBackend(c.backend); err != nil {
		return err
	}
	data, info, err := readModel(c.model)
	if err != nil {
		return err
	}
	if info.Channels != 3 {
		return fmt.Errorf("model %s takes %d-channel images; predict reads RGB images", c.model, info.Channels)
	}
	set := &dataset.Set{C: info.Channels, H: info.Height, W: info.Width, Classes: info.Classes}
	for _, path := range images {
		pix, err := dataset.ReadImage(path, info.Height, info.Width)
		if err != nil {
			return err
		}
		set.Pix = append(set.Pix, pix...)
		set.Labels = append(set.Labels, 0)
	}
	p, err := openModel(c.model, data, c.backend, runtime.Options{Threads: c.threads})
	if err != nil {
		return err
	}
	defer p.Close()
	k := min(c.topK, len(info.Classes))
	preds := make([]prediction, 0, len(images))
	x := make([]float32, min(c.batch, len(images))*set.ImageSize())
	for i := 0; i < len(images); i += c.batch {
		n := min(c.batch, len(images)-i)
		idx := make([]int, n)
		for j := range idx {
			idx[j] = i + j
		}
		sampling.Assemble(set, idx, info.Mean, info.Std, x)
		logits, err := p.Predict(x[:n*set.ImageSize()], n)
		if err != nil {
			return err
		}
		for j := range n {
			l := logits[j*p.Classes() : (j+1)*p.Classes()]
			preds = append(preds, prediction{Image: images[i+j], Top: topK(l, info.Classes, k), Logits: slices.Clone(l)})
		}
	}
	if c.asJSON {
		enc := json.NewEncoder(c.app.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Model       string       `json:"model"`
			Backend     string       `json:"backend"`
			Predictions []prediction `json:"predictions"`
		}{c.model, c.backend, preds})
	}
	width := 0
	for _, name := range info.Classes {
		width = max(width, len(name))
	}
	for _, pr := range preds {
		fmt.Fprintln(c.app.stdout, pr.Image)
		for r, t := range pr.Top {
			fmt.Fprintf(c.app.stdout, "  %d. %-*s %7.3f%%\n", r+1, width, t.Class, 100*t.Probability)
		}
	}
	return nil
}

// topK returns the k most probable classes under softmax(logits), most
// probable first; ties keep the class order.
func topK(logits []float32, classes []string, k int) []classProb {
	m := math.Inf(-1)
	for _, v := range logits {
		m = math.Max(m, float64(v))
	}
	var sum float64
	probs := make([]float64, len(logits))
	for i, v := range logits {
		probs[i] = math.Exp(float64(v) - m)
		sum += probs[i]
	}
	order := make([]int, len(logits))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case probs[a] > probs[b]:
			return -1
		case probs[a] < probs[b]:
			return 1
		}
		return 0
	})
	out := make([]classProb, k)
	for r, i := range order[:k] {
		out[r] = classProb{Class: classes[i], Index: i, Probability: probs[i] / sum}
	}
	return out
}
