// ResNet's option-A shortcut, forward and backward, each in one pass.
#include <string.h>

#include "kernels.h"

const char *lt_sc_plan(lt_sc_args *a) {
  if (a->n < 1 || a->c < 1 || a->h < 1 || a->w < 1) {
    return "empty tensor";
  }
  if (a->pad < 0 || a->pad > LT_SC_MAX_PAD) {
    return "channel padding outside 0 to 2^30";
  }
  a->tasks = a->n < 64 ? a->n : 64;
  return NULL;
}

void lt_sc_task(void *p, size_t task) {
  const lt_sc_args *a = p;
  const int64_t n0 = a->n * (int64_t)task / a->tasks, n1 = a->n * ((int64_t)task + 1) / a->tasks;
  const int64_t oh = (a->h + 1) / 2, ow = (a->w + 1) / 2, co = a->c + 2 * a->pad, plane = oh * ow;
  for (int64_t n = n0; n < n1; n++) {
    float *y = a->y + n * co * plane;
    memset(y, 0, (size_t)(a->pad * plane) * sizeof(float));
    memset(y + (a->pad + a->c) * plane, 0, (size_t)(a->pad * plane) * sizeof(float));
    for (int64_t c = 0; c < a->c; c++) {
      const float *x = a->x + (n * a->c + c) * a->h * a->w;
      float *yc = y + (a->pad + c) * plane;
      for (int64_t i = 0; i < oh; i++) {
        for (int64_t j = 0; j < ow; j++) yc[i * ow + j] = x[2 * i * a->w + 2 * j];
      }
    }
  }
}

void lt_sc_grad_task(void *p, size_t task) {
  const lt_sc_args *a = p;
  const int64_t n0 = a->n * (int64_t)task / a->tasks, n1 = a->n * ((int64_t)task + 1) / a->tasks;
  const int64_t oh = (a->h + 1) / 2, ow = (a->w + 1) / 2, co = a->c + 2 * a->pad, plane = oh * ow;
  for (int64_t n = n0; n < n1; n++) {
    for (int64_t c = 0; c < a->c; c++) {
      const float *g = a->g + (n * co + a->pad + c) * plane;
      float *dx = a->dx + (n * a->c + c) * a->h * a->w;
      memset(dx, 0, (size_t)(a->h * a->w) * sizeof(float));
      for (int64_t i = 0; i < oh; i++) {
        for (int64_t j = 0; j < ow; j++) dx[2 * i * a->w + 2 * j] = g[i * ow + j];
      }
    }
  }
}
