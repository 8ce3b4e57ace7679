#include "nn/onednn_linear.h"

#include <map>
#include <tuple>

#include <oneapi/dnnl/dnnl.hpp>

#include "common/error.h"

namespace perpetua {
namespace {

using Key = std::tuple<int64_t, int64_t, int64_t, bool, bool>;  // rows, in, out, bias, relu

struct Primitives {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::map<Key, dnnl::matmul> matmuls;
};

Primitives& ThreadPrimitives() {
  thread_local Primitives primitives;
  return primitives;
}

dnnl::memory::desc Plain(int64_t rows, int64_t cols, dnnl::memory::format_tag tag) {
  return dnnl::memory::desc({rows, cols}, dnnl::memory::data_type::f32, tag);
}

}  // namespace

bool OneDnnLinearUsable(const torch::Tensor& x) {
  return x.is_cpu() && x.scalar_type() == torch::kFloat32 && !torch::GradMode::is_enabled() && at::hasMKLDNN() &&
         at::globalContext().userEnabledMkldnn();
}

torch::Tensor OneDnnLinear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias, bool relu,
                           torch::Tensor out) {
  PERPETUA_CHECK(x.dim() == 2 && weight.dim() == 2 && x.size(1) == weight.size(1));
  PERPETUA_CHECK(x.is_contiguous() && weight.is_contiguous() && x.scalar_type() == torch::kFloat32 &&
                 weight.scalar_type() == torch::kFloat32);
  const int64_t rows = x.size(0), in = x.size(1), n = weight.size(0);
  const bool has_bias = bias.defined();
  if (has_bias) PERPETUA_CHECK(bias.is_contiguous() && bias.numel() == n && bias.scalar_type() == torch::kFloat32);
  if (out.defined()) {
    PERPETUA_CHECK(out.is_contiguous() && out.size(0) == rows && out.size(1) == n && out.scalar_type() == torch::kFloat32);
  } else {
    out = torch::empty({rows, n}, x.options());
  }
  if (rows == 0) return out;
  using tag = dnnl::memory::format_tag;
  Primitives& p = ThreadPrimitives();
  const Key key{rows, in, n, has_bias, relu};
  auto it = p.matmuls.find(key);
  if (it == p.matmuls.end()) {
    // weight [N,K] row-major is the matmul's [K,N] weights in "ba" order.
    const dnnl::memory::desc bias_desc = has_bias ? Plain(1, n, tag::ab) : dnnl::memory::desc();
    dnnl::primitive_attr attr;
    if (relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      attr.set_post_ops(ops);
    }
    const dnnl::matmul::desc desc(Plain(rows, in, tag::ab), Plain(in, n, tag::ba), bias_desc, Plain(rows, n, tag::ab));
    it = p.matmuls.emplace(key, dnnl::matmul(dnnl::matmul::primitive_desc(desc, attr, p.engine))).first;
  }
  std::unordered_map<int, dnnl::memory> args = {
      {DNNL_ARG_SRC, dnnl::memory(Plain(rows, in, tag::ab), p.engine, x.data_ptr<float>())},
      {DNNL_ARG_WEIGHTS, dnnl::memory(Plain(in, n, tag::ba), p.engine, weight.data_ptr<float>())},
      {DNNL_ARG_DST, dnnl::memory(Plain(rows, n, tag::ab), p.engine, out.data_ptr<float>())}};
  if (has_bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(Plain(1, n, tag::ab), p.engine, bias.data_ptr<float>()));
  it->second.execute(p.stream, args);
  p.stream.wait();
  return out;
}

}  // namespace perpetua
