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

// CUDALibraries reports, for the CUDA provider beside the ORT library lib, each
// CUDA library it needs (its ELF dependencies plus cuDNN, which ORT loads at run
// time) and whether it loads here. It returns nil when lib has no CUDA provider.
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
	for _, name := range append(needed, "libcudnn.so.9") {
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
