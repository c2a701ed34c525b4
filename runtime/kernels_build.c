// How the kernels were compiled, which decides runtime.custom_ops auto.
#include "kernels.h"
#include "kernels_simd.h"

const char *lt_kernels_build(int *fast) {
#if defined(LT_CLONED)
  *fast = 1;
  return LT_CLONED;
#elif !defined(__x86_64__)
  *fast = 1;
  return "one build for this architecture";
#elif defined(__AVX2__)
  *fast = 1;
  return "one build for AVX2 or above (set by CFLAGS), without clones";
#else
  *fast = 0;
  return "one baseline x86-64 (SSE2) build, without clones (clang, musl, GCC before 12 or -DLT_NO_CLONES)";
#endif
}
