#include "stiffness/nn/model.hpp"

#include "stiffness/config.hpp"
#include "stiffness/error.hpp"

namespace stiffness {

torch::Tensor NetImpl::forward(torch::Tensor x, Taped* tape) {
  for (auto& op : ops_) {
    switch (op.kind) {
      case OpKind::linear:
      case OpKind::conv: {
        if (tape) tape->inputs.push_back(x);
        x = op.kind == OpKind::linear ? op.linear->forward(x) : op.conv->forward(x);
        if (tape) tape->outputs.push_back(x);
        break;
      }
      case OpKind::relu: x = torch::relu(x); break;
      case OpKind::maxpool2: x = torch::max_pool2d(x, 2); break;
      case OpKind::flatten: x = x.flatten(1); break;
    }
  }
  return x;
}

std::vector<size_t> NetImpl::param_ops() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < ops_.size(); ++i)
    if (ops_[i].kind == OpKind::linear || ops_[i].kind == OpKind::conv) out.push_back(i);
  return out;
}

int64_t NetImpl::num_params() {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

void NetImpl::add_linear(const std::string& name, int64_t in, int64_t out) {
  Op op{OpKind::linear, register_module(name, torch::nn::Linear(in, out)), nullptr, name, 0, 1, 0};
  ops_.push_back(op);
}

void NetImpl::add_conv(const std::string& name, int64_t in, int64_t out, int64_t k, int64_t stride,
                       int64_t pad) {
  auto opts = torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(pad);
  Op op{OpKind::conv, nullptr, register_module(name, torch::nn::Conv2d(opts)), name, k, stride, pad};
  ops_.push_back(op);
}

torch::Dtype dtype_of(const Config& c) {
  return c.dtype == "float64" ? torch::kFloat64 : torch::kFloat32;
}

Net build_model(const Config& c, int64_t channels, int64_t height, int64_t width, int64_t classes) {
  Net net;
  if (c.model == "mlp") {
    // Fully connected ReLU network (paper: 500-300-100).
    net->add(OpKind::flatten);
    int64_t in = channels * height * width;
    for (size_t i = 0; i < c.widths.size(); ++i) {
      net->add_linear("fc" + std::to_string(i + 1), in, c.widths[i]);
      net->add(OpKind::relu);
      in = c.widths[i];
    }
    net->add_linear("fc" + std::to_string(c.widths.size() + 1), in, classes);
  } else if (c.model == "cnn") {
    // Paper's CNN: 3x3 convolutions ('same' padding), each followed by ReLU
    // and 2x2 max-pooling, then one dense layer.
    int64_t in = channels, h = height, w = width;
    for (size_t i = 0; i < c.channels.size(); ++i) {
      net->add_conv("conv" + std::to_string(i + 1), in, c.channels[i], 3, 1, 1);
      net->add(OpKind::relu);
      net->add(OpKind::maxpool2);
      in = c.channels[i];
      h /= 2, w /= 2;
      STIFF_CHECK(h >= 1 && w >= 1, "--channels: too many pooling layers for " +
                                        std::to_string(height) + "x" + std::to_string(width) + " inputs");
    }
    net->add(OpKind::flatten);
    net->add_linear("fc", in * h * w, classes);
  } else {
    STIFF_THROW("--model: unknown model '" + c.model + "', expected mlp or cnn");
  }
  net->to(dtype_of(c));
  return net;
}

std::string describe_model(Net& net, const Config& c, int64_t in_features) {
  std::string s = c.model + " ";
  if (c.model == "mlp") {
    s += std::to_string(in_features);
    for (auto w : c.widths) s += "-" + std::to_string(w);
    s += "-" + std::to_string(c.num_classes);
  } else {
    s += "conv";
    for (auto w : c.channels) s += "-" + std::to_string(w);
    s += ", dense-" + std::to_string(c.num_classes);
  }
  s += ", " + std::to_string(net->num_params()) + " parameters, " + c.dtype;
  return s;
}

}  // namespace stiffness
