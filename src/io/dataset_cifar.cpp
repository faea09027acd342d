// CIFAR-10 and CIFAR-100, "binary version" files.
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

using detail::bytes_to_unit_floats;
using detail::read_file_bytes;

// ================================ CIFAR =================================

namespace {

constexpr int64_t kCifarPixels = 3 * 32 * 32;

// `dir` itself when it has `probe`, else `dir/sub` when that has it (the
// folder the official tarball unpacks to), else `dir`.
std::filesystem::path cifar_dir(const std::string& dir, const std::string& sub, const std::string& probe) {
  const std::filesystem::path base = dir.empty() ? std::filesystem::path(".") : std::filesystem::path(dir);
  std::error_code ec;
  if (!std::filesystem::exists(base / probe, ec) && std::filesystem::exists(base / sub / probe, ec)) return base / sub;
  return dir.empty() ? std::filesystem::path() : base;
}

}  // namespace

ImageSet read_cifar_files(const std::vector<std::string>& paths, int label_bytes, int64_t num_classes,
                          int64_t num_coarse) {
  STIFF_CHECK(label_bytes == 1 || label_bytes == 2,
              "read_cifar_files: label bytes must be 1 or 2, got " + std::to_string(label_bytes));
  STIFF_CHECK(num_classes > 0 && num_classes <= 256,
              "read_cifar_files: number of classes must be in [1, 256], got " + std::to_string(num_classes));
  STIFF_CHECK(label_bytes == 1 || (num_coarse > 0 && num_coarse <= 256),
              "read_cifar_files: number of coarse classes must be in [1, 256], got " + std::to_string(num_coarse));
  STIFF_CHECK(!paths.empty(), "read_cifar_files: no files given");
  const int64_t record = label_bytes + kCifarPixels;

  ImageSet set;
  set.channels = 3;
  set.height = 32;
  set.width = 32;
  set.num_classes = num_classes;
  set.num_coarse = label_bytes == 2 ? num_coarse : 0;
  for (const std::string& path : paths) {
    const std::vector<uint8_t> bytes = read_file_bytes(path, "CIFAR binary");
    const int64_t size = static_cast<int64_t>(bytes.size());
    STIFF_CHECK(size > 0, path + ": empty file: expected " + std::to_string(record) + "-byte records");
    STIFF_CHECK(size % record == 0, path + ": " + std::to_string(size) + " bytes is not a whole number of " +
                                        std::to_string(record) + "-byte records (truncated?)");
    const int64_t n = size / record;
    const size_t px0 = set.pixels.size();
    set.pixels.resize(px0 + static_cast<size_t>(n * kCifarPixels));
    for (int64_t r = 0; r < n; ++r) {
      const uint8_t* rec = bytes.data() + r * record;
      const int64_t fine = rec[label_bytes - 1];
      STIFF_CHECK(fine < num_classes, path + ": " + (label_bytes == 2 ? "fine " : "") +
                                          "label out of range in record " + std::to_string(r) + ": expected [0, " +
                                          std::to_string(num_classes) + "), found " + std::to_string(fine));
      set.labels.push_back(fine);
      if (label_bytes == 2) {
        const int64_t coarse = rec[0];
        STIFF_CHECK(coarse < num_coarse, path + ": coarse label out of range in record " + std::to_string(r) +
                                             ": expected [0, " + std::to_string(num_coarse) + "), found " +
                                             std::to_string(coarse));
        set.coarse_labels.push_back(coarse);
      }
      // The record's pixels are already C x H x W (R plane, G plane, B
      // plane, each row-major): the same layout as ImageSet.
      bytes_to_unit_floats(rec + label_bytes, kCifarPixels, set.pixels.data() + px0 + r * kCifarPixels);
    }
    set.n += n;
    set.source += (set.source.empty() ? "" : ", ") + path;
  }
  return set;
}

ImageSet load_cifar10(const std::string& dir, const std::string& split) {
  STIFF_CHECK(split == "train" || split == "test",
              "load_cifar10: split must be 'train' or 'test', got '" + split + "'");
  const auto base = cifar_dir(dir, "cifar-10-batches-bin", "data_batch_1.bin");
  std::vector<std::string> paths;
  if (split == "train") {
    for (int b = 1; b <= 5; ++b) paths.push_back((base / ("data_batch_" + std::to_string(b) + ".bin")).string());
  } else {
    paths.push_back((base / "test_batch.bin").string());
  }
  return read_cifar_files(paths, 1, 10, 0);
}

ImageSet load_cifar100(const std::string& dir, const std::string& split) {
  STIFF_CHECK(split == "train" || split == "test",
              "load_cifar100: split must be 'train' or 'test', got '" + split + "'");
  const auto base = cifar_dir(dir, "cifar-100-binary", "train.bin");
  return read_cifar_files({(base / (split + ".bin")).string()}, 2, 100, 20);
}

}  // namespace stiffness
