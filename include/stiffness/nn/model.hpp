// The models as a flat sequence of operations (with a stack for residual
// connections), so that the per-example gradient code sees every
// parametrised layer's input and output: the factors a and delta of
// docs/metrics.md. Models: the paper's MLP and CNN, ResNet20 v1 (no norm,
// GroupNorm, or BatchNorm measured with running statistics), a small
// transformer encoder classifier, and any TorchScript module (measured with
// the generic per-example loop).
#pragma once

#include <torch/script.h>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace stiffness {

struct Config;

enum class OpKind {
  linear,      // y = W x + b over the last dim (any leading positions)
  conv,        // 2-D convolution
  norm,        // group / batch / layer norm with affine parameters
  embedding,   // token ids -> vectors (plus learned positions)
  attention,   // multi-head self-attention (four taped linear maps)
  relu,
  maxpool2,
  avgpool,     // global average over H, W
  mean_tokens, // mean over the sequence
  flatten,
  save,        // push the current activation (residual start)
  add_saved,   // pop and add, with the ResNet "option A" shortcut
  script       // a TorchScript module
};

enum class NormKind { group, batch, layer };

// What a parametrised layer is, for the per-example gradient code.
enum class LayerKind { linear, conv, norm, embedding };

struct Op {
  OpKind kind = OpKind::relu;
  std::string name;  // parameter prefix, e.g. "fc1" or "stage2.block1.conv1"
  torch::nn::Linear linear{nullptr};
  torch::nn::Conv2d conv{nullptr};
  // Convolution geometry, kept here because the options' padding type
  // differs between LibTorch 1.13 and 2.x.
  int64_t kernel = 0, stride = 1, pad = 0;
  // norm: kind, groups (group norm), and its parameters/buffers
  NormKind norm = NormKind::group;
  int64_t groups = 1;
  torch::Tensor weight, bias, running_mean, running_var;
  // embedding / attention
  torch::nn::Embedding embed{nullptr};
  torch::Tensor positions;  // (max_len, d)
  torch::nn::Linear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr};
  int64_t heads = 1;
  std::shared_ptr<torch::jit::Module> script;
};

// One parametrised layer as seen in one forward pass.
struct TapeEntry {
  LayerKind kind;
  std::string name;
  torch::Tensor input;   // linear/conv: layer input; norm: normalised x-hat; embedding: token ids
  torch::Tensor output;  // the layer output (in the graph: d loss / d output is delta)
  const Op* op = nullptr;
  bool bias = false;     // linear/conv: the layer adds a bias (a column of ones in A)
};

struct Taped {
  std::vector<TapeEntry> entries;
};

class NetImpl : public torch::nn::Module {
 public:
  NetImpl() = default;
  torch::Tensor forward(torch::Tensor x, Taped* tape = nullptr);
  const std::vector<Op>& ops() const { return ops_; }
  int64_t num_params();
  // True when some parameters are not in taped layers (TorchScript): only
  // the generic per-example loop can measure such a model.
  bool needs_loop() const;
  bool has_batch_norm() const;
  // Averages BatchNorm running statistics over ranks (kept identical).
  std::vector<torch::Tensor> buffers_to_sync();

  void add_linear(const std::string& name, int64_t in, int64_t out);
  void add_conv(const std::string& name, int64_t in, int64_t out, int64_t k, int64_t stride,
                int64_t pad, bool bias = true);
  void add_norm(const std::string& name, NormKind kind, int64_t channels, int64_t groups = 1);
  void add_embedding(const std::string& name, int64_t vocab, int64_t dim, int64_t max_len);
  void add_attention(const std::string& name, int64_t dim, int64_t heads);
  void add_script(const std::string& path);
  void add(OpKind k);

 private:
  torch::Tensor taped_linear(const Op& op, torch::nn::Linear l, const std::string& name,
                             const torch::Tensor& x, Taped* tape);
  torch::Tensor norm_forward(const Op& op, const torch::Tensor& x, Taped* tape);
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
