#include "nn/onednn_layers.h"

#include <map>
#include <tuple>

#include <oneapi/dnnl/dnnl.hpp>

#include "common/error.h"

namespace perpetua {
namespace {

using tag = dnnl::memory::format_tag;
// A primitive splits its work for the threads there are when it is built,
// so the thread count is part of every key.
using LinearKey = std::tuple<int, int64_t, int64_t, int64_t, bool, bool>;  // threads, rows, in, out, bias, relu
// threads, batch, in channels, height, width, out channels, kernel h, kernel w, stride, padding, bias
using ConvKey = std::tuple<int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool>;

struct Conv {
  dnnl::convolution_forward primitive;
  dnnl::reorder weight_reorder;  // torch's oihw weights into the primitive's layout
  dnnl::memory weights;          // that layout's buffer, refilled per call
};

struct Primitives {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::map<LinearKey, dnnl::matmul> matmuls;
  std::map<ConvKey, Conv> convs;
};

Primitives& ThreadPrimitives() {
  thread_local Primitives primitives;
  return primitives;
}

dnnl::memory::desc Desc(const dnnl::memory::dims& dims, tag t) {
  return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, t);
}

dnnl::primitive_attr ReluAttr(bool relu) {
  dnnl::primitive_attr attr;
  if (relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    attr.set_post_ops(ops);
  }
  return attr;
}

void CheckFloat(const torch::Tensor& t) {
  PERPETUA_CHECK(t.is_cpu() && t.scalar_type() == torch::kFloat32 && t.is_contiguous());
}

}  // namespace

bool OneDnnUsable(const torch::Tensor& x) {
  return x.is_cpu() && x.scalar_type() == torch::kFloat32 && !torch::GradMode::is_enabled() && at::hasMKLDNN() &&
         at::globalContext().userEnabledMkldnn();
}

torch::Tensor OneDnnLinear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias, bool relu,
                           torch::Tensor out) {
  PERPETUA_CHECK(x.dim() == 2 && weight.dim() == 2 && x.size(1) == weight.size(1));
  CheckFloat(x);
  CheckFloat(weight);
  const int64_t rows = x.size(0), in = x.size(1), n = weight.size(0);
  const bool has_bias = bias.defined();
  if (has_bias) {
    CheckFloat(bias);
    PERPETUA_CHECK(bias.numel() == n);
  }
  if (out.defined()) {
    CheckFloat(out);
    PERPETUA_CHECK(out.dim() == 2 && out.size(0) == rows && out.size(1) == n);
  } else {
    out = torch::empty({rows, n}, x.options());
  }
  if (rows == 0) return out;
  Primitives& p = ThreadPrimitives();
  const LinearKey key{at::get_num_threads(), rows, in, n, has_bias, relu};
  auto it = p.matmuls.find(key);
  if (it == p.matmuls.end()) {
    // weight [N,K] row-major is the matmul's [K,N] weights in "ba" order.
    const dnnl::matmul::desc desc(Desc({rows, in}, tag::ab), Desc({in, n}, tag::ba),
                                  has_bias ? Desc({1, n}, tag::ab) : dnnl::memory::desc(), Desc({rows, n}, tag::ab));
    it = p.matmuls.emplace(key, dnnl::matmul(dnnl::matmul::primitive_desc(desc, ReluAttr(relu), p.engine))).first;
  }
  std::unordered_map<int, dnnl::memory> args = {
      {DNNL_ARG_SRC, dnnl::memory(Desc({rows, in}, tag::ab), p.engine, x.data_ptr<float>())},
      {DNNL_ARG_WEIGHTS, dnnl::memory(Desc({in, n}, tag::ba), p.engine, weight.data_ptr<float>())},
      {DNNL_ARG_DST, dnnl::memory(Desc({rows, n}, tag::ab), p.engine, out.data_ptr<float>())}};
  if (has_bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(Desc({1, n}, tag::ab), p.engine, bias.data_ptr<float>()));
  it->second.execute(p.stream, args);
  p.stream.wait();
  return out;
}

torch::Tensor OneDnnConvRelu(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                             int64_t stride, int64_t padding) {
  PERPETUA_CHECK(x.dim() == 4 && weight.dim() == 4 && x.size(1) == weight.size(1) && stride >= 1 && padding >= 0);
  CheckFloat(weight);
  const bool has_bias = bias.defined();
  if (has_bias) {
    CheckFloat(bias);
    PERPETUA_CHECK(bias.numel() == weight.size(0));
  }
  const torch::Tensor src = x.contiguous(at::MemoryFormat::ChannelsLast);
  PERPETUA_CHECK(src.is_cpu() && src.scalar_type() == torch::kFloat32);
  const int64_t n = src.size(0), c = src.size(1), h = src.size(2), w = src.size(3);
  const int64_t o = weight.size(0), kh = weight.size(2), kw = weight.size(3);
  const int64_t oh = (h + 2 * padding - kh) / stride + 1, ow = (w + 2 * padding - kw) / stride + 1;
  PERPETUA_CHECK(oh > 0 && ow > 0);
  torch::Tensor out = torch::empty({n, oh, ow, o}, src.options()).permute({0, 3, 1, 2});
  if (n == 0) return out;
  Primitives& p = ThreadPrimitives();
  const ConvKey key{at::get_num_threads(), n, c, h, w, o, kh, kw, stride, padding, has_bias};
  auto it = p.convs.find(key);
  if (it == p.convs.end()) {
    const dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, Desc({n, c, h, w}, tag::nhwc),
        Desc({o, c, kh, kw}, tag::any), has_bias ? Desc({o}, tag::a) : dnnl::memory::desc(),
        Desc({n, o, oh, ow}, tag::nhwc), {stride, stride}, {padding, padding}, {padding, padding});
    dnnl::convolution_forward::primitive_desc pd(desc, ReluAttr(true), p.engine);
    dnnl::memory weights(pd.weights_desc(), p.engine);
    dnnl::reorder reorder(dnnl::memory(Desc({o, c, kh, kw}, tag::oihw), p.engine), weights);
    it = p.convs.emplace(key, Conv{dnnl::convolution_forward(pd), reorder, weights}).first;
  }
  Conv& conv = it->second;
  dnnl::memory torch_weights(Desc({o, c, kh, kw}, tag::oihw), p.engine, weight.data_ptr<float>());
  conv.weight_reorder.execute(p.stream, torch_weights, conv.weights);
  std::unordered_map<int, dnnl::memory> args = {
      {DNNL_ARG_SRC, dnnl::memory(Desc({n, c, h, w}, tag::nhwc), p.engine, src.data_ptr<float>())},
      {DNNL_ARG_WEIGHTS, conv.weights},
      {DNNL_ARG_DST, dnnl::memory(Desc({n, o, oh, ow}, tag::nhwc), p.engine, out.data_ptr<float>())}};
  if (has_bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(Desc({o}, tag::a), p.engine, bias.data_ptr<float>()));
  conv.primitive.execute(p.stream, args);
  p.stream.wait();
  return out;
}

}  // namespace perpetua
