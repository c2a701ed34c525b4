// oneDNN convolution forward and backward-weights timings on ResNet-32's
// stride-1 3x3 layers at batch 128, in plain NCHW/OIHW memory ("nchw", what
// an ORT custom op receives) and in the primitive's preferred layouts ("any",
// with the NCHW reorders in and out of the forward timed apart). A yardstick
// for longtail's own kernels (go test -run '^$' -bench 'Conv3x3|WeightGrad'
// ./graphs); the project does not use oneDNN.
//
//   apt-get install libdnnl-dev
//   g++ -O2 -o /tmp/dnnl-bench scripts/dnnl-bench.cpp -ldnnl && OMP_NUM_THREADS=2 /tmp/dnnl-bench
#include <dnnl.hpp>
#include <chrono>
#include <cstdio>
#include <vector>
using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

static double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

int main() {
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  struct L { int ci, co, h; } ls[] = {{16, 16, 32}, {32, 32, 16}, {64, 64, 8}};
  for (auto l : ls) {
    for (int any = 0; any < 2; any++) {
      const int n = 128;
      memory::dims src{n, l.ci, l.h, l.h}, wei{l.co, l.ci, 3, 3}, dst{n, l.co, l.h, l.h};
      memory::dims st{1, 1}, pad{1, 1};
      tag t = any ? tag::any : tag::nchw, tw = any ? tag::any : tag::oihw;
      auto sd = memory::desc(src, dt::f32, t), wd = memory::desc(wei, dt::f32, tw), dd = memory::desc(dst, dt::f32, t);
      auto fd = convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, sd, wd, dd, st, pad, pad);
      auto fpd = convolution_forward::primitive_desc(fd, eng);
      auto bd = convolution_backward_weights::desc(algorithm::convolution_direct, sd, wd, dd, st, pad, pad);
      auto bpd = convolution_backward_weights::primitive_desc(bd, eng, fpd);
      memory xs(fpd.src_desc(), eng), ws(fpd.weights_desc(), eng), ys(fpd.dst_desc(), eng);
      memory bxs(bpd.src_desc(), eng), bdw(bpd.diff_weights_desc(), eng), bdy(bpd.diff_dst_desc(), eng);
      for (auto *m : {&xs, &ws, &ys, &bxs, &bdw, &bdy}) {
        float *p = (float *)m->get_data_handle();
        size_t cnt = m->get_desc().get_size() / 4;
        for (size_t i = 0; i < cnt; i++) p[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
      }
      convolution_forward f(fpd);
      convolution_backward_weights b(bpd);
      double flops = 2.0 * n * l.ci * l.co * 9 * l.h * l.h;
      for (int pass = 0; pass < 2; pass++) {
        const int reps = 20;
        f.execute(s, {{DNNL_ARG_SRC, xs}, {DNNL_ARG_WEIGHTS, ws}, {DNNL_ARG_DST, ys}});
        s.wait();
        double t0 = now();
        for (int r = 0; r < reps; r++) f.execute(s, {{DNNL_ARG_SRC, xs}, {DNNL_ARG_WEIGHTS, ws}, {DNNL_ARG_DST, ys}});
        s.wait();
        double tf = (now() - t0) / reps;
        b.execute(s, {{DNNL_ARG_SRC, bxs}, {DNNL_ARG_DIFF_DST, bdy}, {DNNL_ARG_DIFF_WEIGHTS, bdw}});
        s.wait();
        t0 = now();
        for (int r = 0; r < reps; r++) b.execute(s, {{DNNL_ARG_SRC, bxs}, {DNNL_ARG_DIFF_DST, bdy}, {DNNL_ARG_DIFF_WEIGHTS, bdw}});
        s.wait();
        double tb = (now() - t0) / reps;
        double tr = 0;
        if (any) {
          memory xn({src, dt::f32, tag::nchw}, eng), yn({dst, dt::f32, tag::nchw}, eng);
          reorder r1(xn, xs), r2(ys, yn);
          r1.execute(s, xn, xs); r2.execute(s, ys, yn); s.wait();
          t0 = now();
          for (int r = 0; r < reps; r++) { r1.execute(s, xn, xs); r2.execute(s, ys, yn); }
          s.wait();
          tr = (now() - t0) / reps;
        }
        if (pass == 1 && any) printf("  reorders in and out around fwd: %.2f ms\n", tr * 1e3);
        if (pass == 1)
          printf("%dx%d@%d %s: fwd %.2f ms (%.0f GFLOP/s, %s)  dW %.2f ms (%.0f GFLOP/s, %s)\n", l.ci, l.co, l.h, any ? "any " : "nchw", tf * 1e3,
                 flops / tf / 1e9, fpd.impl_info_str(), tb * 1e3, flops / tb / 1e9, bpd.impl_info_str());
      }
    }
  }
}
