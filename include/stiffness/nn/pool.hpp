// 2x2 max-pooling with stride 2 (floor mode), equal to torch::max_pool2d(x, 2)
// in values and gradients, ties and NaNs included: the first largest element
// of each window in row-major order gets the gradient (a NaN wins, as there).
// LibTorch 1.13's CPU kernel was the largest single cost of a batched CNN
// measurement; this one keeps a one-byte window index instead of an int64
// position and runs forward and backward in well under half its time
// (docs/benchmarks.md, "CNN gradient pass").
#pragma once

#include <torch/torch.h>

namespace stiffness {

torch::Tensor max_pool2x2(const torch::Tensor& x);

}  // namespace stiffness
