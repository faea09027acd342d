// The format dispatcher and the helpers the loaders share. The loaders:
// dataset_idx.cpp (MNIST family), dataset_cifar.cpp, dataset_hdf5.cpp,
// dataset_synthetic.cpp; the measurement sample: sample.cpp.
#include <fstream>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "dataset_detail.hpp"
#include "stiffness/io/dataset.hpp"
#include "stiffness/runtime/error.hpp"

namespace stiffness {

namespace detail {

// The byte value v as v / 255 in float, as for IDX pixels.
void bytes_to_unit_floats(const uint8_t* in, int64_t n, float* out) {
  float table[256];
  for (int v = 0; v < 256; ++v) table[v] = static_cast<float>(v) / 255.0f;
  for (int64_t i = 0; i < n; ++i) out[i] = table[in[i]];
}

// The whole file; throws naming the path if it is missing or unreadable.
std::vector<uint8_t> read_file_bytes(const std::string& path, const std::string& what) {
  std::error_code ec;
  STIFF_CHECK(std::filesystem::exists(path, ec), path + ": " + what + " file not found");
  STIFF_CHECK(!std::filesystem::is_directory(path, ec), path + ": is a directory, expected a " + what + " file");
  const auto size = std::filesystem::file_size(path, ec);
  STIFF_CHECK(!ec, path + ": cannot read the size: " + ec.message());
  STIFF_CHECK(size <= static_cast<uintmax_t>(kMaxPayloadBytes),
              path + ": " + std::to_string(size) + " bytes: larger than the " +
                  std::to_string(kMaxPayloadBytes) + "-byte limit");
  errno = 0;
  std::ifstream f(path, std::ios::binary);
  STIFF_CHECK(f.is_open(), path + ": cannot open: " + std::string(errno ? std::strerror(errno) : "unknown error"));
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (!bytes.empty()) f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  STIFF_CHECK(f.gcount() == static_cast<std::streamsize>(bytes.size()),
              path + ": read error: expected " + std::to_string(size) + " bytes, read " +
                  std::to_string(f.gcount()));
  return bytes;
}

int64_t max_or_minus_one(const std::vector<int64_t>& v) {
  return v.empty() ? -1 : *std::max_element(v.begin(), v.end());
}

}  // namespace detail

using detail::max_or_minus_one;

// ============================== Dispatcher ==============================

DataSets load_dataset(const DataSpec& spec) {
  const std::string& f = spec.format;
  STIFF_CHECK(f == "idx" || f == "cifar10" || f == "cifar100" || f == "hdf5" || f == "synthetic",
              "--data-format: unknown format '" + f + "', expected idx, cifar10, cifar100, hdf5 or synthetic");
  STIFF_CHECK(spec.num_classes >= 0, "--num-classes: must be 0 (from the data) or positive, got " +
                                         std::to_string(spec.num_classes));
  STIFF_CHECK(f == "synthetic" || spec.num_coarse == 0,
              "--num-coarse: only the synthetic format takes a number of super-classes (the " + f +
                  " format gives its own), got " + std::to_string(spec.num_coarse));
  DataSets out;
  if (f == "idx") {
    if (spec.num_classes > 0) {
      out.train = load_mnist(spec.path, "train", spec.num_classes);
      out.val = load_mnist(spec.path, "t10k", spec.num_classes);
    } else {
      out.train = load_mnist(spec.path, "train", 256);
      out.val = load_mnist(spec.path, "t10k", 256);
      out.train.num_classes = out.val.num_classes =
          1 + std::max(max_or_minus_one(out.train.labels), max_or_minus_one(out.val.labels));
    }
  } else if (f == "cifar10" || f == "cifar100") {
    const int64_t classes = f == "cifar10" ? 10 : 100;
    STIFF_CHECK(spec.num_classes == 0 || spec.num_classes == classes,
                "--num-classes: " + f + " has " + std::to_string(classes) + " classes, got " +
                    std::to_string(spec.num_classes) + " (give " + std::to_string(classes) + " or 0)");
    out.train = f == "cifar10" ? load_cifar10(spec.path, "train") : load_cifar100(spec.path, "train");
    out.val = f == "cifar10" ? load_cifar10(spec.path, "test") : load_cifar100(spec.path, "test");
  } else if (f == "hdf5") {
    STIFF_CHECK(!spec.path.empty(), "--data-dir: the hdf5 format needs the path of a file");
    out = load_hdf5_dataset(spec.path, spec.num_classes);
  } else {
    SyntheticSpec s;
    s.num_classes = spec.num_classes > 0 ? spec.num_classes : 10;
    s.num_coarse = spec.num_coarse;
    s.height = s.width = spec.synthetic_size;
    s.train_per_class = spec.synthetic_train_per_class;
    s.val_per_class = spec.synthetic_val_per_class;
    s.seed = spec.seed;
    out = make_synthetic(s);
  }
  return out;
}

}  // namespace stiffness
