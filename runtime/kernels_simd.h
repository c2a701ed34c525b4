// What the kernels share: 16-float vectors (GCC's vector extensions), the
// function clones for x86-64-v4 (AVX-512), v3 (AVX2) and baseline that the
// loader picks between, and the zero-bordered copy of an image.
#ifndef LONGTAIL_KERNELS_SIMD_H
#define LONGTAIL_KERNELS_SIMD_H

#include <stdint.h>
#include <string.h>

typedef float vf __attribute__((vector_size(64)));
typedef int vi __attribute__((vector_size(64)));

// Clones need GCC and the loader's ifuncs (glibc); elsewhere (clang, musl)
// the kernels compile for the baseline only.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__GLIBC__)
#define LT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LT_CLONES
#endif

static inline int64_t round16(int64_t v) { return (v + 15) & ~(int64_t)15; }

// LT_SCRATCH caps, in floats (64 MiB), the scratch a kernel's tasks hold at
// once: large images get fewer tasks rather than a huge buffer.
#define LT_SCRATCH ((int64_t)16 << 20)

// ntasks is the task count for n images, at most max, and fewer where
// per_task floats of scratch each would pass LT_SCRATCH. It depends on the
// shapes only, never on the threads.
static inline int64_t ntasks(int64_t n, int64_t max, int64_t per_task) {
  int64_t t = n < max ? n : max;
  int64_t fit = per_task > 0 ? LT_SCRATCH / per_task : t;
  if (fit < 1) fit = 1;
  return t < fit ? t : fit;
}

// pad copies the ci planes of an h×w image x into the interiors of xp's
// planes of (h+2)×(w+2), whose borders the caller has zeroed.
static inline void pad(const float *x, int64_t ci, int64_t h, int64_t w, float *xp) {
  const int64_t wp = w + 2, hpwp = (h + 2) * wp;
  for (int64_t c = 0; c < ci; c++) {
    for (int64_t r = 0; r < h; r++) {
      memcpy(xp + c * hpwp + (r + 1) * wp + 1, x + (c * h + r) * w, w * sizeof(float));
    }
  }
}

#endif
