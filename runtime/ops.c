// The "longtail" custom-op domain for ONNX Runtime's CPU provider:
//
//   ConvWeightGrad(x N×Ci×H×W, dy N×Co×OH×OW) → dW Co×Ci×3×3, attribute
//   stride (default 1): the weight gradient of a bias-free 3×3 convolution with
//   padding 1 (kernels_dw.c).
//
//   BatchNormReluGrad(x, y, dy, scale, mean, var) → dx, dscale, dbias[, g],
//   attribute epsilon: training-mode BatchNormalization's backward, from the
//   batch statistics, of g = dy·[y > 0], the gradient through the ReLU whose
//   output is y; the optional fourth output is g itself, the gradient of a
//   residual input (kernels_bn.c).
//
//   BatchNormRelu(x, scale, bias[, r]) → y, mean, var, attribute epsilon:
//   y = relu(BatchNormalization(x) [+ r]) in training mode, with the batch
//   mean and biased variance (kernels_bn.c).
//
//   Conv3x3(x N×Ci×H×W, w[, add]) → y N×Co×H×W, attribute flip (default 0):
//   a bias-free 3×3 convolution, stride 1, padding 1, by w (Co×Ci×3×3), or
//   with flip 1 by w's transpose flipped in space (w Ci×Co×3×3): the input
//   gradient of the convolution by w; plus add when given (kernels_conv.c).
//
//   SGD(p, g, v, lr) → p', v', attributes momentum and weight_decay:
//   PyTorch's SGD with momentum, v' = μ·v + g + wd·p, p' = p − lr·v', for
//   g and v of p's shape.
//
//   ShortcutA(x) → y, attribute pad: ResNet's option-A shortcut, x
//   subsampled by 2 in space and zero-padded by pad channels on each side;
//   ShortcutAGrad(g) → dx, attributes pad, height and width (x's): its
//   backward (kernels_shortcut.c).
//
// An attribute of the wrong type (flip given as a float) fails the kernel's
// creation, an absent one takes its default. An absent optional output
// (named "" in the node) is not written; an absent required one fails.
//
// The ORT API comes from the library the process already loaded (dlopen with
// RTLD_NOLOAD), so this file links against nothing but libdl.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "onnxruntime_c_api.h"
#include "ops.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static const OrtApi *api;
static OrtCustomOpDomain *domain;

// Scratch buffers, kept between runs. A session runs its nodes one at a
// time, so one buffer serves it; runs in parallel (a sweep's runs, say) take
// further slots, and a kernel that finds every slot busy allocates its own.
// A slot keeps at most SLOT_KEEP bytes after use (LT_SCRATCH's 64 MiB: all
// a kernel's tasks hold, which ResNet-32's layers stay well below), so one
// huge image does not pin its buffer; lt_scratch_release frees them all
// when the last session with custom ops, or the environment, goes.
#define SLOTS 8
#define SLOT_KEEP ((size_t)64 << 20)
static struct {
  pthread_mutex_t mu;
  float *buf;
  size_t len;
} slots[SLOTS] = {[0 ... SLOTS - 1] = {PTHREAD_MUTEX_INITIALIZER, NULL, 0}};

static float *alloc_floats(size_t n) { return aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64); }

// get_scratch returns n floats, 64-byte aligned, and sets *slot to the slot
// held (or -1: the caller owns the memory).
static float *get_scratch(size_t n, int *slot) {
  for (int i = 0; i < SLOTS; i++) {
    if (pthread_mutex_trylock(&slots[i].mu) != 0) continue;
    if (slots[i].len < n) {
      free(slots[i].buf);
      slots[i].buf = alloc_floats(n);
      slots[i].len = slots[i].buf ? n : 0;
    }
    if (slots[i].buf) {
      *slot = i;
      return slots[i].buf;
    }
    pthread_mutex_unlock(&slots[i].mu);
  }
  *slot = -1;
  return alloc_floats(n);
}

static void put_scratch(float *p, int slot) {
  if (slot < 0) {
    free(p);
    return;
  }
  if (slots[slot].len * sizeof(float) > SLOT_KEEP) {
    free(slots[slot].buf);
    slots[slot].buf = NULL;
    slots[slot].len = 0;
  }
  pthread_mutex_unlock(&slots[slot].mu);
}

void lt_scratch_release(void) {
  for (int i = 0; i < SLOTS; i++) {
    pthread_mutex_lock(&slots[i].mu);
    free(slots[i].buf);
    slots[i].buf = NULL;
    slots[i].len = 0;
    pthread_mutex_unlock(&slots[i].mu);
  }
}

size_t lt_scratch_bytes(void) {
  size_t n = 0;
  for (int i = 0; i < SLOTS; i++) {
    pthread_mutex_lock(&slots[i].mu);
    n += slots[i].len * sizeof(float);
    pthread_mutex_unlock(&slots[i].mu);
  }
  return n;
}

static OrtStatus *errorf(const char *op, const char *format, ...) {
  char msg[512];
  int n = snprintf(msg, sizeof msg, "longtail.%s: ", op);
  va_list ap;
  va_start(ap, format);
  vsnprintf(msg + n, sizeof msg - n, format, ap);
  va_end(ap);
  return api->CreateStatus(ORT_INVALID_ARGUMENT, msg);
}

#define TRY(expr)                 \
  do {                            \
    OrtStatus *st_ = (expr);      \
    if (st_) return st_;          \
  } while (0)

// input reads input i: its rank (at most 8), dimensions (dims holds 8),
// element count and data.
static OrtStatus *input(const char *op, OrtKernelContext *ctx, size_t i, int64_t *dims, size_t *rank, int64_t *n,
                        const float **data) {
  const OrtValue *v;
  TRY(api->KernelContext_GetInput(ctx, i, &v));
  OrtTensorTypeAndShapeInfo *info;
  TRY(api->GetTensorTypeAndShape(v, &info));
  OrtStatus *st = api->GetDimensionsCount(info, rank);
  if (!st && *rank > 8) st = errorf(op, "input %zu has rank %zu; want at most 8", i, *rank);
  if (!st) st = api->GetDimensions(info, dims, *rank);
  api->ReleaseTensorTypeAndShapeInfo(info);
  if (st) return st;
  *n = 1;
  for (size_t j = 0; j < *rank; j++) *n *= dims[j];
  return api->GetTensorData(v, (const void **)data);
}

// shape reads input i, which must have rank want, into dims (want entries).
static OrtStatus *shape(const char *op, OrtKernelContext *ctx, size_t i, size_t want, int64_t *dims,
                        const float **data) {
  int64_t d[8], n;
  size_t rank;
  TRY(input(op, ctx, i, d, &rank, &n, data));
  if (rank != want) return errorf(op, "input %zu has rank %zu; want %zu", i, rank, want);
  memcpy(dims, d, want * sizeof d[0]);
  return NULL;
}

// output allocates output i of the given shape. An output the node leaves
// out (named "") has no OrtValue: *data is then NULL where the output is
// optional, and it is an error where it is required.
static OrtStatus *output(const char *op, OrtKernelContext *ctx, size_t i, const int64_t *dims, size_t rank,
                         int required, float **data) {
  OrtValue *v = NULL;
  TRY(api->KernelContext_GetOutput(ctx, i, dims, rank, &v));
  if (!v) {
    *data = NULL;
    return required ? errorf(op, "output %zu is required, but the node names it \"\"", i) : NULL;
  }
  return api->GetTensorMutableData(v, (void **)data);
}

// dims_str writes dims as "4×3" into buf (64 bytes).
static const char *dims_str(char *buf, const int64_t *dims, size_t rank) {
  int n = snprintf(buf, 64, "%s", rank ? "" : "a scalar");
  for (size_t j = 0; j < rank && n < 64; j++) n += snprintf(buf + n, 64 - n, j ? "×%lld" : "%lld", (long long)dims[j]);
  return buf;
}

// Each op's kernel holds its attributes.
typedef struct {
  int64_t stride, flip, pad, height, width;
  float epsilon, momentum, weight_decay;
} kernel;

static int ok(OrtStatus *st) {
  if (!st) return 1;
  api->ReleaseStatus(st);
  return 0;
}

// attr_kind names the type of the node's attribute name, or returns NULL
// where the node has none (or has it as a graph or list of strings or
// tensors, which the API cannot read).
static const char *attr_kind(const OrtKernelInfo *info, const char *name) {
  int64_t i;
  float f;
  size_t n;
  if (ok(api->KernelInfoGetAttribute_int64(info, name, &i))) return "an int";
  if (ok(api->KernelInfoGetAttribute_float(info, name, &f))) return "a float";
  if (ok(api->KernelInfoGetAttribute_string(info, name, NULL, &n))) return "a string";
  if (ok(api->KernelInfoGetAttributeArray_int64(info, name, NULL, &n))) return "a list of ints";
  if (ok(api->KernelInfoGetAttributeArray_float(info, name, NULL, &n))) return "a list of floats";
  OrtAllocator *alloc;
  OrtValue *t = NULL;
  if (ok(api->GetAllocatorWithDefaultOptions(&alloc)) && ok(api->KernelInfoGetAttribute_tensor(info, name, alloc, &t))) {
    api->ReleaseValue(t);
    return "a tensor";
  }
  return NULL;
}

// attr_int and attr_float read attribute name of op's node: def where the
// node has none, an error where it has one of another type.
static OrtStatus *attr_int(const OrtKernelInfo *info, const char *op, const char *name, int64_t def, int64_t *out) {
  if (ok(api->KernelInfoGetAttribute_int64(info, name, out))) return NULL;
  *out = def;
  const char *kind = attr_kind(info, name);
  return kind ? errorf(op, "attribute %s is %s; want an int", name, kind) : NULL;
}

static OrtStatus *attr_float(const OrtKernelInfo *info, const char *op, const char *name, float def, float *out) {
  if (ok(api->KernelInfoGetAttribute_float(info, name, out))) return NULL;
  *out = def;
  const char *kind = attr_kind(info, name);
  return kind ? errorf(op, "attribute %s is %s; want a float", name, kind) : NULL;
}

// created hands k to ORT, or frees it when st reports an error.
static OrtStatus *created(OrtStatus *st, kernel *k, void **out) {
  if (st) {
    free(k);
    return st;
  }
  *out = k;
  return NULL;
}

// ConvWeightGrad.

static OrtStatus *dw_create(const OrtCustomOp *op, const OrtApi *a, const OrtKernelInfo *info, void **out) {
  (void)op, (void)a;
  kernel *k = calloc(1, sizeof *k);
  if (!k) return api->CreateStatus(ORT_FAIL, "longtail.ConvWeightGrad: out of memory");
  OrtStatus *st = attr_int(info, "ConvWeightGrad", "stride", 1, &k->stride);
  if (!st && k->stride < 1) st = errorf("ConvWeightGrad", "stride %lld; want at least 1", (long long)k->stride);
  return created(st, k, out);
}

static OrtStatus *dw_compute(void *p, OrtKernelContext *ctx) {
  const kernel *k = p;
  int64_t xd[4], yd[4];
  lt_dw_args a = {0};
  TRY(shape("ConvWeightGrad", ctx, 0, 4, xd, &a.x));
  TRY(shape("ConvWeightGrad", ctx, 1, 4, yd, &a.dy));
  if (xd[0] != yd[0]) {
    return errorf("ConvWeightGrad", "x has %lld images and dy %lld", (long long)xd[0], (long long)yd[0]);
  }
  a.n = xd[0], a.ci = xd[1], a.h = xd[2], a.w = xd[3];
  a.co = yd[1], a.oh = yd[2], a.ow = yd[3];
  a.stride = k->stride;
  const char *why = lt_dw_plan(&a);
  if (why) {
    return errorf("ConvWeightGrad", "%s (x %lld×%lld×%lld×%lld, dy %lld×%lld×%lld×%lld, stride %lld)", why,
                  (long long)xd[0], (long long)xd[1], (long long)xd[2], (long long)xd[3], (long long)yd[0],
                  (long long)yd[1], (long long)yd[2], (long long)yd[3], (long long)a.stride);
  }
  int64_t wd[4] = {a.co, a.ci, 3, 3};
  TRY(output("ConvWeightGrad", ctx, 0, wd, 4, 1, &a.dw));
  int slot;
  a.scratch = get_scratch((size_t)a.tasks * a.per_task, &slot);
  if (!a.scratch) return api->CreateStatus(ORT_FAIL, "longtail.ConvWeightGrad: out of memory");
  OrtStatus *st = api->KernelContext_ParallelFor(ctx, lt_dw_task, (size_t)a.tasks, 0, &a);
  if (!st) lt_dw_reduce(&a);
  put_scratch(a.scratch, slot);
  return st;
}

// Conv3x3.

static OrtStatus *conv_create(const OrtCustomOp *op, const OrtApi *a, const OrtKernelInfo *info, void **out) {
  (void)op, (void)a;
  kernel *k = calloc(1, sizeof *k);
  if (!k) return api->CreateStatus(ORT_FAIL, "longtail.Conv3x3: out of memory");
  OrtStatus *st = attr_int(info, "Conv3x3", "flip", 0, &k->flip);
  if (!st && k->flip != 0 && k->flip != 1) st = errorf("Conv3x3", "flip %lld; want 0 or 1", (long long)k->flip);
  return created(st, k, out);
}

static OrtStatus *conv_compute(void *p, OrtKernelContext *ctx) {
  static const char op[] = "Conv3x3";
  const kernel *k = p;
  int64_t xd[4], wd[4];
  lt_conv_args a = {0};
  TRY(shape(op, ctx, 0, 4, xd, &a.x));
  TRY(shape(op, ctx, 1, 4, wd, &a.w));
  a.flip = k->flip != 0;
  int64_t ci = a.flip ? wd[0] : wd[1], co = a.flip ? wd[1] : wd[0];
  if (wd[2] != 3 || wd[3] != 3 || ci != xd[1]) {
    return errorf(op, "w %lld×%lld×%lld×%lld (flip %d) is not a 3×3 kernel over x's %lld channels", (long long)wd[0],
                  (long long)wd[1], (long long)wd[2], (long long)wd[3], a.flip, (long long)xd[1]);
  }
  a.n = xd[0], a.ci = xd[1], a.h = xd[2], a.wd = xd[3], a.co = co;
  const char *why = lt_conv_plan(&a);
  if (why) {
    return errorf(op, "%s (x %lld×%lld×%lld×%lld)", why, (long long)xd[0], (long long)xd[1], (long long)xd[2],
                  (long long)xd[3]);
  }
  int64_t yd[4] = {a.n, a.co, a.h, a.wd};
  size_t ins;
  TRY(api->KernelContext_GetInputCount(ctx, &ins));
  if (ins > 2) {
    const OrtValue *v;
    TRY(api->KernelContext_GetInput(ctx, 2, &v));
    if (v) {
      int64_t ad[4];
      TRY(shape(op, ctx, 2, 4, ad, &a.add));
      if (memcmp(ad, yd, sizeof ad)) return errorf(op, "add's shape differs from the output's");
    }
  }
  TRY(output(op, ctx, 0, yd, 4, 1, &a.y));
  int slot;
  a.scratch = get_scratch(a.scratch_len, &slot);
  if (!a.scratch) return api->CreateStatus(ORT_FAIL, "longtail.Conv3x3: out of memory");
  lt_conv_weights(&a);
  OrtStatus *st = api->KernelContext_ParallelFor(ctx, lt_conv_task, (size_t)a.tasks, 0, &a);
  put_scratch(a.scratch, slot);
  return st;
}

// SGD.

static OrtStatus *sgd_create(const OrtCustomOp *op, const OrtApi *a, const OrtKernelInfo *info, void **out) {
  (void)op, (void)a;
  kernel *k = calloc(1, sizeof *k);
  if (!k) return api->CreateStatus(ORT_FAIL, "longtail.SGD: out of memory");
  OrtStatus *st = attr_float(info, "SGD", "momentum", 0, &k->momentum);
  if (!st) st = attr_float(info, "SGD", "weight_decay", 0, &k->weight_decay);
  return created(st, k, out);
}

static OrtStatus *sgd_compute(void *p, OrtKernelContext *ctx) {
  static const char op[] = "SGD";
  const kernel *k = p;
  int64_t dims[8], d2[8];
  size_t rank, r2;
  int64_t n, n2;
  const float *w, *g, *v, *lr;
  const float **gv[2] = {&g, &v};
  const char *names[2] = {"g", "v"};
  TRY(input(op, ctx, 0, dims, &rank, &n, &w));
  for (size_t i = 0; i < 2; i++) {
    TRY(input(op, ctx, i + 1, d2, &r2, &n2, gv[i]));
    if (r2 != rank || memcmp(d2, dims, rank * sizeof dims[0])) {
      char a[64], b[64];
      return errorf(op, "%s is %s; p is %s", names[i], dims_str(a, d2, r2), dims_str(b, dims, rank));
    }
  }
  TRY(input(op, ctx, 3, d2, &r2, &n2, &lr));
  if (n2 != 1) return errorf(op, "lr has %lld elements; want 1", (long long)n2);
  float *wn, *vn;
  TRY(output(op, ctx, 0, dims, rank, 1, &wn));
  TRY(output(op, ctx, 1, dims, rank, 1, &vn));
  const float mu = k->momentum, wd = k->weight_decay, rate = lr[0];
  for (int64_t i = 0; i < n; i++) {
    float d = wd != 0 ? g[i] + w[i] * wd : g[i];
    float nv = v[i] * mu + d;
    vn[i] = nv;
    wn[i] = w[i] - nv * rate;
  }
  return NULL;
}

// ShortcutA and ShortcutAGrad.

static OrtStatus *sc_create(const OrtCustomOp *op, const OrtApi *a, const OrtKernelInfo *info, void **out) {
  (void)a;
  const char *name = op->GetName(op);
  kernel *k = calloc(1, sizeof *k);
  if (!k) return api->CreateStatus(ORT_FAIL, "longtail.ShortcutA: out of memory");
  OrtStatus *st = attr_int(info, name, "pad", 0, &k->pad);
  if (!st && (k->pad < 0 || k->pad > LT_SC_MAX_PAD)) {
    // Bounded here, before ShortcutAGrad takes 2·pad from g's channels.
    st = errorf(name, "attribute pad is %lld; want 0 to %lld", (long long)k->pad, (long long)LT_SC_MAX_PAD);
  }
  if (!st) st = attr_int(info, name, "height", 0, &k->height);
  if (!st) st = attr_int(info, name, "width", 0, &k->width);
  return created(st, k, out);
}

static OrtStatus *sc_compute(void *p, OrtKernelContext *ctx) {
  static const char op[] = "ShortcutA";
  const kernel *k = p;
  int64_t xd[4];
  lt_sc_args a = {0};
  TRY(shape(op, ctx, 0, 4, xd, &a.x));
  a.n = xd[0], a.c = xd[1], a.h = xd[2], a.w = xd[3], a.pad = k->pad;
  const char *why = lt_sc_plan(&a);
  if (why) return errorf(op, "%s", why);
  int64_t yd[4] = {a.n, a.c + 2 * a.pad, (a.h + 1) / 2, (a.w + 1) / 2};
  TRY(output(op, ctx, 0, yd, 4, 1, &a.y));
  return api->KernelContext_ParallelFor(ctx, lt_sc_task, (size_t)a.tasks, 0, &a);
}

static OrtStatus *scg_compute(void *p, OrtKernelContext *ctx) {
  static const char op[] = "ShortcutAGrad";
  const kernel *k = p;
  int64_t gd[4];
  lt_sc_args a = {0};
  TRY(shape(op, ctx, 0, 4, gd, &a.g));
  a.n = gd[0], a.c = gd[1] - 2 * k->pad, a.h = k->height, a.w = k->width, a.pad = k->pad;
  const char *why = lt_sc_plan(&a);
  if (why) return errorf(op, "%s (g %lld×%lld×%lld×%lld, pad %lld)", why, (long long)gd[0], (long long)gd[1],
                         (long long)gd[2], (long long)gd[3], (long long)k->pad);
  if (gd[2] != (a.h + 1) / 2 || gd[3] != (a.w + 1) / 2) {
    return errorf(op, "g is %lld×%lld; a %lld×%lld input subsampled by 2 is %lld×%lld", (long long)gd[2],
                  (long long)gd[3], (long long)a.h, (long long)a.w, (long long)((a.h + 1) / 2),
                  (long long)((a.w + 1) / 2));
  }
  int64_t xd[4] = {a.n, a.c, a.h, a.w};
  TRY(output(op, ctx, 0, xd, 4, 1, &a.dx));
  return api->KernelContext_ParallelFor(ctx, lt_sc_grad_task, (size_t)a.tasks, 0, &a);
}

// BatchNormReluGrad.

static OrtStatus *bn_create(const OrtCustomOp *op, const OrtApi *a, const OrtKernelInfo *info, void **out) {
  (void)a;
  kernel *k = calloc(1, sizeof *k);
  if (!k) return api->CreateStatus(ORT_FAIL, "longtail.BatchNormReluGrad: out of memory");
  OrtStatus *st = attr_float(info, op->GetName(op), "epsilon", 1e-5f, &k->epsilon);
  return created(st, k, out);
}

static OrtStatus *bnr_compute(void *p, OrtKernelContext *ctx) {
  static const char op[] = "BatchNormReluGrad";
  const kernel *k = p;
  int64_t xd[4], d[4], cd[1];
  lt_bn_args a = {0};
  a.epsilon = k->epsilon;
  size_t i = 0;
  TRY(shape(op, ctx, i++, 4, xd, &a.x));
  TRY(shape(op, ctx, i++, 4, d, &a.y));
  if (memcmp(d, xd, sizeof d)) return errorf(op, "y's shape differs from x's");
  TRY(shape(op, ctx, i++, 4, d, &a.dy));
  if (memcmp(d, xd, sizeof d)) return errorf(op, "dy's shape differs from x's");
  const float **vecs[3] = {&a.scale, &a.mean, &a.var};
  const char *names[3] = {"scale", "mean", "var"};
  for (int v = 0; v < 3; v++) {
    TRY(shape(op, ctx, i++, 1, cd, vecs[v]));
    if (cd[0] != xd[1]) {
      return errorf(op, "%s has %lld entries; x has %lld channels", names[v], (long long)cd[0], (long long)xd[1]);
    }
  }
  a.n = xd[0], a.c = xd[1], a.hw = xd[2] * xd[3];
  const char *why = lt_bn_plan(&a);
  if (why) return errorf(op, "%s", why);
  TRY(output(op, ctx, 0, xd, 4, 1, &a.dx));
  TRY(output(op, ctx, 1, cd, 1, 1, &a.dscale));
  TRY(output(op, ctx, 2, cd, 1, 1, &a.dbias));
  size_t outs;
  TRY(api->KernelContext_GetOutputCount(ctx, &outs));
  if (outs > 3) TRY(output(op, ctx, 3, xd, 4, 0, &a.g));
  int slot;
  a.scratch = get_scratch(a.scratch_len, &slot);
  if (!a.scratch) return api->CreateStatus(ORT_FAIL, "longtail.BatchNormReluGrad: out of memory");
  OrtStatus *st = api->KernelContext_ParallelFor(ctx, lt_bn_sums, (size_t)a.tasks, 0, &a);
  if (!st) {
    lt_bn_coef(&a);
    st = api->KernelContext_ParallelFor(ctx, lt_bn_dx, (size_t)a.tasks, 0, &a);
  }
  put_scratch(a.scratch, slot);
  return st;
}

static OrtStatus *bnf_compute(void *p, OrtKernelContext *ctx) {
  static const char op[] = "BatchNormRelu";
  const kernel *k = p;
  int64_t xd[4], d[4], cd[1];
  size_t ins;
  lt_bnf_args a = {0};
  a.epsilon = k->epsilon;
  TRY(shape(op, ctx, 0, 4, xd, &a.x));
  TRY(shape(op, ctx, 1, 1, cd, &a.scale));
  if (cd[0] != xd[1]) return errorf(op, "scale has %lld entries; x has %lld channels", (long long)cd[0], (long long)xd[1]);
  TRY(shape(op, ctx, 2, 1, cd, &a.bias));
  if (cd[0] != xd[1]) return errorf(op, "bias has %lld entries; x has %lld channels", (long long)cd[0], (long long)xd[1]);
  TRY(api->KernelContext_GetInputCount(ctx, &ins));
  if (ins > 3) {
    const OrtValue *v;
    TRY(api->KernelContext_GetInput(ctx, 3, &v));
    if (v) {
      TRY(shape(op, ctx, 3, 4, d, &a.r));
      if (memcmp(d, xd, sizeof d)) return errorf(op, "r's shape differs from x's");
    }
  }
  a.n = xd[0], a.c = xd[1], a.hw = xd[2] * xd[3];
  const char *why = lt_bnf_plan(&a);
  if (why) return errorf(op, "%s", why);
  TRY(output(op, ctx, 0, xd, 4, 1, &a.y));
  TRY(output(op, ctx, 1, cd, 1, 1, &a.mean));
  TRY(output(op, ctx, 2, cd, 1, 1, &a.var));
  int slot;
  a.scratch = get_scratch(a.scratch_len, &slot);
  if (!a.scratch) return api->CreateStatus(ORT_FAIL, "longtail.BatchNormRelu: out of memory");
  OrtStatus *st = api->KernelContext_ParallelFor(ctx, lt_bnf_sums, (size_t)a.tasks, 0, &a);
  if (!st) {
    lt_bnf_stats(&a);
    st = api->KernelContext_ParallelFor(ctx, lt_bnf_apply, (size_t)a.tasks, 0, &a);
  }
  put_scratch(a.scratch, slot);
  return st;
}


// The OrtCustomOp tables.

static const char *dw_name(const OrtCustomOp *op) { (void)op; return "ConvWeightGrad"; }
static const char *bnr_name(const OrtCustomOp *op) { (void)op; return "BatchNormReluGrad"; }
static const char *bnf_name(const OrtCustomOp *op) { (void)op; return "BatchNormRelu"; }
static const char *conv_name(const OrtCustomOp *op) { (void)op; return "Conv3x3"; }
static const char *sgd_name(const OrtCustomOp *op) { (void)op; return "SGD"; }
static const char *sc_name(const OrtCustomOp *op) { (void)op; return "ShortcutA"; }
static const char *scg_name(const OrtCustomOp *op) { (void)op; return "ShortcutAGrad"; }
static const char *cpu(const OrtCustomOp *op) { (void)op; return "CPUExecutionProvider"; }
static ONNXTensorElementDataType f32(const OrtCustomOp *op, size_t i) {
  (void)op, (void)i;
  return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
}
static size_t two(const OrtCustomOp *op) { (void)op; return 2; }
static size_t one(const OrtCustomOp *op) { (void)op; return 1; }
static size_t three(const OrtCustomOp *op) { (void)op; return 3; }
static size_t four(const OrtCustomOp *op) { (void)op; return 4; }
static size_t six(const OrtCustomOp *op) { (void)op; return 6; }
static OrtCustomOpInputOutputCharacteristic required(const OrtCustomOp *op, size_t i) {
  (void)op, (void)i;
  return INPUT_OUTPUT_REQUIRED;
}
static OrtCustomOpInputOutputCharacteristic fourth_optional(const OrtCustomOp *op, size_t i) {
  (void)op;
  return i == 3 ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
}
static OrtCustomOpInputOutputCharacteristic in_third_optional(const OrtCustomOp *op, size_t i) {
  (void)op;
  return i == 2 ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
}
static OrtCustomOpInputOutputCharacteristic in_fourth_optional(const OrtCustomOp *op, size_t i) {
  (void)op;
  return i == 3 ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
}
static OrtMemType mem(const OrtCustomOp *op, size_t i) {
  (void)op, (void)i;
  return OrtMemTypeDefault;
}
static int arity(const OrtCustomOp *op) { (void)op; return 1; }
static int homogeneous(const OrtCustomOp *op) { (void)op; return 1; }
static int since(const OrtCustomOp *op) { (void)op; return 1; }
static int until(const OrtCustomOp *op) { (void)op; return INT_MAX; }
static void destroy(void *k) { free(k); }

#define OP(NAME, CREATE, COMPUTE, NIN, NOUT, INC, OUTC)                                                         \
  {                                                                                                    \
    .version = ORT_API_VERSION, .GetName = NAME, .GetExecutionProviderType = cpu, .GetInputType = f32, \
    .GetInputTypeCount = NIN, .GetOutputType = f32, .GetOutputTypeCount = NOUT,                        \
    .KernelDestroy = destroy, .GetInputCharacteristic = INC, .GetOutputCharacteristic = OUTC,      \
    .GetInputMemoryType = mem, .GetVariadicInputMinArity = arity,                                      \
    .GetVariadicInputHomogeneity = homogeneous, .GetVariadicOutputMinArity = arity,                    \
    .GetVariadicOutputHomogeneity = homogeneous, .CreateKernelV2 = CREATE, .KernelComputeV2 = COMPUTE, \
    .GetStartVersion = since, .GetEndVersion = until,                                                  \
  }

static const OrtCustomOp ops[] = {
    OP(dw_name, dw_create, dw_compute, two, one, required, required),
    OP(bnr_name, bn_create, bnr_compute, six, four, required, fourth_optional),
    OP(bnf_name, bn_create, bnf_compute, four, three, in_fourth_optional, required),
    OP(conv_name, conv_create, conv_compute, three, one, in_third_optional, required),
    OP(sgd_name, sgd_create, sgd_compute, four, two, required, required),
    OP(sc_name, sc_create, sc_compute, one, one, required, required),
    OP(scg_name, sc_create, scg_compute, one, one, required, required),
};

static char *dupf(const char *format, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, format);
  vsnprintf(msg, sizeof msg, format, ap);
  va_end(ap);
  return strdup(msg);
}

static char *take(OrtStatus *st, const char *what) {
  char *m = dupf("%s: %s", what, api->GetErrorMessage(st));
  api->ReleaseStatus(st);
  return m;
}

// load finds the ORT API of lib and creates the op domain, once.
static char *load(const char *lib) {
  if (domain) return NULL;
  void *h = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
  if (!h) return dupf("%s is not loaded: %s", lib, dlerror());
  const OrtApiBase *(*get)(void) = (const OrtApiBase *(*)(void))dlsym(h, "OrtGetApiBase");
  dlclose(h);  // the library stays loaded: onnxruntime_go holds it
  if (!get) return dupf("%s has no OrtGetApiBase", lib);
  api = get()->GetApi(ORT_API_VERSION);
  if (!api) return dupf("%s has no ORT C API %d", lib, ORT_API_VERSION);
  OrtCustomOpDomain *d;
  OrtStatus *st = api->CreateCustomOpDomain("longtail", &d);
  if (st) return take(st, "create op domain longtail");
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    st = api->CustomOpDomain_Add(d, &ops[i]);
    if (st) {
      api->ReleaseCustomOpDomain(d);
      return take(st, "add custom op");
    }
  }
  domain = d;
  return NULL;
}

char *lt_session_options(const char *lib, void *so, int flags) {
  pthread_mutex_lock(&mu);
  char *err = load(lib);
  OrtStatus *st = NULL;
  if (!err && (flags & LT_NO_MEM_PATTERN)) {
    st = api->DisableMemPattern((OrtSessionOptions *)so);
    if (st) err = take(st, "disable memory pattern");
  }
  if (!err && (flags & LT_CUSTOM_OPS)) {
    st = api->AddCustomOpDomain((OrtSessionOptions *)so, domain);
    if (st) err = take(st, "add op domain longtail");
  }
  pthread_mutex_unlock(&mu);
  return err;
}

void lt_ops_reset(void) {
  pthread_mutex_lock(&mu);
  if (domain) api->ReleaseCustomOpDomain(domain);
  domain = NULL;
  api = NULL;
  pthread_mutex_unlock(&mu);
  lt_scratch_release();
}
