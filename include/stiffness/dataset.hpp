// Image classification data as plain arrays (no tensors), read from
// MNIST-format IDX files, and the per-class sample used for measurement.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace stiffness {

// A raw IDX array (unsigned byte data only, the MNIST family's format).
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// Reads an IDX file, gzip-compressed or raw (detected from its content, not
// its name). Checks the magic number (0x0000 08 <ndim>), that ndim equals
// `expect_ndim`, and that the payload is exactly prod(dims) bytes: neither
// truncated nor followed by extra bytes. Errors name the file and what was
// expected, e.g. "train-images-idx3-ubyte.gz: truncated: expected 47040000
// pixel bytes, found 1000".
IdxArray read_idx(const std::string& path, int expect_ndim);

// Images as float32 in [0, 1], layout N x C x H x W, and integer labels.
struct ImageSet {
  int64_t n = 0, channels = 0, height = 0, width = 0;
  int64_t num_classes = 0;
  std::vector<float> pixels;
  std::vector<int64_t> labels;
  std::string source;  // file names, for logs and provenance
  int64_t example_size() const { return channels * height * width; }
};

// Loads `<dir>/<prefix>-images-idx3-ubyte[.gz]` and
// `<dir>/<prefix>-labels-idx1-ubyte[.gz]` (prefix "train" or "t10k"); checks
// that the counts agree and every label is in [0, num_classes).
ImageSet load_mnist(const std::string& dir, const std::string& prefix, int64_t num_classes = 10);

// The fixed measurement sample: `per_class` examples of every class, chosen
// with `seed`, returned as dataset indices sorted by (class, index). Throws
// an Error naming the class and counts if a class has too few examples.
std::vector<int64_t> sample_per_class(const std::vector<int64_t>& labels, int64_t num_classes,
                                      int64_t per_class, uint64_t seed, const std::string& what);

}  // namespace stiffness
