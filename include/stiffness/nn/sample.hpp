// The measured sample as tensors: which examples, in which order (the rows of
// K), their inputs on the rank's device, and the unit-norm inputs that the
// input distances of stiffness against distance are computed from.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "stiffness/analysis/metrics.hpp"
#include "stiffness/config/config.hpp"
#include "stiffness/io/dataset.hpp"
#include "stiffness/io/run_file.hpp"

namespace stiffness {

// The fixed sample: training examples first, then validation examples, each
// part sorted by class. Row i of K is example i of this order.
struct Sample {
  torch::Tensor x, y;
  // With super-classes (CIFAR-100's 20 coarse classes) each part is ordered
  // by (coarse class, class, index), and the class matrices are stored in the
  // order `class_order` (fine class ids grouped by coarse class), so that
  // super-classes show as blocks. class_index[i] is the row of example i.
  std::vector<int64_t> coarse, class_index, class_order;
  int64_t num_coarse = 0;
  torch::Tensor unit;  // N x D float64: inputs centred and scaled to unit norm (for distances)
  std::vector<int64_t> index, label;
  std::vector<Split> split;
  int64_t size() const { return static_cast<int64_t>(label.size()); }
};

// `per_class` examples of each class from the first n_train examples of
// `train` (and val_per_class from the first n_val of `val`), chosen by sample_seed.
Sample make_sample(const Config& c, const ImageSet& train, const ImageSet& val, int64_t n_train,
                   int64_t n_val, torch::Dtype dtype);
SampleArrays sample_arrays(const Sample& s);
// The sample's tensors (inputs, labels, unit-norm inputs) onto `device`.
void move_to(Sample& s, torch::Device device);

// Input distances d = 1 - cos of standardised inputs for rows [r0, r1) and
// columns [c0, c1) of the sample, float64 (docs/metrics.md).
torch::Tensor input_distance(const Sample& s, int64_t r0, int64_t r1, int64_t c0, int64_t c1);

}  // namespace stiffness
