#include "stiffness/nn/train.hpp"

#include <cmath>
#include <random>

#include "stiffness/runtime/error.hpp"
#include "stiffness/analysis/tiling.hpp"

namespace stiffness {

namespace {

DType comm_dtype(const torch::Tensor& t) {
  return t.scalar_type() == torch::kFloat64 ? DType::f64 : DType::f32;
}

// All parameters (or their gradients) as one contiguous buffer: one
// collective call instead of one per tensor.
torch::Tensor flatten(const std::vector<torch::Tensor>& ts) {
  std::vector<torch::Tensor> flat;
  for (const auto& t : ts) flat.push_back(t.reshape({-1}));
  return torch::cat(flat).contiguous();
}

void unflatten_into(const torch::Tensor& flat, std::vector<torch::Tensor>& ts) {
  int64_t off = 0;
  for (auto& t : ts) {
    t.copy_(flat.slice(0, off, off + t.numel()).view(t.sizes()));
    off += t.numel();
  }
}

}  // namespace

TensorData to_tensors(const ImageSet& set, torch::Dtype dtype, int64_t limit, torch::Device device) {
  const int64_t n = limit > 0 ? std::min(limit, set.n) : set.n;
  auto x = torch::from_blob(const_cast<float*>(set.pixels.data()),
                            {n, set.channels, set.height, set.width}, torch::kFloat32)
               .to(device, dtype, /*non_blocking=*/false, /*copy=*/true);
  auto y = torch::from_blob(const_cast<int64_t*>(set.labels.data()), {n}, torch::kInt64)
               .to(device, torch::kInt64, false, /*copy=*/true);
  return {x, y};
}

void broadcast_parameters(Net& net, Communicator& comm) {
  torch::NoGradGuard no_grad;
  auto params = net->parameters();
  auto flat = flatten(params);
  comm.broadcast(flat.data_ptr(), flat.numel(), comm_dtype(flat), 0);
  unflatten_into(flat, params);
}

double replica_divergence(Net& net, Communicator& comm) {
  torch::NoGradGuard no_grad;
  auto mine = flatten(net->parameters());
  auto root = mine.clone();
  comm.broadcast(root.data_ptr(), root.numel(), comm_dtype(root), 0);
  double d = (mine - root).abs().max().item<double>();
  comm.allreduce_max(&d, 1, DType::f64);
  return d;
}

EvalResult evaluate(Net& net, const TensorData& data, int64_t limit, Communicator& comm) {
  torch::NoGradGuard no_grad;
  // Inference semantics (BatchNorm with running statistics).
  const bool was_training = net->is_training();
  net->eval();
  const int64_t n = limit > 0 ? std::min(limit, data.size()) : data.size();
  const Range mine = block_range(n, comm.size(), comm.rank());
  double sums[2] = {0, 0};  // loss sum, correct count
  for (int64_t i = mine.begin; i < mine.end; i += 1000) {
    const int64_t e = std::min(mine.end, i + 1000);
    auto logits = net->forward(data.x.slice(0, i, e));
    auto y = data.y.slice(0, i, e);
    sums[0] += torch::nn::functional::cross_entropy(
                   logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                   .item<double>();
    sums[1] += logits.argmax(1).eq(y).sum().item<double>();
  }
  comm.allreduce_sum(sums, 2, DType::f64);
  net->train(was_training);
  return {sums[0] / std::max<int64_t>(n, 1), sums[1] / std::max<int64_t>(n, 1)};
}

int64_t total_steps(const Config& c, int64_t train_size) {
  if (c.steps > 0) return c.steps;
  const int64_t per_epoch = std::max<int64_t>(1, train_size / c.batch_size);
  return static_cast<int64_t>(std::llround(c.epochs * per_epoch));
}

Trainer::Trainer(Net net, const Config& c, Communicator& comm, const TensorData& train)
    : net_(net), c_(c), comm_(comm), data_(train) {
  STIFF_CHECK(train.size() >= c.batch_size,
              "--batch-size: " + std::to_string(c.batch_size) + " is larger than the training set (" +
                  std::to_string(train.size()) + " examples)");
  steps_per_epoch_ = std::max<int64_t>(1, train.size() / c.batch_size);
  if (c.optimizer == Optimizer::adam)
    opt_ = std::make_unique<torch::optim::Adam>(net_->parameters(), torch::optim::AdamOptions(c.lr));
  else
    opt_ = std::make_unique<torch::optim::SGD>(net_->parameters(),
                                               torch::optim::SGDOptions(c.lr).momentum(c.momentum));
  reshuffle(0);
}

// The same permutation on every rank: a seeded Fisher-Yates with our own
// index draw (std::uniform_int_distribution differs between libraries).
void Trainer::reshuffle(int64_t epoch) {
  order_.resize(data_.size());
  for (int64_t i = 0; i < data_.size(); ++i) order_[i] = i;
  std::mt19937_64 rng(c_.seed * 1000003u + static_cast<uint64_t>(epoch) + 17u);
  for (int64_t i = data_.size() - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(order_[i], order_[j]);
  }
}

double Trainer::step() {
  const int64_t in_epoch = step_ % steps_per_epoch_;
  if (in_epoch == 0 && step_ > 0) reshuffle(step_ / steps_per_epoch_);
  const int64_t B = c_.batch_size;
  // This rank's shard of the global batch.
  const Range shard = block_range(B, comm_.size(), comm_.rank());
  std::vector<int64_t> idx(order_.begin() + in_epoch * B + shard.begin,
                           order_.begin() + in_epoch * B + shard.end);
  opt_->zero_grad();
  double loss_sum = 0;
  auto params = net_->parameters();
  if (!idx.empty()) {
    auto sel = torch::tensor(idx, torch::kInt64).to(data_.x.device());
    auto logits = net_->forward(data_.x.index_select(0, sel));
    auto loss = torch::nn::functional::cross_entropy(
        logits, data_.y.index_select(0, sel),
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    // Divide by the GLOBAL batch: the sum over ranks is then the batch mean.
    (loss / static_cast<double>(B)).backward();
    loss_sum = loss.item<double>();
  }
  std::vector<torch::Tensor> grads;
  for (auto& p : params) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  auto flat = flatten(grads);
  comm_.allreduce_sum(flat.data_ptr(), flat.numel(), comm_dtype(flat));
  {
    torch::NoGradGuard no_grad;
    unflatten_into(flat, grads);
  }
  opt_->step();
  // BatchNorm running statistics differ per shard: average them so that
  // replicas stay identical.
  auto bufs = net_->buffers_to_sync();
  if (!bufs.empty()) {
    torch::NoGradGuard no_grad;
    auto fb = flatten(bufs);
    comm_.allreduce_sum(fb.data_ptr(), fb.numel(), comm_dtype(fb));
    fb.div_(comm_.size());
    unflatten_into(fb, bufs);
  }
  comm_.allreduce_sum(&loss_sum, 1, DType::f64);
  ++step_;
  return loss_sum / B;
}

}  // namespace stiffness

namespace stiffness {

void Trainer::save(const std::string& path) {
  torch::serialize::OutputArchive a;
  opt_->save(a);
  a.save_to(path);
}

void Trainer::load(const std::string& path, int64_t step) {
  torch::serialize::InputArchive a;
  a.load_from(path, data_.x.device());  // optimiser state next to the parameters
  opt_->load(a);
  step_ = step;
  reshuffle(step_ / steps_per_epoch_);
}

}  // namespace stiffness
