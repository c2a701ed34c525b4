package runtime

/*
#cgo CFLAGS: -O3 -std=gnu11 -I${SRCDIR}/ortapi
#cgo LDFLAGS: -ldl -lm
#include <stdlib.h>
#include "kernels.h"
#include "ops.h"
*/
import "C"

import (
	"errors"
	"reflect"
	"sync/atomic"
	"unsafe"

	ort "github.com/yalue/onnxruntime_go"
)

// sessionOptionsPtr digs the OrtSessionOptions* out of onnxruntime_go's
// SessionOptions, whose only field it is; onnxruntime_go does not wrap the
// custom-op API.
func sessionOptionsPtr(so *ort.SessionOptions) (unsafe.Pointer, error) {
	t := reflect.TypeOf(so).Elem()
	if t.NumField() != 1 || t.Field(0).Type.Kind() != reflect.Pointer {
		return nil, errors.New("onnxruntime_go's SessionOptions is not a single pointer; this version cannot register custom ops")
	}
	return *(*unsafe.Pointer)(unsafe.Pointer(so)), nil
}

// setOptions applies what onnxruntime_go cannot to so: the longtail op
// domain (custom) and no memory pattern (noPattern).
func setOptions(lib string, so *ort.SessionOptions, custom, noPattern bool) error {
	p, err := sessionOptionsPtr(so)
	if err != nil {
		return err
	}
	var flags C.int
	if custom {
		flags |= C.LT_CUSTOM_OPS
	}
	if noPattern {
		flags |= C.LT_NO_MEM_PATTERN
	}
	if flags == 0 {
		return nil
	}
	cl := C.CString(lib)
	defer C.free(unsafe.Pointer(cl))
	if msg := C.lt_session_options(cl, p, flags); msg != nil {
		defer C.free(unsafe.Pointer(msg))
		return errors.New(C.GoString(msg))
	}
	return nil
}

// probeOps checks that the custom ops register with this library.
func probeOps(lib string) error {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return err
	}
	defer so.Destroy()
	return setOptions(lib, so, true, false)
}

// resetOps forgets the op domain before the library is unloaded.
func resetOps() { C.lt_ops_reset() }

// KernelBuild describes the code longtail's kernels were compiled to, and
// reports whether it is fast: true only where their AVX-512 code runs on
// this CPU. Built without it (clang, musl, GCC before 12,
// CGO_CFLAGS=-DLT_NO_CLONES) or run on a CPU without AVX-512, the kernels are
// slower than ORT's standard operators (measured on a Zen 1: Conv3x3 5–6
// against 30–49 GFLOP/s), and runtime.custom_ops auto leaves them out.
func KernelBuild() (what string, fast bool) {
	var f C.int
	what = C.GoString(C.lt_kernels_build(&f))
	return what, f != 0
}

// customLive counts the sessions with custom ops not yet destroyed; the
// last one's Destroy frees the kernels' scratch buffers.
var customLive atomic.Int64

// releaseScratch frees the kernels' scratch buffers.
func releaseScratch() { C.lt_scratch_release() }

// scratchBytes is how many bytes the kernels' scratch buffers hold between runs.
func scratchBytes() int64 { return int64(C.lt_scratch_bytes()) }
