// How the kernels were compiled and what this CPU runs of them, which decides
// runtime.custom_ops auto: they beat ORT's own kernels only where their
// AVX-512 code runs (x86-64-v4). Measured on a Zen 1 (AVX2, no AVX-512), their
// AVX2 code ran Conv3x3 at 5–6 GFLOP/s against ORT's 30–49, and the ResNet-32
// step at 11 against 67 images/s; on a Zen 5 and a Xeon with AVX-512 they ran
// the step 1.2–2.9× faster than ORT (README, "Checks and measurements").
#include "kernels.h"
#include "kernels_simd.h"

#if defined(__x86_64__)
static int has_avx512(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}
#endif

const char *lt_kernels_build(int *fast) {
#if defined(LT_CLONED)
  *fast = has_avx512();
  return *fast ? LT_CLONED : LT_CLONED "; this CPU has no AVX-512, so its AVX2 clone runs, slower than the standard ops";
#elif !defined(__x86_64__)
  *fast = 1;
  return "one build for this architecture";
#elif defined(__AVX512F__)
  *fast = has_avx512();
  return "one build for AVX-512 (set by CFLAGS), without clones";
#else
  *fast = 0;
  return "one x86-64 build without AVX-512 code (clang, musl, GCC before 12, -DLT_NO_CLONES, or CFLAGS below x86-64-v4), slower than the standard ops";
#endif
}
