// 3×3, stride-1, padding-1 convolution.
//
// Each image is copied into a zero-bordered buffer. A tile of accumulators
// stays in registers while the loop runs over input channels and taps. For
// images 32 or 16 wide the tile is R output rows × V vectors of 16 columns
// (a whole row) × O output channels: per tap, R·V unaligned row loads and O
// weight broadcasts feed R·V·O fused multiply-adds, stored straight into the
// NCHW output. Narrow images with 64·k output channels vectorise over the
// channels instead (P positions × 4 vectors, then a transpose); other shapes
// over the padded image's flattened positions, two junk columns per row.
#include <string.h>

#include "kernels.h"
#include "kernels_simd.h"

// Images are split into at most this many tasks (there is no reduction
// across them, so any count gives the same result).
#define LT_CONV_TASKS 64

// DEFINE_CK(R, V, O) defines ck_R_V_O over all input channels. xp: the padded
// image at the tile's first input row; wt: rearranged weights [ci][9][co] at
// the tile's first output channel; y: the output at (first channel, first row).
#define DEFINE_CK(R, V, O) DEFINE_CKT(vf, 16, R, V, O, ck_##R##_##V##_##O)
#define DEFINE_CKT(T, L, R, V, O, NAME)                                                                        \
  LT_CLONES static void NAME(const float *xp, int64_t ci, int64_t hpwp, int64_t wp,           \
                                           const float *wt, int64_t co, float *y, int64_t hw) {            \
    T a[O][R][V];                                                                                          \
    _Pragma("GCC unroll 8") for (int o = 0; o < O; o++) _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) \
        _Pragma("GCC unroll 2") for (int v = 0; v < V; v++) a[o][r][v] = (T){0};                           \
    for (int64_t c = 0; c < ci; c++) {                                                                     \
      const float *xc = xp + c * hpwp;                                                                     \
      const float *wc = wt + c * 9 * co;                                                                   \
      _Pragma("GCC unroll 3") for (int kh = 0; kh < 3; kh++) _Pragma("GCC unroll 3") for (int kw = 0; kw < 3; kw++) { \
        T xv[R][V];                                                                                        \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) _Pragma("GCC unroll 2") for (int v = 0; v < V; v++) \
            memcpy(&xv[r][v], xc + (r + kh) * wp + L * v + kw, 4 * L);                                     \
        const float *wk = wc + (kh * 3 + kw) * co;                                                         \
        _Pragma("GCC unroll 8") for (int o = 0; o < O; o++) {                                              \
          const float wv = wk[o];                                                                          \
          _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) _Pragma("GCC unroll 2") for (int v = 0; v < V; v++) \
              a[o][r][v] += wv * xv[r][v];                                                                 \
        }                                                                                                  \
      }                                                                                                    \
    }                                                                                                      \
    _Pragma("GCC unroll 8") for (int o = 0; o < O; o++) _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) \
        _Pragma("GCC unroll 2") for (int v = 0; v < V; v++) memcpy(y + o * hw + r * L * V + L * v, &a[o][r][v], 4 * L); \
  }

DEFINE_CK(2, 2, 6)
DEFINE_CK(2, 2, 4)
DEFINE_CK(2, 2, 2)
DEFINE_CK(2, 2, 1)
DEFINE_CK(4, 1, 6)
DEFINE_CK(4, 1, 4)
DEFINE_CK(4, 1, 2)
DEFINE_CK(4, 1, 1)

// DEFINE_CKF(NV, O) defines ckf_NV_O for other widths: NV vectors of 16
// consecutive positions of the padded image, flattened (rows of wp, two of
// whose columns are junk), × O output channels, into yt [o][flat position].
#define DEFINE_CKF(NV, O)                                                                                    \
  LT_CLONES static void ckf_##NV##_##O(const float *xp, int64_t ci, int64_t hpwp, int64_t wp, const float *wt, \
                                      int64_t co, float *yt, int64_t ytn) {                                 \
    vf a[O][NV];                                                                                            \
    _Pragma("GCC unroll 8") for (int o = 0; o < O; o++) _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) \
        a[o][v] = (vf){0};                                                                                  \
    for (int64_t c = 0; c < ci; c++) {                                                                      \
      const float *xc = xp + c * hpwp;                                                                      \
      const float *wc = wt + c * 9 * co;                                                                    \
      _Pragma("GCC unroll 3") for (int kh = 0; kh < 3; kh++) _Pragma("GCC unroll 3") for (int kw = 0; kw < 3; kw++) { \
        vf xv[NV];                                                                                          \
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) memcpy(&xv[v], xc + kh * wp + kw + 16 * v, 64); \
        const float *wk = wc + (kh * 3 + kw) * co;                                                          \
        _Pragma("GCC unroll 8") for (int o = 0; o < O; o++) {                                               \
          const float wv = wk[o];                                                                           \
          _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) a[o][v] += wv * xv[v];                       \
        }                                                                                                   \
      }                                                                                                     \
    }                                                                                                       \
    _Pragma("GCC unroll 8") for (int o = 0; o < O; o++) _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) \
        memcpy(yt + o * ytn + 16 * v, &a[o][v], 64);                                                        \
  }

DEFINE_CKF(5, 4)
DEFINE_CKF(5, 1)
DEFINE_CKF(1, 4)
DEFINE_CKF(1, 1)

// DEFINE_CKC(P) defines ckc_P for narrow images with 64·k output channels:
// P positions × 4 vectors of 16 output channels, vectorised over channels
// (no junk columns), into yT [position][co]. poff holds the positions'
// offsets in a padded plane.
#define DEFINE_CKC(P)                                                                                        \
  LT_CLONES static void ckc_##P(const float *xp, int64_t ci, int64_t hpwp, int64_t wp, const int64_t *poff,    \
                               const float *wt, int64_t co, float *yT) {                                    \
    vf a[P][4];                                                                                             \
    _Pragma("GCC unroll 8") for (int p = 0; p < P; p++) _Pragma("GCC unroll 4") for (int v = 0; v < 4; v++)  \
        a[p][v] = (vf){0};                                                                                  \
    for (int64_t c = 0; c < ci; c++) {                                                                      \
      const float *xc = xp + c * hpwp;                                                                      \
      const float *wc = wt + c * 9 * co;                                                                    \
      _Pragma("GCC unroll 3") for (int kh = 0; kh < 3; kh++) _Pragma("GCC unroll 3") for (int kw = 0; kw < 3; kw++) { \
        vf wv[4];                                                                                           \
        _Pragma("GCC unroll 4") for (int v = 0; v < 4; v++) memcpy(&wv[v], wc + (kh * 3 + kw) * co + 16 * v, 64); \
        _Pragma("GCC unroll 8") for (int p = 0; p < P; p++) {                                               \
          const float xv = xc[poff[p] + kh * wp + kw];                                                      \
          _Pragma("GCC unroll 4") for (int v = 0; v < 4; v++) a[p][v] += xv * wv[v];                        \
        }                                                                                                   \
      }                                                                                                     \
    }                                                                                                       \
    _Pragma("GCC unroll 8") for (int p = 0; p < P; p++) _Pragma("GCC unroll 4") for (int v = 0; v < 4; v++)  \
        memcpy(yT + p * co + 16 * v, &a[p][v], 64);                                                         \
  }

DEFINE_CKC(6)
DEFINE_CKC(4)
DEFINE_CKC(2)
DEFINE_CKC(1)

// chan reports whether the channel kernels fit: narrow images (not the row
// kernels' shapes) with 16·k positions and 64·k output channels.
static int chan(int64_t h, int64_t w, int64_t co) { return w < 16 && (h * w) % 16 == 0 && co % 64 == 0; }

// flat is the length of one channel's flat output: h rows of w+2, in whole vectors.
static int64_t flat(int64_t h, int64_t w) { return (h * (w + 2) + 15) & ~(int64_t)15; }

// rows reports whether the row kernels fit: whole rows of 32 or 16.
static int rows(int64_t h, int64_t w) { return (w == 32 && h % 2 == 0) || (w == 16 && h % 4 == 0); }

const char *lt_conv_plan(lt_conv_args *a) {
  if (a->n < 1 || a->ci < 1 || a->co < 1 || a->h < 1 || a->wd < 1) {
    return "empty tensor";
  }
  // The padded image with slack for the junk columns' reads past its end,
  // then the channel kernels' output and position offsets, or the flat
  // kernels' output.
  a->per_task = (size_t)(((a->ci * (a->h + 2) * (a->wd + 2) + 32) + 15) & ~(int64_t)15) +
                (size_t)(chan(a->h, a->wd, a->co) ? a->h * a->wd * (a->co + 2) : a->co * flat(a->h, a->wd));
  a->tasks = ntasks(a->n, LT_CONV_TASKS, (int64_t)a->per_task);
  a->scratch_len = (size_t)((a->ci * 9 * a->co + 15) & ~(int64_t)15) + a->tasks * a->per_task;
  return NULL;
}

// lt_conv_weights rearranges w into [ci][kh·3+kw][co] at the start of scratch.
void lt_conv_weights(lt_conv_args *a) {
  float *wt = a->scratch;
  for (int64_t o = 0; o < a->co; o++) {
    for (int64_t c = 0; c < a->ci; c++) {
      for (int64_t k = 0; k < 9; k++) {
        // flip: w is ci-major (the forward conv's co) and the taps run backwards.
        float v = a->flip ? a->w[(c * a->co + o) * 9 + 8 - k] : a->w[(o * a->ci + c) * 9 + k];
        wt[(c * 9 + k) * a->co + o] = v;
      }
    }
  }
}

// accumulate adds add to y, n floats.
LT_CLONES static void accumulate(float *y, const float *add, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += add[i];
}

void lt_conv_task(void *p, size_t task) {
  const lt_conv_args *a = p;
  const int64_t n0 = a->n * (int64_t)task / a->tasks, n1 = a->n * ((int64_t)task + 1) / a->tasks;
  const int64_t h = a->h, w = a->wd, hp = h + 2, wp = w + 2, hpwp = hp * wp, hw = h * w;
  const float *wt = a->scratch;
  float *xp = a->scratch + ((a->ci * 9 * a->co + 15) & ~(int64_t)15) + task * a->per_task;
  // Borders, and the slack after the last plane (read only for junk
  // columns), are zero; pad writes the interiors.
  for (int64_t c = 0; c < a->ci; c++) {
    float *p = xp + c * hpwp;
    memset(p, 0, (size_t)(wp + 1) * sizeof(float));
    for (int64_t r = 1; r <= h; r++) {
      p[r * wp + wp - 1] = 0;
      p[(r + 1) * wp] = 0;
    }
    memset(p + (h + 1) * wp, 0, (size_t)wp * sizeof(float));
  }
  memset(xp + a->ci * hpwp, 0, 32 * sizeof(float));
  for (int64_t n = n0; n < n1; n++) {
    pad(a->x + n * a->ci * hw, a->ci, h, w, xp);
    float *y = a->y + n * a->co * hw;
    if (w == 32 && rows(h, w)) {
      for (int64_t r = 0; r < h; r += 2) {
        const float *xr = xp + r * wp;
        int64_t o = 0;
        for (; o + 6 <= a->co; o += 6) ck_2_2_6(xr, a->ci, hpwp, wp, wt + o, a->co, y + o * hw + r * w, hw);
        for (; o + 4 <= a->co; o += 4) ck_2_2_4(xr, a->ci, hpwp, wp, wt + o, a->co, y + o * hw + r * w, hw);
        for (; o + 2 <= a->co; o += 2) ck_2_2_2(xr, a->ci, hpwp, wp, wt + o, a->co, y + o * hw + r * w, hw);
        for (; o < a->co; o++) ck_2_2_1(xr, a->ci, hpwp, wp, wt + o, a->co, y + o * hw + r * w, hw);
      }
    } else if (chan(h, w, a->co)) {
      const int64_t co = a->co;
      float *yT = xp + (((a->ci * hpwp + 32) + 15) & ~(int64_t)15);
      int64_t *poff = (int64_t *)(yT + hw * co);
      for (int64_t q = 0; q < hw; q++) poff[q] = (q / w) * wp + q % w;
      for (int64_t o = 0; o < co; o += 64) {
        int64_t q = 0;
        for (; q + 6 <= hw; q += 6) ckc_6(xp, a->ci, hpwp, wp, poff + q, wt + o, co, yT + q * co + o);
        for (; q + 4 <= hw; q += 4) ckc_4(xp, a->ci, hpwp, wp, poff + q, wt + o, co, yT + q * co + o);
        for (; q + 2 <= hw; q += 2) ckc_2(xp, a->ci, hpwp, wp, poff + q, wt + o, co, yT + q * co + o);
        for (; q < hw; q++) ckc_1(xp, a->ci, hpwp, wp, poff + q, wt + o, co, yT + q * co + o);
      }
      for (int64_t o = 0; o < co; o += 16) {
        for (int64_t q = 0; q < hw; q += 16) transpose16(yT + q * co + o, co, y + o * hw + q, hw);
      }
    } else if (!rows(h, w)) {
      const int64_t fn = flat(h, w);
      float *yt = xp + (((a->ci * hpwp + 32) + 15) & ~(int64_t)15);
      for (int64_t o = 0; o < a->co;) {
        const int64_t ob = a->co - o >= 4 ? 4 : 1;
        int64_t v = 0;
        for (; v + 5 <= fn / 16; v += 5) {
          if (ob == 4) ckf_5_4(xp + 16 * v, a->ci, hpwp, wp, wt + o, a->co, yt + o * fn + 16 * v, fn);
          else ckf_5_1(xp + 16 * v, a->ci, hpwp, wp, wt + o, a->co, yt + o * fn + 16 * v, fn);
        }
        for (; v < fn / 16; v++) {
          if (ob == 4) ckf_1_4(xp + 16 * v, a->ci, hpwp, wp, wt + o, a->co, yt + o * fn + 16 * v, fn);
          else ckf_1_1(xp + 16 * v, a->ci, hpwp, wp, wt + o, a->co, yt + o * fn + 16 * v, fn);
        }
        o += ob;
      }
      for (int64_t o = 0; o < a->co; o++) {
        for (int64_t r = 0; r < h; r++) memcpy(y + o * hw + r * w, yt + o * fn + r * wp, w * sizeof(float));
      }
    } else {
      for (int64_t r = 0; r < h; r += 4) {
        const float *xr = xp + r * wp;
        int64_t o = 0;
        for (; o + 6 <= a->co; o += 6) ck_4_1_6(xr, a->ci, hpwp, wp, wt + o, a->co, y + o * hw + r * w, hw);
        for (; o + 4 <= a->co; o += 4) ck_4_1_4(xr, a->ci, hpwp, wp, wt + o, a->co, y + o * hw + r * w, hw);
        for (; o + 2 <= a->co; o += 2) ck_4_1_2(xr, a->ci, hpwp, wp, wt + o, a->co, y + o * hw + r * w, hw);
        for (; o < a->co; o++) ck_4_1_1(xr, a->ci, hpwp, wp, wt + o, a->co, y + o * hw + r * w, hw);
      }
    }
    if (a->add) accumulate(y, a->add + n * a->co * hw, a->co * hw);
  }
}
