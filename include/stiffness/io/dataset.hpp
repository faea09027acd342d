// Image (and token-sequence) classification data as plain arrays (no
// tensors): MNIST-format IDX files, CIFAR-10/100 binary files, a generic HDF5
// layout and a synthetic class-structured generator, the dispatcher the job
// calls, and the per-class sample used for measurement. The formats are
// described in docs/datasets.md.
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

// Examples as float32, layout N x C x H x W, and integer labels in
// [0, num_classes). Pixels are in [0, 1] for IDX and CIFAR; HDF5 inputs are
// as stored (times the file's `scale`), synthetic ones are unbounded. Token
// sequences are N x 1 x 1 x L with the ids as exact floats.
struct ImageSet {
  int64_t n = 0, channels = 0, height = 0, width = 0;
  int64_t num_classes = 0;
  std::vector<float> pixels;
  std::vector<int64_t> labels;
  // Super-class labels in [0, num_coarse), one per example (CIFAR-100, HDF5
  // files that have them, synthetic data with super-classes); empty and
  // num_coarse == 0 when the data has none.
  std::vector<int64_t> coarse_labels;
  int64_t num_coarse = 0;
  std::string source;  // file names, for logs and provenance
  int64_t example_size() const { return channels * height * width; }
};

// Loads `<dir>/<prefix>-images-idx3-ubyte[.gz]` and
// `<dir>/<prefix>-labels-idx1-ubyte[.gz]` (prefix "train" or "t10k"); checks
// that the counts agree and every label is in [0, num_classes).
ImageSet load_mnist(const std::string& dir, const std::string& prefix, int64_t num_classes = 10);

// A training and a validation split of the same data.
struct DataSets {
  ImageSet train, val;
};

// CIFAR-10 binary version: `<dir>/data_batch_1.bin` .. `data_batch_5.bin`
// (train, concatenated in that order) or `<dir>/test_batch.bin` (split
// "test"); records of 1 label byte + 3072 pixel bytes (R, G, B planes of
// 32 x 32, row-major). If `<dir>` lacks the files but has the tarball's
// folder `cifar-10-batches-bin`, that folder is used. 10 classes.
ImageSet load_cifar10(const std::string& dir, const std::string& split);

// CIFAR-100 binary version: `<dir>/train.bin` or `<dir>/test.bin` (split
// "train" or "test"; folder `cifar-100-binary` looked into as above);
// records of coarse label byte, fine label byte, 3072 pixel bytes. labels are
// the 100 fine classes, coarse_labels the 20 super-classes.
ImageSet load_cifar100(const std::string& dir, const std::string& split);

// Reads CIFAR binary files (any number, concatenated in order) with
// `label_bytes` = 1 (fine label only) or 2 (coarse, then fine). Every file is
// checked: exists, non-empty, a whole number of records, labels in range.
ImageSet read_cifar_files(const std::vector<std::string>& paths, int label_bytes, int64_t num_classes,
                          int64_t num_coarse);

// The generic HDF5 layout (docs/datasets.md): groups /train and /val, each
// with `inputs` (N x ..., rank 2, 3 or 4, any integer or float type),
// `labels` (N, integer) and optionally `coarse_labels` (N, integer); root
// attributes `num_classes`, `num_coarse`, `scale` optional.
// `num_classes` = 0 takes the number of classes from the file (attribute
// `num_classes`, else 1 + the largest label of both splits); otherwise it is
// used, and must agree with the attribute if there is one.
// Reads the file with the MPI-IO driver on MPI_COMM_SELF, so MPI must be
// initialised (and not finalised) by the caller; each rank reads on its own.
DataSets load_hdf5_dataset(const std::string& path, int64_t num_classes = 0);

// Synthetic class-structured data (docs/datasets.md), a function of the
// fields only. Class c belongs to super-class c * num_coarse / num_classes;
// its prototype is coarse_scale * g_k + class_scale * h_c (g, h standard
// normal vectors), examples are prototype + noise * standard normal. Example
// i of a split has class i % num_classes.
struct SyntheticSpec {
  int64_t num_classes = 10;
  int64_t num_coarse = 0;  // 0: no super-classes (every class its own)
  int64_t channels = 1, height = 8, width = 8;
  int64_t train_per_class = 200, val_per_class = 50;
  uint64_t seed = 0;
  double coarse_scale = 1.0, class_scale = 0.5, noise = 1.0;
};
DataSets make_synthetic(const SyntheticSpec& spec);

// What the job asks for (--data-format, --data-dir, ...).
struct DataSpec {
  std::string format = "idx";  // idx | cifar10 | cifar100 | hdf5 | synthetic
  std::string path;            // folder for idx/cifar*, file for hdf5
  int64_t num_classes = 10;    // 0 = from the data
  int64_t num_coarse = 0;      // synthetic only
  uint64_t seed = 0;           // synthetic only
  int64_t synthetic_train_per_class = 200, synthetic_val_per_class = 50, synthetic_size = 8;
};

// Loads train and validation splits:
//   idx       load_mnist(path, "train" / "t10k", num_classes); 0 = 1 + the
//             largest label of both splits
//   cifar10   load_cifar10(path, "train" / "test"); num_classes 0 or 10
//   cifar100  load_cifar100(path, "train" / "test"); num_classes 0 or 100
//   hdf5      load_hdf5_dataset(path, num_classes); needs MPI initialised
//   synthetic make_synthetic: 1 x size x size, num_classes (0 = 10) classes
// An unknown format throws "--data-format: unknown format 'x', expected idx,
// cifar10, cifar100, hdf5 or synthetic".
DataSets load_dataset(const DataSpec& spec);

// The fixed measurement sample: `per_class` examples of every class, chosen
// with `seed`, returned as dataset indices sorted by (class, index). Throws
// an Error naming the class and counts if a class has too few examples.
std::vector<int64_t> sample_per_class(const std::vector<int64_t>& labels, int64_t num_classes,
                                      int64_t per_class, uint64_t seed, const std::string& what);

}  // namespace stiffness
