#include "stiffness/nn/pool.hpp"

#include <cmath>
#include <limits>

namespace stiffness {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// One (example, channel) plane at a time: out[r][c] = max of the window at
// (2r, 2c), which[r][c] = its index 0..3 (row-major within the window).
template <typename S>
void pool_forward(const S* x, S* out, uint8_t* which, int64_t planes, int64_t H, int64_t W) {
  const int64_t ho = H / 2, wo = W / 2;
  at::parallel_for(0, planes, 1, [&](int64_t begin, int64_t end) {
    for (int64_t pl = begin; pl < end; ++pl) {
      const S* in = x + pl * H * W;
      S* o = out + pl * ho * wo;
      uint8_t* w = which + pl * ho * wo;
      for (int64_t r = 0; r < ho; ++r)
        for (int64_t c = 0; c < wo; ++c) {
          const S* top = in + 2 * r * W + 2 * c;
          const S v[4] = {top[0], top[1], top[W], top[W + 1]};
          // The update rule of LibTorch's kernel: strictly greater, or NaN.
          S best = -std::numeric_limits<S>::infinity();
          uint8_t at = 0;
          for (uint8_t k = 0; k < 4; ++k)
            if (v[k] > best || std::isnan(v[k])) best = v[k], at = k;
          o[r * wo + c] = best;
          w[r * wo + c] = at;
        }
    }
  });
}

template <typename S>
void pool_backward(const S* g, const uint8_t* which, S* gin, int64_t planes, int64_t H, int64_t W) {
  const int64_t ho = H / 2, wo = W / 2;
  at::parallel_for(0, planes, 1, [&](int64_t begin, int64_t end) {
    for (int64_t pl = begin; pl < end; ++pl) {
      S* gi = gin + pl * H * W;
      const S* go = g + pl * ho * wo;
      const uint8_t* w = which + pl * ho * wo;
      std::fill(gi, gi + H * W, S(0));
      for (int64_t r = 0; r < ho; ++r)
        for (int64_t c = 0; c < wo; ++c) {
          const uint8_t k = w[r * wo + c];
          gi[(2 * r + k / 2) * W + 2 * c + k % 2] = go[r * wo + c];
        }
    }
  });
}

struct MaxPool2x2 : public torch::autograd::Function<MaxPool2x2> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& input) {
    auto x = input.contiguous();
    const int64_t H = x.size(2), W = x.size(3), planes = x.size(0) * x.size(1);
    auto out = torch::empty({x.size(0), x.size(1), H / 2, W / 2}, x.options());
    auto which = torch::empty(out.sizes(), x.options().dtype(torch::kUInt8));
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "max_pool2x2", [&] {
      pool_forward<scalar_t>(x.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), which.data_ptr<uint8_t>(),
                             planes, H, W);
    });
    ctx->save_for_backward({which});
    ctx->saved_data["H"] = H;
    ctx->saved_data["W"] = W;
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto which = ctx->get_saved_variables()[0];
    const int64_t H = ctx->saved_data["H"].toInt(), W = ctx->saved_data["W"].toInt();
    auto g = grads[0].contiguous();
    auto gin = torch::empty({g.size(0), g.size(1), H, W}, g.options());
    AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "max_pool2x2_backward", [&] {
      pool_backward<scalar_t>(g.data_ptr<scalar_t>(), which.data_ptr<uint8_t>(), gin.data_ptr<scalar_t>(),
                              g.size(0) * g.size(1), H, W);
    });
    return {gin};
  }
};

}  // namespace

torch::Tensor max_pool2x2(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4, "max_pool2x2: expected N x C x H x W, got ", x.sizes());
  // The hand-written kernel reads host memory; on a GPU torch's own pooling
  // (same window, same gradient routing) runs on the device.
  if (!x.is_cpu()) return torch::max_pool2d(x, {2, 2});
  return MaxPool2x2::apply(x);
}

}  // namespace stiffness
