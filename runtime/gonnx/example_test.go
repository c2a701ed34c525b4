package gonnx_test

import (
	"fmt"
	"log"

	"google.golang.org/protobuf/proto"

	"github.com/longtail-ml/longtail/graphs"
	"github.com/longtail-ml/longtail/runtime/gonnx"
)

// Export a network and classify with it in pure Go. A trained network's
// state comes from its checkpoint (longtail export does this from a run
// directory); here it is the initial state.
func Example() {
	spec := graphs.Spec{Depth: 8, Width: 4, Classes: 3, Channels: 3, Height: 8, ImageWidth: 8}
	m, err := graphs.BuildExport(spec, graphs.Init(spec.Params(), 1), &graphs.ExportOptions{
		Classes: []string{"cat", "dog", "ship"},
		Mean:    []float32{0.5, 0.5, 0.5},
		Std:     []float32{0.25, 0.25, 0.25},
	})
	if err != nil {
		log.Fatal(err)
	}
	data, err := proto.Marshal(m) // the bytes of model.onnx
	if err != nil {
		log.Fatal(err)
	}
	info, err := graphs.ParseExport(data)
	if err != nil {
		log.Fatal(err)
	}
	p, err := gonnx.New(data)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	// Two mid-grey images, normalised as the metadata says: (0.5−mean)/std = 0.
	x := make([]float32, 2*info.Channels*info.Height*info.Width)
	logits, err := p.Predict(x, 2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Classes, info.Channels, info.Height, info.Width, len(logits))
	// Output: [cat dog ship] 3 8 8 6
}
