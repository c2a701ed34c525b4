package runtime

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

static char *probe(const char *name) {
	void *h = dlopen(name, RTLD_LAZY | RTLD_LOCAL);
	if (h == NULL) {
		return dlerror();
	}
	dlclose(h);
	return NULL;
}
*/
import "C"

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"
)

// CUDAProvider is the file name of ORT's CUDA execution provider library,
// which lives beside libonnxruntime.so.
const CUDAProvider = "libonnxruntime_providers_cuda.so"

// Lib is one shared library and whether the dynamic loader can load it.
type Lib struct {
	Name string
	Err  string // empty when it loads
}

// cuDNN is what the CUDA provider loads at run time rather than links: ORT
// 1.29 dlopens libcudnn.so.9, which in turn dlopens its sub-libraries when a
// convolution first needs them, so a missing one shows only then.
var cuDNN = []string{
	"libcudnn.so.9",
	"libcudnn_graph.so.9",
	"libcudnn_ops.so.9",
	"libcudnn_cnn.so.9",
	"libcudnn_heuristic.so.9",
	"libcudnn_engines_precompiled.so.9",
	"libcudnn_engines_runtime_compiled.so.9",
}

// CUDALibraries reports, for the CUDA provider beside the ORT library lib, each
// CUDA library it needs (its ELF dependencies, then cuDNN 9 and its
// sub-libraries, which are loaded at run time) and whether the dynamic loader
// finds it here, as the provider would (LD_LIBRARY_PATH, the loader's cache).
// It returns nil when lib has no CUDA provider beside it.
func CUDALibraries(lib string) ([]Lib, error) {
	provider := filepath.Join(filepath.Dir(lib), CUDAProvider)
	if _, err := os.Stat(provider); err != nil {
		return nil, nil
	}
	f, err := elf.Open(provider)
	if err != nil {
		return nil, fmt.Errorf("runtime: read %s: %w", provider, err)
	}
	defer f.Close()
	needed, err := f.ImportedLibraries()
	if err != nil {
		return nil, fmt.Errorf("runtime: read %s: %w", provider, err)
	}
	var out []Lib
	for _, name := range append(needed, cuDNN...) {
		if !strings.HasPrefix(name, "libcu") {
			continue // the C and C++ runtime
		}
		out = append(out, Lib{Name: name, Err: probeLib(name)})
	}
	return out, nil
}

func probeLib(name string) string {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	if msg := C.probe(cs); msg != nil {
		return C.GoString(msg)
	}
	return ""
}
