// Weight gradient of a 3×3, padding-1 convolution without im2col.
//
// Per image, x is copied into a zero-bordered buffer and dy is transposed to
// positions × output channels (padded to a multiple of 16). A tile of
// accumulators, vectors of 16 output channels × 9 taps of a few input
// channels, stays in registers while the loop runs over every output
// position: one vector load of dy and one scalar broadcast of x per tap feed
// the fused multiply-adds. Vectorising over output channels needs no
// horizontal sums and no gathers, for any stride.
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "kernels_simd.h"

// DEFINE_MK(CIB, NV) defines mk_CIB_NV: the tile of CIB input channels (9
// taps each) × NV vectors of 16 output channels, over all positions.
#define DEFINE_MK(CIB, NV)                                                                       \
  LT_CLONES static void mk_##CIB##_##NV(const float *xp, int64_t hpwp, int64_t wp, int64_t s,   \
                                        const float *dyT, int64_t cop, int64_t ohn, int64_t own, \
                                        float *acc) {                                            \
    vf a[CIB * 9][NV];                                                                           \
    _Pragma("GCC unroll 32") for (int t = 0; t < CIB * 9; t++)                                   \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) a[t][v] = (vf){0};                  \
    for (int64_t oh = 0; oh < ohn; oh++) {                                                       \
      const float *r = xp + oh * s * wp;                                                         \
      const float *d = dyT + oh * own * cop;                                                     \
      for (int64_t ow = 0; ow < own; ow++) {                                                     \
        vf b[NV];                                                                                \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) b[v] =                              \
            *(const vf *)(d + ow * cop + 16 * v);                                                \
        const float *q = r + ow * s;                                                             \
        _Pragma("GCC unroll 4") for (int c = 0; c < CIB; c++)                                    \
            _Pragma("GCC unroll 3") for (int kh = 0; kh < 3; kh++)                               \
                _Pragma("GCC unroll 3") for (int kw = 0; kw < 3; kw++) {                         \
          float xv = q[c * hpwp + kh * wp + kw];                                                 \
          _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) a[c * 9 + kh * 3 + kw][v] +=      \
              xv * b[v];                                                                         \
        }                                                                                        \
      }                                                                                          \
    }                                                                                            \
    _Pragma("GCC unroll 32") for (int t = 0; t < CIB * 9; t++)                                   \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) * (vf *)(acc + t * cop + 16 * v) += \
        a[t][v];                                                                                 \
  }

DEFINE_MK(1, 1)
DEFINE_MK(2, 1)
DEFINE_MK(3, 1)
DEFINE_MK(1, 2)


const char *lt_dw_plan(lt_dw_args *a) {
  if (a->n < 1 || a->ci < 1 || a->co < 1 || a->h < 1 || a->w < 1) {
    return "empty tensor";
  }
  if (a->stride < 1) {
    return "stride must be at least 1";
  }
  if (a->oh != (a->h - 1) / a->stride + 1 || a->ow != (a->w - 1) / a->stride + 1) {
    return "dy's spatial size does not match a 3×3, padding-1 convolution of x with this stride";
  }
  a->cop = round16(a->co);
  a->hp = a->h + 2;
  a->wp = a->w + 2;
  a->per_task = (size_t)(a->ci * 9 * a->cop + round16(a->ci * a->hp * a->wp) + a->oh * a->ow * a->cop);
  a->tasks = ntasks(a->n, 16, (int64_t)a->per_task);
  return NULL;
}

void lt_dw_task(void *p, size_t task) {
  const lt_dw_args *a = p;
  const int64_t n0 = a->n * (int64_t)task / a->tasks, n1 = a->n * ((int64_t)task + 1) / a->tasks;
  const int64_t hw = a->h * a->w, pos = a->oh * a->ow, hpwp = a->hp * a->wp;
  float *acc = a->scratch + task * a->per_task;
  float *xp = acc + a->ci * 9 * a->cop;
  float *dyT = xp + round16(a->ci * hpwp);
  // Zero borders and padding lanes stay zero: only interiors are written below.
  memset(acc, 0, a->per_task * sizeof(float));
  for (int64_t n = n0; n < n1; n++) {
    pad(a->x + n * a->ci * hw, a->ci, a->h, a->w, xp);
    const float *dy = a->dy + n * a->co * pos;
    const int64_t o16 = a->co & ~(int64_t)15, q16 = pos & ~(int64_t)15;
    for (int64_t o = 0; o < o16; o += 16) {
      for (int64_t q = 0; q < q16; q += 16) {
        transpose16(dy + o * pos + q, pos, dyT + q * a->cop + o, a->cop);
      }
    }
    for (int64_t q = 0; q < pos; q++) {
      for (int64_t o = q < q16 ? o16 : 0; o < a->co; o++) {
        dyT[q * a->cop + o] = dy[o * pos + q];
      }
    }
    int64_t o = 0;
    for (; o + 32 <= a->cop; o += 32) {
      for (int64_t c = 0; c < a->ci; c++) {
        mk_1_2(xp + c * hpwp, hpwp, a->wp, a->stride, dyT + o, a->cop, a->oh, a->ow, acc + c * 9 * a->cop + o);
      }
    }
    for (; o < a->cop; o += 16) {
      int64_t c = 0;
      for (; c + 3 <= a->ci; c += 3) {
        mk_3_1(xp + c * hpwp, hpwp, a->wp, a->stride, dyT + o, a->cop, a->oh, a->ow, acc + c * 9 * a->cop + o);
      }
      for (; c + 2 <= a->ci; c += 2) {
        mk_2_1(xp + c * hpwp, hpwp, a->wp, a->stride, dyT + o, a->cop, a->oh, a->ow, acc + c * 9 * a->cop + o);
      }
      for (; c < a->ci; c++) {
        mk_1_1(xp + c * hpwp, hpwp, a->wp, a->stride, dyT + o, a->cop, a->oh, a->ow, acc + c * 9 * a->cop + o);
      }
    }
  }
}

void lt_dw_reduce(const lt_dw_args *a) {
  const int64_t j = a->ci * 9;
  for (int64_t o = 0; o < a->co; o++) {
    for (int64_t k = 0; k < j; k++) {
      float s = 0;
      for (int64_t t = 0; t < a->tasks; t++) {
        s += a->scratch[t * a->per_task + k * a->cop + o];
      }
      a->dw[o * j + k] = s;
    }
  }
}
