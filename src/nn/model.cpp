#include "stiffness/nn/model.hpp"

#include <cmath>

#include "stiffness/config/config.hpp"
#include "stiffness/runtime/error.hpp"
#include "stiffness/nn/pool.hpp"

namespace stiffness {

namespace F = torch::nn::functional;

torch::Tensor NetImpl::taped_linear(const Op& op, torch::nn::Linear l, const std::string& name,
                                    const torch::Tensor& x, Taped* tape) {
  auto y = l->forward(x);
  if (tape) tape->entries.push_back({LayerKind::linear, name, x, y, &op, l->options.bias()});
  return y;
}

// Norm layers compute x-hat without parameters, then the affine map, so that
// x-hat (whose products with delta give the per-example gamma gradients) is
// on the tape. BatchNorm uses batch statistics in training and its running
// statistics in eval mode, which is how it is measured: in training mode it
// would mix examples and per-example gradients would not be defined.
torch::Tensor NetImpl::norm_forward(const Op& op, const torch::Tensor& x, Taped* tape) {
  torch::Tensor xhat, y;
  if (op.norm == NormKind::layer) {
    xhat = torch::layer_norm(x, {x.size(-1)});
    y = xhat * op.weight + op.bias;
  } else {
    if (op.norm == NormKind::group)
      xhat = torch::group_norm(x, op.groups);
    else
      xhat = torch::batch_norm(x, {}, {}, op.running_mean, op.running_var, is_training(), 0.1, 1e-5,
                               false);
    std::vector<int64_t> shape(x.dim(), 1);
    shape[1] = x.size(1);
    y = xhat * op.weight.view(shape) + op.bias.view(shape);
  }
  if (tape) tape->entries.push_back({LayerKind::norm, op.name, xhat, y, &op});
  return y;
}

torch::Tensor NetImpl::forward(torch::Tensor x, Taped* tape) {
  std::vector<torch::Tensor> stack;
  for (auto& op : ops_) {
    switch (op.kind) {
      case OpKind::linear: x = taped_linear(op, op.linear, op.name, x, tape); break;
      case OpKind::conv: {
        // Channels-last on a CPU in float32 for inputs of 3+ channels and
        // 16 x 16+ positions (later layers inherit the format): oneDNN's
        // convolutions there are several times faster than on NCHW for
        // ResNet20's 16-channel 32 x 32 layers (docs/benchmarks.md,
        // "Convolutions"). The
        // CNN's layers (1 channel, then NCHW out of each pooling) gained too
        // little to pay for the conversions. Same convolution, same values up
        // to rounding.
        if (x.is_cpu() && x.scalar_type() == torch::kFloat32 && x.dim() == 4 && x.size(1) >= 3 &&
            x.size(2) * x.size(3) >= 256)
          x = x.contiguous(torch::MemoryFormat::ChannelsLast);
        auto y = op.conv->forward(x);
        if (tape) tape->entries.push_back({LayerKind::conv, op.name, x, y, &op, op.conv->options.bias()});
        x = y;
        break;
      }
      case OpKind::norm: x = norm_forward(op, x, tape); break;
      case OpKind::embedding: {
        auto ids = x.reshape({x.size(0), -1}).to(torch::kInt64);
        auto y = op.embed->forward(ids) + op.positions.slice(0, 0, ids.size(1));
        if (tape) tape->entries.push_back({LayerKind::embedding, op.name, ids, y, &op});
        x = y;
        break;
      }
      case OpKind::attention: {
        const int64_t n = x.size(0), T = x.size(1), d = x.size(2), h = op.heads;
        auto split = [&](const torch::Tensor& t) { return t.view({n, T, h, d / h}).transpose(1, 2); };
        auto q = split(taped_linear(op, op.q, op.name + ".q", x, tape));
        auto k = split(taped_linear(op, op.k, op.name + ".k", x, tape));
        auto v = split(taped_linear(op, op.v, op.name + ".v", x, tape));
        auto att = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(d / h)), -1);
        auto ctx = torch::matmul(att, v).transpose(1, 2).reshape({n, T, d});
        x = taped_linear(op, op.o, op.name + ".o", ctx, tape);
        break;
      }
      case OpKind::relu: x = torch::relu(x); break;
      case OpKind::maxpool2: x = max_pool2x2(x); break;
      case OpKind::avgpool: x = x.mean({2, 3}); break;
      case OpKind::mean_tokens: x = x.mean(1); break;
      case OpKind::flatten: x = x.flatten(1); break;
      case OpKind::save: stack.push_back(x); break;
      case OpKind::add_saved: {
        STIFF_CHECK(!stack.empty(), "model: add_saved without save");
        auto s = stack.back();
        stack.pop_back();
        // ResNet "option A" shortcut: subsample and zero-pad the channels
        // when a stage halves the resolution and doubles the width.
        if (s.dim() == 4 && s.size(2) != x.size(2))
          s = s.slice(2, 0, s.size(2), 2).slice(3, 0, s.size(3), 2);
        if (s.dim() == 4 && s.size(1) != x.size(1)) {
          const int64_t extra = x.size(1) - s.size(1);
          s = F::pad(s, F::PadFuncOptions({0, 0, 0, 0, extra / 2, extra - extra / 2}));
        }
        x = x + s;
        break;
      }
      case OpKind::script: x = op.script->forward({x}).toTensor(); break;
    }
  }
  return x;
}

int64_t NetImpl::num_params() {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

bool NetImpl::needs_loop() const {
  for (const auto& op : ops_)
    if (op.kind == OpKind::script) return true;
  return false;
}

bool NetImpl::has_batch_norm() const {
  for (const auto& op : ops_)
    if (op.kind == OpKind::norm && op.norm == NormKind::batch) return true;
  return false;
}

std::vector<torch::Tensor> NetImpl::buffers_to_sync() {
  std::vector<torch::Tensor> b;
  for (auto& op : ops_)
    if (op.kind == OpKind::norm && op.norm == NormKind::batch) {
      b.push_back(op.running_mean);
      b.push_back(op.running_var);
    }
  return b;
}

void NetImpl::add(OpKind k) {
  Op op;
  op.kind = k;
  ops_.push_back(op);
}

void NetImpl::add_linear(const std::string& name, int64_t in, int64_t out) {
  Op op;
  op.kind = OpKind::linear;
  op.name = name;
  op.linear = register_module(name, torch::nn::Linear(in, out));
  ops_.push_back(op);
}

void NetImpl::add_conv(const std::string& name, int64_t in, int64_t out, int64_t k, int64_t stride,
                       int64_t pad, bool bias) {
  Op op;
  op.kind = OpKind::conv;
  op.name = name;
  op.kernel = k, op.stride = stride, op.pad = pad;
  op.conv = register_module(
      name, torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(bias)));
  ops_.push_back(op);
}

void NetImpl::add_norm(const std::string& name, NormKind kind, int64_t channels, int64_t groups) {
  Op op;
  op.kind = OpKind::norm;
  op.name = name;
  op.norm = kind;
  op.groups = groups;
  STIFF_CHECK(kind != NormKind::group || channels % groups == 0,
              "--norm-groups: " + std::to_string(groups) + " does not divide " + std::to_string(channels) +
                  " channels of " + name);
  // Parameter names cannot contain '.', so nested names use '_'.
  std::string flat = name;
  for (auto& ch : flat)
    if (ch == '.') ch = '_';
  op.weight = register_parameter(flat + "_weight", torch::ones({channels}));
  op.bias = register_parameter(flat + "_bias", torch::zeros({channels}));
  if (kind == NormKind::batch) {
    op.running_mean = register_buffer(flat + "_running_mean", torch::zeros({channels}));
    op.running_var = register_buffer(flat + "_running_var", torch::ones({channels}));
  }
  ops_.push_back(op);
}

void NetImpl::add_embedding(const std::string& name, int64_t vocab, int64_t dim, int64_t max_len) {
  Op op;
  op.kind = OpKind::embedding;
  op.name = name;
  op.embed = register_module(name, torch::nn::Embedding(vocab, dim));
  op.positions = register_parameter(name + "_positions", torch::randn({max_len, dim}) * 0.02);
  ops_.push_back(op);
}

void NetImpl::add_attention(const std::string& name, int64_t dim, int64_t heads) {
  STIFF_CHECK(dim % heads == 0, "--heads: " + std::to_string(heads) + " does not divide --embed-dim " +
                                    std::to_string(dim));
  Op op;
  op.kind = OpKind::attention;
  op.name = name;
  op.heads = heads;
  op.q = register_module(name + "_q", torch::nn::Linear(dim, dim));
  op.k = register_module(name + "_k", torch::nn::Linear(dim, dim));
  op.v = register_module(name + "_v", torch::nn::Linear(dim, dim));
  op.o = register_module(name + "_o", torch::nn::Linear(dim, dim));
  ops_.push_back(op);
}

void NetImpl::add_script(const std::string& path) {
  Op op;
  op.kind = OpKind::script;
  op.name = "script";
  try {
    op.script = std::make_shared<torch::jit::Module>(torch::jit::load(path));
  } catch (const std::exception& e) {
    std::string what = e.what();
    STIFF_THROW("--script: cannot load TorchScript module '" + path + "': " + what.substr(0, what.find('\n')));
  }
  // Its parameters become ours (same tensors), so the optimiser, the
  // all-reduce, checkpoints and the output file see them.
  for (const auto& p : op.script->named_parameters(/*recurse=*/true)) {
    std::string flat = "script_" + p.name;
    for (auto& ch : flat)
      if (ch == '.') ch = '_';
    register_parameter(flat, p.value);
  }
  ops_.push_back(op);
}

torch::Dtype dtype_of(const Config& c) {
  return c.dtype == Precision::float64 ? torch::kFloat64 : torch::kFloat32;
}

namespace {

void build_mlp(NetImpl& net, const Config& c, int64_t in, int64_t classes) {
  // Fully connected ReLU network (paper: 500-300-100).
  net.add(OpKind::flatten);
  for (size_t i = 0; i < c.widths.size(); ++i) {
    net.add_linear("fc" + std::to_string(i + 1), in, c.widths[i]);
    net.add(OpKind::relu);
    in = c.widths[i];
  }
  net.add_linear("fc" + std::to_string(c.widths.size() + 1), in, classes);
}

void build_cnn(NetImpl& net, const Config& c, int64_t in, int64_t h, int64_t w, int64_t classes) {
  // Paper's CNN: 3x3 convolutions ('same' padding), each followed by ReLU
  // and 2x2 max-pooling, then one dense layer. Pooling runs before the ReLU:
  // max and ReLU commute exactly (values and gradients, ties included), and
  // the ReLU then touches a quarter of the numbers.
  const int64_t height = h, width = w;
  for (size_t i = 0; i < c.channels.size(); ++i) {
    net.add_conv("conv" + std::to_string(i + 1), in, c.channels[i], 3, 1, 1);
    net.add(OpKind::maxpool2);
    net.add(OpKind::relu);
    in = c.channels[i];
    h /= 2, w /= 2;
    STIFF_CHECK(h >= 1 && w >= 1, "--channels: too many pooling layers for " + std::to_string(height) +
                                      "x" + std::to_string(width) + " inputs");
  }
  net.add(OpKind::flatten);
  net.add_linear("fc", in * h * w, classes);
}

// ResNet20 v1 (He et al. 2016, CIFAR variant): a 3x3 conv, three stages of
// three basic blocks (16, 32, 64 channels; stride 2 entering stages 2 and 3),
// parameter-free "option A" shortcuts, global average pooling, one dense
// layer. As in the paper, without BatchNorm by default.
void build_resnet20(NetImpl& net, const Config& c, int64_t in, int64_t classes) {
  const bool norm = c.norm != Norm::none;
  const NormKind nk = c.norm == Norm::batch ? NormKind::batch : NormKind::group;
  auto conv_norm = [&](const std::string& name, int64_t cin, int64_t cout, int64_t stride) {
    net.add_conv(name, cin, cout, 3, stride, 1, /*bias=*/!norm);
    if (norm) net.add_norm(name + "_norm", nk, cout, std::min<int64_t>(c.norm_groups, cout));
  };
  conv_norm("conv1", in, 16, 1);
  net.add(OpKind::relu);
  int64_t ch = 16;
  for (int s = 0; s < 3; ++s) {
    const int64_t out = 16 << s;
    for (int b = 0; b < 3; ++b) {
      const std::string name = "s" + std::to_string(s + 1) + "b" + std::to_string(b + 1);
      net.add(OpKind::save);
      conv_norm(name + "_conv1", ch, out, (s > 0 && b == 0) ? 2 : 1);
      net.add(OpKind::relu);
      conv_norm(name + "_conv2", out, out, 1);
      net.add(OpKind::add_saved);
      net.add(OpKind::relu);
      ch = out;
    }
  }
  net.add(OpKind::avgpool);
  net.add_linear("fc", ch, classes);
}

// A small pre-norm transformer encoder over token ids (inputs of shape
// 1 x 1 x L hold the ids as exact floats): embedding + learned positions,
// `layers` blocks of self-attention and a ReLU MLP with residuals, a final
// LayerNorm, the mean over tokens, one dense layer.
void build_transformer(NetImpl& net, const Config& c, int64_t len, int64_t classes) {
  STIFF_CHECK(c.vocab_size > 0, "--vocab-size: the transformer needs the number of token ids (> 0)");
  const int64_t d = c.embed_dim;
  net.add_embedding("embed", c.vocab_size, d, len);
  for (int64_t l = 0; l < c.layers; ++l) {
    const std::string p = "layer" + std::to_string(l + 1);
    net.add(OpKind::save);
    net.add_norm(p + "_ln1", NormKind::layer, d);
    net.add_attention(p + "_attn", d, c.heads);
    net.add(OpKind::add_saved);
    net.add(OpKind::save);
    net.add_norm(p + "_ln2", NormKind::layer, d);
    net.add_linear(p + "_mlp1", d, 2 * d);
    net.add(OpKind::relu);
    net.add_linear(p + "_mlp2", 2 * d, d);
    net.add(OpKind::add_saved);
  }
  net.add_norm("ln_final", NormKind::layer, d);
  net.add(OpKind::mean_tokens);
  net.add_linear("fc", d, classes);
}

}  // namespace

Net build_model(const Config& c, int64_t channels, int64_t height, int64_t width, int64_t classes) {
  Net net;
  switch (c.model) {
    case Model::mlp: build_mlp(*net, c, channels * height * width, classes); break;
    case Model::cnn: build_cnn(*net, c, channels, height, width, classes); break;
    case Model::resnet20: build_resnet20(*net, c, channels, classes); break;
    case Model::transformer: build_transformer(*net, c, channels * height * width, classes); break;
    case Model::torchscript: net->add_script(c.script); break;
  }
  net->to(dtype_of(c));
  return net;
}

std::string describe_model(Net& net, const Config& c, int64_t in_features) {
  std::string s = to_string(c.model) + " ";
  if (c.model == Model::mlp) {
    s += std::to_string(in_features);
    for (auto w : c.widths) s += "-" + std::to_string(w);
    s += "-" + std::to_string(c.num_classes);
  } else if (c.model == Model::cnn) {
    s += "conv";
    for (auto w : c.channels) s += "-" + std::to_string(w);
    s += ", dense-" + std::to_string(c.num_classes);
  } else if (c.model == Model::resnet20) {
    s += "v1, norm " + to_string(c.norm) + (c.norm == Norm::batch ? " (measured with running statistics)" : "");
  } else if (c.model == Model::transformer) {
    s += std::to_string(c.layers) + " layers, dim " + std::to_string(c.embed_dim) + ", " +
         std::to_string(c.heads) + " heads, vocab " + std::to_string(c.vocab_size);
  } else {
    s += c.script;
  }
  s += ", " + std::to_string(net->num_params()) + " parameters, " + to_string(c.dtype);
  return s;
}

}  // namespace stiffness
