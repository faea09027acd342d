// Helpers shared by the dataset loaders (src/io/dataset*.cpp); internal.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace stiffness::detail {

// Largest payload accepted: far above any dataset of the MNIST family (the
// Fashion-MNIST training images are 47 MB) but low enough that a corrupt
// header cannot make us try to allocate an absurd amount of memory.
constexpr int64_t kMaxPayloadBytes = int64_t{1} << 32;  // 4 GiB

// "2x28x28" for any integer shape.
template <class T>
std::string shape_string(const std::vector<T>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "x" : "") + std::to_string(dims[i]);
  return s;
}

// The byte value v as v / 255 in float, as for IDX pixels.
void bytes_to_unit_floats(const uint8_t* in, int64_t n, float* out);
// The whole file; throws naming the path if it is missing or unreadable.
std::vector<uint8_t> read_file_bytes(const std::string& path, const std::string& what);
// Largest value, or -1 for an empty vector.
int64_t max_or_minus_one(const std::vector<int64_t>& v);

}  // namespace stiffness::detail
