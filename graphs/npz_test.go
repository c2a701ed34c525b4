package graphs

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Minimal .npz (zip of .npy) reading and writing for the PyTorch cross-check.

func writeNPZ(path string, arrays map[string][]float32, shapes map[string][]int64, ints map[string][]int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	z := zip.NewWriter(f)
	put := func(name, descr string, shape []int64, data any) error {
		w, err := z.Create(name + ".npy")
		if err != nil {
			return err
		}
		dims := make([]string, len(shape))
		for i, d := range shape {
			dims[i] = strconv.FormatInt(d, 10)
		}
		tuple := strings.Join(dims, ", ")
		if len(shape) == 1 {
			tuple += ","
		}
		h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, tuple)
		for (10+len(h)+1)%64 != 0 {
			h += " "
		}
		h += "\n"
		var buf bytes.Buffer
		buf.WriteString("\x93NUMPY\x01\x00")
		binary.Write(&buf, binary.LittleEndian, uint16(len(h)))
		buf.WriteString(h)
		binary.Write(&buf, binary.LittleEndian, data)
		_, err = w.Write(buf.Bytes())
		return err
	}
	for k, v := range arrays {
		if err := put(k, "<f4", shapes[k], v); err != nil {
			return err
		}
	}
	for k, v := range ints {
		if err := put(k, "<i8", []int64{int64(len(v))}, v); err != nil {
			return err
		}
	}
	return z.Close()
}

var npyShape = regexp.MustCompile(`'shape': \(([^)]*)\)`)

// readNPZ reads the float32 arrays of an .npz file.
func readNPZ(path string) (map[string][]float32, error) {
	z, err := zip.OpenReader(path)
	if err != nil {
		return nil, err
	}
	defer z.Close()
	out := map[string][]float32{}
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return nil, err
		}
		hl := int(binary.LittleEndian.Uint16(b[8:10]))
		header := string(b[10 : 10+hl])
		if !strings.Contains(header, "'<f4'") {
			return nil, fmt.Errorf("%s: %s is not float32: %s", path, f.Name, header)
		}
		n := 1
		for _, d := range strings.Split(npyShape.FindStringSubmatch(header)[1], ",") {
			if d = strings.TrimSpace(d); d != "" {
				v, _ := strconv.Atoi(d)
				n *= v
			}
		}
		data := b[10+hl:]
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		out[strings.TrimSuffix(f.Name, ".npy")] = v
	}
	return out, nil
}
