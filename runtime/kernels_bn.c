// Batch norm (+ residual + ReLU), forward and backward, each in two sweeps
// over the activations: one for the per-channel sums, one for the output.
#include <string.h>

#include "kernels.h"
#include "kernels_simd.h"

// Batches are split into at most this many tasks, a fixed count so that the
// sums, added in task order, do not depend on the thread count.
#define LT_BN_TASKS 64

// plan checks an N×C×HW batch and sets its task count and scratch: per task
// and channel two double sums (4 floats), then 3 coefficients per channel.
static const char *plan(int64_t n, int64_t c, int64_t hw, int64_t *tasks, size_t *scratch_len) {
  if (n < 1 || c < 1 || hw < 1) {
    return "empty tensor";
  }
  if (n * hw < 2) {
    return "batch statistics need at least 2 elements per channel";
  }
  *tasks = n < LT_BN_TASKS ? n : LT_BN_TASKS;
  *scratch_len = (size_t)(*tasks * c * 4 + c * 3);
  return NULL;
}

const char *lt_bn_plan(lt_bn_args *a) { return plan(a->n, a->c, a->hw, &a->tasks, &a->scratch_len); }

// plane sums g and g·x over one channel plane of hw elements.
LT_CLONES static void plane(const float *x, const float *y, const float *dy, int64_t hw, double *sg, double *sgx) {
  vf g16 = {0}, gx16 = {0};
  int64_t i = 0;
  for (; i + 16 <= hw; i += 16) {
    vf xv, yv, dv;
    memcpy(&xv, x + i, 64);
    memcpy(&yv, y + i, 64);
    memcpy(&dv, dy + i, 64);
    vf g = (vf)((vi)dv & (yv > 0));
    g16 += g;
    gx16 += g * xv;
  }
  double s = 0, sx = 0;
  for (; i < hw; i++) {
    float g = y[i] > 0 ? dy[i] : 0;
    s += g;
    sx += g * x[i];
  }
  for (int l = 0; l < 16; l++) {
    s += g16[l];
    sx += gx16[l];
  }
  *sg += s;
  *sgx += sx;
}

void lt_bn_sums(void *p, size_t task) {
  const lt_bn_args *a = p;
  const int64_t n0 = a->n * (int64_t)task / a->tasks, n1 = a->n * ((int64_t)task + 1) / a->tasks;
  double *s = (double *)a->scratch + task * a->c * 2;
  memset(s, 0, a->c * 2 * sizeof(double));
  for (int64_t n = n0; n < n1; n++) {
    for (int64_t c = 0; c < a->c; c++) {
      const int64_t o = (n * a->c + c) * a->hw;
      plane(a->x + o, a->y + o, a->dy + o, a->hw, &s[2 * c], &s[2 * c + 1]);
    }
  }
}

void lt_bn_coef(lt_bn_args *a) {
  const double m = (double)(a->n * a->hw);
  float *k = a->scratch + a->tasks * a->c * 4;
  for (int64_t c = 0; c < a->c; c++) {
    double sg = 0, sgx = 0;
    for (int64_t t = 0; t < a->tasks; t++) {
      const double *s = (const double *)a->scratch + t * a->c * 2;
      sg += s[2 * c];
      sgx += s[2 * c + 1];
    }
    const double mu = a->mean[c], inv = 1 / __builtin_sqrt((double)a->var[c] + a->epsilon);
    const double S = sgx - mu * sg, kk = a->scale[c] * inv;
    const double ax = -kk * inv * inv * S / m;
    a->dbias[c] = (float)sg;
    a->dscale[c] = (float)(S * inv);
    k[3 * c] = (float)kk;
    k[3 * c + 1] = (float)ax;
    k[3 * c + 2] = (float)(-kk * sg / m - ax * mu);
  }
}

LT_CLONES static void dxplane(const float *x, const float *y, const float *dy, float *dx, float *gout, int64_t hw,
                              float k, float ax, float c) {
  if (gout) {
    for (int64_t i = 0; i < hw; i++) {
      float g = y[i] > 0 ? dy[i] : 0;
      gout[i] = g;
      dx[i] = k * g + ax * x[i] + c;
    }
  } else {
    for (int64_t i = 0; i < hw; i++) {
      float g = y[i] > 0 ? dy[i] : 0;
      dx[i] = k * g + ax * x[i] + c;
    }
  }
}

void lt_bn_dx(void *p, size_t task) {
  const lt_bn_args *a = p;
  const int64_t n0 = a->n * (int64_t)task / a->tasks, n1 = a->n * ((int64_t)task + 1) / a->tasks;
  const float *k = a->scratch + a->tasks * a->c * 4;
  for (int64_t n = n0; n < n1; n++) {
    for (int64_t c = 0; c < a->c; c++) {
      const int64_t o = (n * a->c + c) * a->hw;
      dxplane(a->x + o, a->y + o, a->dy + o, a->dx + o, a->g ? a->g + o : NULL, a->hw, k[3 * c],
              k[3 * c + 1], k[3 * c + 2]);
    }
  }
}

const char *lt_bnf_plan(lt_bnf_args *a) { return plan(a->n, a->c, a->hw, &a->tasks, &a->scratch_len); }

// The sums are taken of x − K, K the channel's first element, so that the
// variance does not cancel when |μ| ≫ σ.
LT_CLONES static void fplane(const float *x, int64_t hw, float k, double *s, double *ss) {
  vf s16 = {0}, ss16 = {0};
  const vf kv = (vf){0} + k;
  int64_t i = 0;
  for (; i + 16 <= hw; i += 16) {
    vf xv;
    memcpy(&xv, x + i, 64);
    xv -= kv;
    s16 += xv;
    ss16 += xv * xv;
  }
  double s1 = 0, ss1 = 0;
  for (; i < hw; i++) {
    double d = (double)x[i] - k;
    s1 += d;
    ss1 += d * d;
  }
  for (int l = 0; l < 16; l++) {
    s1 += s16[l];
    ss1 += ss16[l];
  }
  *s += s1;
  *ss += ss1;
}

static float *bnf_coef(const lt_bnf_args *a) { return a->scratch + a->tasks * a->c * 4; }

void lt_bnf_sums(void *p, size_t task) {
  const lt_bnf_args *a = p;
  const int64_t n0 = a->n * (int64_t)task / a->tasks, n1 = a->n * ((int64_t)task + 1) / a->tasks;
  double *s = (double *)a->scratch + task * a->c * 2;
  memset(s, 0, a->c * 2 * sizeof(double));
  for (int64_t n = n0; n < n1; n++) {
    for (int64_t c = 0; c < a->c; c++) {
      fplane(a->x + (n * a->c + c) * a->hw, a->hw, a->x[c * a->hw], &s[2 * c], &s[2 * c + 1]);
    }
  }
}

void lt_bnf_stats(lt_bnf_args *a) {
  const double m = (double)(a->n * a->hw);
  float *k = bnf_coef(a);
  for (int64_t c = 0; c < a->c; c++) {
    double s = 0, ss = 0;
    for (int64_t t = 0; t < a->tasks; t++) {
      const double *p = (const double *)a->scratch + t * a->c * 2;
      s += p[2 * c];
      ss += p[2 * c + 1];
    }
    const double d = s / m, mu = a->x[c * a->hw] + d;
    double var = ss / m - d * d;
    if (var < 0) var = 0;
    const double g = a->scale[c] / __builtin_sqrt(var + a->epsilon);
    a->mean[c] = (float)mu;
    a->var[c] = (float)var;
    k[2 * c] = (float)g;
    k[2 * c + 1] = (float)(a->bias[c] - mu * g);
  }
}

LT_CLONES static void aplane(const float *x, const float *r, float *y, int64_t hw, float g, float b) {
  if (r) {
    for (int64_t i = 0; i < hw; i++) {
      float v = x[i] * g + b + r[i];
      y[i] = v > 0 ? v : 0;
    }
  } else {
    for (int64_t i = 0; i < hw; i++) {
      float v = x[i] * g + b;
      y[i] = v > 0 ? v : 0;
    }
  }
}

void lt_bnf_apply(void *p, size_t task) {
  const lt_bnf_args *a = p;
  const int64_t n0 = a->n * (int64_t)task / a->tasks, n1 = a->n * ((int64_t)task + 1) / a->tasks;
  const float *k = bnf_coef(a);
  for (int64_t n = n0; n < n1; n++) {
    for (int64_t c = 0; c < a->c; c++) {
      const int64_t o = (n * a->c + c) * a->hw;
      aplane(a->x + o, a->r ? a->r + o : NULL, a->y + o, a->hw, k[2 * c], k[2 * c + 1]);
    }
  }
}
