package posthoc

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/runtime"
	"github.com/longtail-ml/longtail/sampling"
	"github.com/longtail-ml/longtail/sampling/dataset"
)

// Dir is the folder of a run directory that holds the feature caches.
const Dir = "posthoc"

// featuresMagic starts a feature cache file; the last byte is the format
// version.
const featuresMagic = "LTFEAT\x00\x01"

// cacheKey is what a cache file's features were computed from.
type cacheKey struct {
	Split string `json:"split"`
	// Checkpoint is the hex SHA-256 of the checkpoint file.
	Checkpoint string `json:"checkpoint_sha256"`
	// Data is the hex SHA-256 of the split's pixels, labels, image shape
	// and the normalisation.
	Data   string `json:"data_sha256"`
	Images int    `json:"images"`
	Dim    int    `json:"dim"`
}

// dataDigest hashes what a split's features depend on besides the network.
func dataDigest(set *dataset.Set, mean, std []float32) string {
	h := sha256.New()
	binary.Write(h, binary.LittleEndian, []int64{int64(set.C), int64(set.H), int64(set.W), int64(set.Len())})
	h.Write(set.Pix)
	binary.Write(h, binary.LittleEndian, set.Labels)
	binary.Write(h, binary.LittleEndian, mean)
	binary.Write(h, binary.LittleEndian, std)
	return hex.EncodeToString(h.Sum(nil))
}

// extractor computes features with a features export in ORT, and caches
// them in dir.
type extractor struct {
	p          *runtime.Predictor
	dir        string
	checkpoint string // hex SHA-256 of the checkpoint file
	mean, std  []float32
	batch      int
	dim        int
	// computed counts the splits computed rather than read from the cache.
	computed []string
}

// split returns the features of set, from the cache when it holds them for
// this checkpoint and data, else computed and cached.
func (e *extractor) split(name string, set *dataset.Set) (*Split, error) {
	key := cacheKey{Split: name, Checkpoint: e.checkpoint, Data: dataDigest(set, e.mean, e.std), Images: set.Len(), Dim: e.dim}
	path := filepath.Join(e.dir, "features-"+name+".bin")
	x, err := readCache(path, key)
	if err != nil {
		e.computed = append(e.computed, name)
		if x, err = e.compute(set); err != nil {
			return nil, fmt.Errorf("posthoc: %s features: %w", name, err)
		}
		if err := os.MkdirAll(e.dir, 0o755); err != nil {
			return nil, fmt.Errorf("posthoc: %w", err)
		}
		if err := writeCache(path, key, x); err != nil {
			return nil, err
		}
	}
	return &Split{Name: name, X: x, Labels: set.Labels, Dim: e.dim}, nil
}

func (e *extractor) compute(set *dataset.Set) ([]float32, error) {
	n, size := set.Len(), set.ImageSize()
	out := make([]float32, 0, n*e.dim)
	batch := max(1, min(e.batch, n))
	x := make([]float32, batch*size)
	idx := make([]int, 0, batch)
	for i := 0; i < n; i += batch {
		k := min(batch, n-i)
		idx = idx[:0]
		for j := range k {
			idx = append(idx, i+j)
		}
		sampling.Assemble(set, idx, e.mean, e.std, x)
		f, err := e.p.Predict(x[:k*size], k)
		if err != nil {
			return nil, err
		}
		out = append(out, f...)
	}
	for i, v := range out {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("feature %d of image %d is %v; the checkpoint's network is not finite", i%e.dim, i/e.dim, v)
		}
	}
	return out, nil
}

// errStale: a cache file exists but was computed from something else.
var errStale = errors.New("posthoc: stale feature cache")

// readCache returns the features in path when its key is key. A missing,
// damaged or stale file is an error (the caller recomputes).
func readCache(path string, key cacheKey) ([]float32, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	const sumLen = sha256.Size
	if len(data) < len(featuresMagic)+4+sumLen || string(data[:len(featuresMagic)]) != featuresMagic {
		return nil, fmt.Errorf("%w: %s is not a feature cache", errStale, path)
	}
	body, sum := data[:len(data)-sumLen], data[len(data)-sumLen:]
	if s := sha256.Sum256(body); !bytes.Equal(s[:], sum) {
		return nil, fmt.Errorf("%w: %s does not verify", errStale, path)
	}
	body = body[len(featuresMagic):]
	hl := int(binary.LittleEndian.Uint32(body))
	body = body[4:]
	if hl > len(body) {
		return nil, fmt.Errorf("%w: %s: header of %d bytes in %d", errStale, path, hl, len(body))
	}
	var got cacheKey
	if err := json.Unmarshal(body[:hl], &got); err != nil || got != key {
		return nil, fmt.Errorf("%w: %s was computed from another checkpoint or data", errStale, path)
	}
	body = body[hl:]
	if len(body) != 4*key.Images*key.Dim {
		return nil, fmt.Errorf("%w: %s holds %d bytes of features; want %d×%d float32", errStale, path, len(body), key.Images, key.Dim)
	}
	x := make([]float32, key.Images*key.Dim)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return x, nil
}

// writeCache writes the magic, a little-endian uint32 header length, the
// JSON key, the features as little-endian float32 and the SHA-256 of all
// that, atomically.
func writeCache(path string, key cacheKey, x []float32) error {
	hdr, err := json.Marshal(key)
	if err != nil {
		return fmt.Errorf("posthoc: %s: %w", path, err)
	}
	return pipeline.WriteAtomic(path, func(w io.Writer) error {
		sum := sha256.New()
		mw := io.MultiWriter(w, sum)
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], uint32(len(hdr)))
		buf := make([]byte, 0, len(featuresMagic)+4+len(hdr)+4*len(x))
		buf = append(buf, featuresMagic...)
		buf = append(buf, n[:]...)
		buf = append(buf, hdr...)
		for _, v := range x {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		if _, err := mw.Write(buf); err != nil {
			return err
		}
		_, err := w.Write(sum.Sum(nil))
		return err
	})
}
