// 2x2 max-pooling with stride 2 (floor mode), equal to torch::max_pool2d(x, 2)
// in values and gradients, ties and NaNs included: the first largest element
// of each window in row-major order gets the gradient (a NaN wins, as there).
// LibTorch 1.13's CPU kernel was the largest single cost of a batched CNN
// measurement (59 of 256 ms for 500 examples on one thread); this one keeps
// a one-byte window index instead of an int64 position: forward and backward
// of 500x16x28x28 floats took 24 ms against 63 ms (one thread).
#pragma once

#include <torch/torch.h>

namespace stiffness {

torch::Tensor max_pool2x2(const torch::Tensor& x);

}  // namespace stiffness
