// What the kernels share: 16-float vectors (GCC's vector extensions), the
// function clones for x86-64-v4 (AVX-512), v3 (AVX2) and baseline that the
// loader picks between, and the zero-bordered copy of an image.
#ifndef LONGTAIL_KERNELS_SIMD_H
#define LONGTAIL_KERNELS_SIMD_H

#include <stdint.h>
#include <string.h>

typedef float vf __attribute__((vector_size(64)));
typedef int vi __attribute__((vector_size(64)));

// Clones need GCC 12 or later (GCC 11 knows -march=x86-64-v3 but finds no
// dispatcher for it in target_clones) and the loader's ifuncs (glibc).
// Clang accepts target_clones("arch=x86-64-v3") but its dispatch is broken
// before clang 18 (llvm-project#55830). Elsewhere (clang, musl, older GCC,
// and -DLT_NO_CLONES for sanitizers such as TSan, which cannot run ifunc
// resolvers) the kernels are one build for the target of CFLAGS: baseline
// x86-64 (SSE2) unless CFLAGS ask for more. LT_CLONED says which
// (lt_kernels_build).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__GLIBC__) && \
    !defined(LT_NO_CLONES)
#define LT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define LT_CLONED "x86-64-v4, x86-64-v3 and baseline clones, chosen at load"
#else
#define LT_CLONES
#endif

// GCC 11's -fgcse-after-reload (on at -O3) miscompiles the vector code for
// AVX2 with or without FMA (Conv3x3's flat kernels: errors of order 1 with
// -march=x86-64-v3 or an avx2 clone); GCC 12 does not.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 12
#pragma GCC optimize("no-gcse-after-reload")
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

#if defined(__GNUC__) && !defined(__clang__) && !defined(LT_NO_SHUFFLE)
// SWAP exchanges, between rows a and b of a 16×16 tile (b = a's row + s),
// the off-diagonal blocks of size s: one scale of a recursive transpose.
#define SWAP(a, b, MA, MB)                  \
  do {                                      \
    vf na = __builtin_shuffle(a, b, MA);    \
    b = __builtin_shuffle(a, b, MB);        \
    a = na;                                 \
  } while (0)

// transpose16 writes the transpose of the 16×16 tile at src (rows sstride
// apart) to dst (rows dstride apart).
LT_CLONES __attribute__((unused)) static void transpose16(const float *src, int64_t sstride, float *dst, int64_t dstride) {
  static const vi ma[4] = {
      {0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30},
      {0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29},
      {0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27},
      {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23},
  };
  static const vi mb[4] = {
      {1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31},
      {2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31},
      {4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31},
      {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31},
  };
  vf r[16];
  for (int i = 0; i < 16; i++) memcpy(&r[i], src + i * sstride, 64);
  for (int k = 0, sz = 1; k < 4; k++, sz *= 2) {
    for (int i = 0; i < 16; i += 2 * sz) {
      for (int j = i; j < i + sz; j++) SWAP(r[j], r[j + sz], ma[k], mb[k]);
    }
  }
  for (int j = 0; j < 16; j++) memcpy(dst + j * dstride, &r[j], 64);
}
#else
// transpose16, without GCC's two-source shuffles (clang; or -DLT_NO_SHUFFLE,
// which tests this path).
__attribute__((unused)) static void transpose16(const float *src, int64_t sstride, float *dst,
                                                int64_t dstride) {
  for (int j = 0; j < 16; j++) {
    for (int i = 0; i < 16; i++) dst[j * dstride + i] = src[i * sstride + j];
  }
}
#endif

#endif
