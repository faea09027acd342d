// The paper's models as a flat sequence of operations, so that the
// per-example gradient code can see every parametrised layer's input and
// output (the factors a and delta of docs/metrics.md).
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace stiffness {

struct Config;

enum class OpKind { linear, conv, relu, maxpool2, flatten };

struct Op {
  OpKind kind;
  torch::nn::Linear linear{nullptr};
  torch::nn::Conv2d conv{nullptr};
  std::string name;  // parameter prefix, e.g. "fc1" or "conv2"
  // Convolution geometry, kept here because the options' padding type
  // differs between LibTorch 1.13 and 2.x.
  int64_t kernel = 0, stride = 1, pad = 0;
};

// What one forward pass records for each parametrised layer when asked:
// its input and its output (the output is part of the graph, so autograd can
// give d loss / d output per example).
struct Taped {
  std::vector<torch::Tensor> inputs;
  std::vector<torch::Tensor> outputs;
};

class NetImpl : public torch::nn::Module {
 public:
  NetImpl() = default;
  torch::Tensor forward(torch::Tensor x, Taped* tape = nullptr);
  const std::vector<Op>& ops() const { return ops_; }
  // Indices into ops() of the layers with parameters, in forward order.
  std::vector<size_t> param_ops() const;
  int64_t num_params();
  void add_linear(const std::string& name, int64_t in, int64_t out);
  void add_conv(const std::string& name, int64_t in, int64_t out, int64_t k, int64_t stride,
                int64_t pad);
  void add(OpKind k) { ops_.push_back({k, nullptr, nullptr, "", 0, 1, 0}); }

 private:
  std::vector<Op> ops_;
};
TORCH_MODULE(Net);

// Builds the configured model for inputs of shape (C, H, W) and `classes`
// outputs, initialised from torch's global generator (seed it first).
Net build_model(const Config& c, int64_t channels, int64_t height, int64_t width, int64_t classes);

// One-line description of the model ("mlp 784-500-300-100-10, 573910 parameters").
std::string describe_model(Net& net, const Config& c, int64_t in_features);

torch::Dtype dtype_of(const Config& c);

}  // namespace stiffness
