// Kernels behind longtail's custom ONNX Runtime operators. They are plain C
// over float32 NCHW buffers, know nothing of ORT, and split their work into a
// number of tasks fixed by the shapes (at most 64; 16 for ConvWeightGrad,
// whose per-task partial sums are large; fewer for large images) so that
// results do not depend on the thread count.
#ifndef LONGTAIL_KERNELS_H
#define LONGTAIL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

// lt_kernels_build describes the code the kernels were compiled to, and sets
// *fast to 0 where that is x86-64's baseline (SSE2) alone: built without
// function clones (clang, musl, GCC before 12, -DLT_NO_CLONES) and without
// CFLAGS asking for AVX2, the kernels run about 5× slower than GCC's clones
// and slower than ORT's standard kernels, so runtime.custom_ops auto leaves
// them out.
const char *lt_kernels_build(int *fast);

// lt_dw is the weight gradient of a bias-free 3×3 convolution with padding 1:
//   dw[o][i][kh][kw] = Σ_n Σ_oh Σ_ow dy[n][o][oh][ow] · x[n][i][oh·s+kh−1][ow·s+kw−1]
// for x N×Ci×H×W and dy N×Co×OH×OW. The batch is cut into tasks; each task
// accumulates its images into its own slice of scratch, and lt_dw_reduce sums
// the slices in task order.
typedef struct {
  const float *x, *dy;
  float *dw;
  int64_t n, ci, h, w, co, oh, ow, stride;
  // Derived by lt_dw_plan.
  int64_t tasks, cop, hp, wp;
  size_t per_task;  // floats of scratch per task
  float *scratch;   // tasks·per_task floats, 64-byte aligned
} lt_dw_args;

// lt_dw_plan checks the shapes and fills the derived fields; it returns NULL
// or a static message naming what is unsupported.
const char *lt_dw_plan(lt_dw_args *a);
void lt_dw_task(void *args, size_t task);
void lt_dw_reduce(const lt_dw_args *a);

// lt_bn is the backward of training-mode batch normalisation from the batch
// statistics (biased variance), through a ReLU whose output is y: with
// g = dy·[y > 0], inv = 1/√(var+ε), M = N·HW
// elements per channel and S = Σ g·(x−μ),
//   dbias = Σ g, dscale = inv·S, dx = γ·inv·(g − dbias/M − (x−μ)·inv²·S/M).
// lt_bn_sums and lt_bn_dx each run tasks batch slices; the partial sums are
// added in task order (double precision) by lt_bn_coef.
typedef struct {
  const float *x, *y, *dy, *scale, *mean, *var;
  float *dx, *dscale, *dbias;
  float *g;  // when not NULL, lt_bn_dx also writes g = dy·[y > 0] here
  int64_t n, c, hw;
  float epsilon;
  // Derived by lt_bn_plan.
  int64_t tasks;
  size_t scratch_len;  // floats of scratch
  float *scratch;
} lt_bn_args;

const char *lt_bn_plan(lt_bn_args *a);
void lt_bn_sums(void *args, size_t task);
void lt_bn_coef(lt_bn_args *a);
void lt_bn_dx(void *args, size_t task);

// lt_bnf is training-mode batch normalisation followed by an optional
// residual addition and a ReLU:
//   y = max(0, γ·(x−μ)/√(var+ε) + β [+ r]),
// with μ and the biased variance var taken over the batch and positions of
// each channel (written to mean and var). lt_bnf_sums accumulates shifted
// sums per batch slice, lt_bnf_stats adds them in task order (double
// precision), lt_bnf_apply writes y.
typedef struct {
  const float *x, *scale, *bias, *r;
  float *y, *mean, *var;
  int64_t n, c, hw;
  float epsilon;
  // Derived by lt_bnf_plan.
  int64_t tasks;
  size_t scratch_len;
  float *scratch;
} lt_bnf_args;

const char *lt_bnf_plan(lt_bnf_args *a);
void lt_bnf_sums(void *args, size_t task);
void lt_bnf_stats(lt_bnf_args *a);
void lt_bnf_apply(void *args, size_t task);

// lt_conv is a bias-free 3×3 convolution with stride 1 and padding 1,
//   y[n][o][h][w] = Σ_i Σ_kh Σ_kw wt[o][i][kh][kw] · x[n][i][h+kh−1][w+kw−1],
// vectorised along rows (whole rows of 32 or 16 columns), over output
// channels (narrow images, 64·k channels) or along the padded image's
// flattened positions. With flip, w is stored as Ci'×Co'×3×3 and the kernel
// used is its transpose, flipped in space: the input gradient of the
// convolution by w. lt_conv_weights writes the rearranged weights into
// scratch; lt_conv_task runs one batch slice.
typedef struct {
  const float *x, *w;
  const float *add;  // when not NULL, added to y (same shape)
  float *y;
  int64_t n, ci, h, wd, co;
  int flip;
  // Derived by lt_conv_plan.
  int64_t tasks;
  size_t per_task;     // floats of scratch per task (the padded image)
  size_t scratch_len;  // floats of scratch in all: rearranged weights, then the tasks'
  float *scratch;
} lt_conv_args;

const char *lt_conv_plan(lt_conv_args *a);
void lt_conv_weights(lt_conv_args *a);
void lt_conv_task(void *args, size_t task);

// lt_sc is ResNet's option-A shortcut: x (N×C×H×W) subsampled by 2 in space
// and zero-padded by pad channels on each side, y N×(C+2·pad)×⌈H/2⌉×⌈W/2⌉;
// backward, dx is g's middle channels spread back onto the even positions,
// zeros elsewhere. pad is at most LT_SC_MAX_PAD, so that C+2·pad cannot
// overflow. lt_sc_task and lt_sc_grad_task run one batch slice.
#define LT_SC_MAX_PAD ((int64_t)1 << 30)
typedef struct {
  const float *x, *g;
  float *y, *dx;
  int64_t n, c, h, w, pad;
  int64_t tasks;  // derived by lt_sc_plan
} lt_sc_args;

const char *lt_sc_plan(lt_sc_args *a);
void lt_sc_task(void *args, size_t task);
void lt_sc_grad_task(void *args, size_t task);

#endif
