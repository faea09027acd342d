// CIFAR-10/100 binary files, the generic HDF5 layout, the synthetic
// generator and the format dispatcher: exact round trips through small files
// written here, every malformed-input error, determinism and structure of the
// synthetic data.
//
// The HDF5 loader reads through the MPI-IO driver (on MPI_COMM_SELF), so MPI
// must be initialised. unit_io links gtest_main, which does not do it: the
// environment below calls MPI_Init before the first test and MPI_Finalize
// after the last, unless someone else already did.

#include <gtest/gtest.h>
#include <hdf5.h>
#include <mpi.h>
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "stiffness/io/dataset.hpp"
#include "stiffness/runtime/error.hpp"
#include "stiffness/io/h5.hpp"

namespace fs = std::filesystem;
using stiffness::DataSets;
using stiffness::DataSpec;
using stiffness::Error;
using stiffness::ImageSet;

namespace {

class MpiEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      owned_ = true;
    }
  }
  void TearDown() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owned_ && !finalized) MPI_Finalize();
  }

 private:
  bool owned_ = false;
};

// Registered before main() runs; gtest owns (and deletes) the environment.
::testing::Environment* const mpi_env = ::testing::AddGlobalTestEnvironment(new MpiEnvironment);

// Runs `fn`, expecting a stiffness::Error whose one-line message contains
// every string in `needles`.
void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> needles) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "message is not one line: " << msg;
    for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
    return;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected stiffness::Error, got another exception: " << e.what();
    return;
  }
  ADD_FAILURE() << "expected stiffness::Error, nothing thrown";
}

void write_raw(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  ASSERT_TRUE(f) << path;
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f) << path;
}

// A fresh directory under $STIFFNESS_TEST_TMP (or /tmp), removed afterwards.
class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* env = std::getenv("STIFFNESS_TEST_TMP");
    const fs::path base = env && *env ? fs::path(env) : fs::path("/tmp");
    fs::create_directories(base);
    std::string tmpl = (base / "stiffness_datasets_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << "mkdtemp failed under " << base;
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }
  std::string dir_;
};

// ================================ CIFAR =================================

constexpr int kPix = 3 * 32 * 32;

// The pixel byte of record `rec` of file `file` at channel c, row h, column w:
// different for (nearly) every position, so any mix-up of order shows.
uint8_t pixel_byte(int file, int rec, int c, int h, int w) {
  return static_cast<uint8_t>((file * 101 + rec * 53 + c * 71 + h * 7 + w * 3) % 256);
}

// One CIFAR record: the label bytes, then R, G and B planes, row-major.
void append_record(std::vector<uint8_t>& out, std::initializer_list<uint8_t> label_bytes, int file, int rec) {
  out.insert(out.end(), label_bytes);
  for (int c = 0; c < 3; ++c)
    for (int h = 0; h < 32; ++h)
      for (int w = 0; w < 32; ++w) out.push_back(pixel_byte(file, rec, c, h, w));
}

// Checks that example `n` of `set` holds record `rec` of file `file`.
void expect_record(const ImageSet& set, int64_t n, int file, int rec) {
  for (int c = 0; c < 3; ++c)
    for (int h = 0; h < 32; ++h)
      for (int w = 0; w < 32; ++w) {
        const float got = set.pixels[static_cast<size_t>(((n * 3 + c) * 32 + h) * 32 + w)];
        ASSERT_EQ(got, static_cast<float>(pixel_byte(file, rec, c, h, w)) / 255.0f)
            << "example " << n << " c " << c << " h " << h << " w " << w;
      }
}

class Cifar : public TempDir {
 protected:
  // CIFAR-10 files in `dir`: batch b (1..5) has b % 3 + 1 records, the test
  // batch 4; labels cycle through 0..9 over the whole training set.
  void write_cifar10(const std::string& dir) {
    fs::create_directories(dir);
    int label = 0;
    for (int b = 1; b <= 5; ++b) {
      std::vector<uint8_t> bytes;
      for (int r = 0; r < b % 3 + 1; ++r) append_record(bytes, {static_cast<uint8_t>(label++ % 10)}, b, r);
      write_raw((fs::path(dir) / ("data_batch_" + std::to_string(b) + ".bin")).string(), bytes);
    }
    std::vector<uint8_t> test;
    for (int r = 0; r < 4; ++r) append_record(test, {static_cast<uint8_t>(9 - r)}, 0, r);
    write_raw((fs::path(dir) / "test_batch.bin").string(), test);
  }
  // CIFAR-100: record r has coarse label (r * 7) % 20, fine label (r * 13) % 100.
  void write_cifar100(const std::string& dir, int n_train = 9, int n_test = 3) {
    fs::create_directories(dir);
    for (const auto& [name, n, file] : {std::tuple<std::string, int, int>{"train.bin", n_train, 1},
                                        std::tuple<std::string, int, int>{"test.bin", n_test, 2}}) {
      std::vector<uint8_t> bytes;
      for (int r = 0; r < n; ++r)
        append_record(bytes, {static_cast<uint8_t>((r * 7) % 20), static_cast<uint8_t>((r * 13) % 100)}, file, r);
      write_raw((fs::path(dir) / name).string(), bytes);
    }
  }
};

TEST_F(Cifar, Cifar10RoundTrip) {
  write_cifar10(dir_);
  const ImageSet train = stiffness::load_cifar10(dir_, "train");
  EXPECT_EQ(train.n, 2 + 3 + 1 + 2 + 3);
  EXPECT_EQ(train.channels, 3);
  EXPECT_EQ(train.height, 32);
  EXPECT_EQ(train.width, 32);
  EXPECT_EQ(train.num_classes, 10);
  EXPECT_EQ(train.num_coarse, 0);
  EXPECT_TRUE(train.coarse_labels.empty());
  ASSERT_EQ(train.pixels.size(), static_cast<size_t>(train.n * kPix));
  ASSERT_EQ(train.labels.size(), static_cast<size_t>(train.n));
  // Batches concatenated in order 1..5.
  int64_t n = 0;
  for (int b = 1; b <= 5; ++b)
    for (int r = 0; r < b % 3 + 1; ++r, ++n) {
      EXPECT_EQ(train.labels[static_cast<size_t>(n)], n % 10);
      expect_record(train, n, b, r);
    }
  size_t pos = 0;
  for (int b = 1; b <= 5; ++b) {
    const size_t at = train.source.find("data_batch_" + std::to_string(b) + ".bin");
    ASSERT_NE(at, std::string::npos) << train.source;
    EXPECT_GT(at, pos) << "batches out of order in " << train.source;
    pos = at;
  }

  const ImageSet test = stiffness::load_cifar10(dir_, "test");
  EXPECT_EQ(test.n, 4);
  EXPECT_EQ(test.labels, (std::vector<int64_t>{9, 8, 7, 6}));
  for (int r = 0; r < 4; ++r) expect_record(test, r, 0, r);
  EXPECT_NE(test.source.find("test_batch.bin"), std::string::npos);
}

TEST_F(Cifar, PixelOrderIsChannelPlanesRowMajor) {
  // One record, all zero but for byte 255 at R(0,1), G(2,3) and B(31,30):
  // the file's planes are R, G, B, each 32 rows of 32, like N x C x H x W.
  std::vector<uint8_t> rec(1 + kPix, 0);
  rec[0] = 4;
  rec[1 + 0 * 1024 + 0 * 32 + 1] = 255;
  rec[1 + 1 * 1024 + 2 * 32 + 3] = 255;
  rec[1 + 2 * 1024 + 31 * 32 + 30] = 128;
  write_raw(path("one.bin"), rec);
  const ImageSet s = stiffness::read_cifar_files({path("one.bin")}, 1, 10, 0);
  ASSERT_EQ(s.n, 1);
  EXPECT_EQ(s.labels, (std::vector<int64_t>{4}));
  std::map<size_t, float> nonzero;
  for (size_t i = 0; i < s.pixels.size(); ++i)
    if (s.pixels[i] != 0.0f) nonzero[i] = s.pixels[i];
  EXPECT_EQ(nonzero, (std::map<size_t, float>{{1, 1.0f}, {1024 + 2 * 32 + 3, 1.0f}, {2048 + 31 * 32 + 30, 128.0f / 255.0f}}));
}

TEST_F(Cifar, TarballFolderIsFound) {
  write_cifar10(path("cifar-10-batches-bin"));
  write_cifar100(path("cifar-100-binary"));
  EXPECT_EQ(stiffness::load_cifar10(dir_, "train").n, 11);
  EXPECT_EQ(stiffness::load_cifar100(dir_, "test").n, 3);
}

TEST_F(Cifar, Cifar100RoundTrip) {
  write_cifar100(dir_, 25, 3);
  const ImageSet train = stiffness::load_cifar100(dir_, "train");
  EXPECT_EQ(train.n, 25);
  EXPECT_EQ(train.channels, 3);
  EXPECT_EQ(train.height, 32);
  EXPECT_EQ(train.width, 32);
  EXPECT_EQ(train.num_classes, 100);
  EXPECT_EQ(train.num_coarse, 20);
  ASSERT_EQ(train.labels.size(), 25u);
  ASSERT_EQ(train.coarse_labels.size(), 25u);
  for (int r = 0; r < 25; ++r) {
    EXPECT_EQ(train.coarse_labels[static_cast<size_t>(r)], (r * 7) % 20) << r;
    EXPECT_EQ(train.labels[static_cast<size_t>(r)], (r * 13) % 100) << r;
    expect_record(train, r, 1, r);
  }
  const ImageSet test = stiffness::load_cifar100(dir_, "test");
  EXPECT_EQ(test.n, 3);
  EXPECT_EQ(test.coarse_labels, (std::vector<int64_t>{0, 7, 14}));
  EXPECT_EQ(test.labels, (std::vector<int64_t>{0, 13, 26}));
  for (int r = 0; r < 3; ++r) expect_record(test, r, 2, r);
  EXPECT_NE(test.source.find("test.bin"), std::string::npos);
}

TEST_F(Cifar, MissingFile) {
  write_cifar10(dir_);
  fs::remove(path("data_batch_3.bin"));
  expect_error([&] { stiffness::load_cifar10(dir_, "train"); }, {path("data_batch_3.bin"), "not found"});
  EXPECT_NO_THROW(stiffness::load_cifar10(dir_, "test"));
  expect_error([&] { stiffness::load_cifar100(dir_, "train"); }, {path("train.bin"), "not found"});
  expect_error([&] { stiffness::load_cifar10(path("nowhere"), "test"); }, {"nowhere", "test_batch.bin", "not found"});
  expect_error([&] { stiffness::load_cifar10(dir_, "validation"); }, {"split", "validation"});
}

TEST_F(Cifar, NotWholeRecords) {
  write_cifar10(dir_);
  // Ten records less one byte; then one byte too many.
  std::vector<uint8_t> bytes;
  for (int r = 0; r < 10; ++r) append_record(bytes, {1}, 0, r);
  bytes.pop_back();
  write_raw(path("test_batch.bin"), bytes);
  expect_error([&] { stiffness::load_cifar10(dir_, "test"); },
               {path("test_batch.bin") + ": 30729 bytes is not a whole number of 3073-byte records (truncated?)"});
  bytes.push_back(0);
  bytes.push_back(0);
  write_raw(path("test_batch.bin"), bytes);
  expect_error([&] { stiffness::load_cifar10(dir_, "test"); },
               {"test_batch.bin: 30731 bytes is not a whole number of 3073-byte records"});

  // CIFAR-100 records are 3074 bytes: a CIFAR-10 file of 2 records is not.
  write_cifar100(dir_);
  std::vector<uint8_t> ten;
  for (int r = 0; r < 2; ++r) append_record(ten, {1}, 0, r);
  write_raw(path("train.bin"), ten);
  expect_error([&] { stiffness::load_cifar100(dir_, "train"); },
               {"train.bin: 6146 bytes is not a whole number of 3074-byte records (truncated?)"});
}

TEST_F(Cifar, EmptyFile) {
  write_cifar10(dir_);
  write_raw(path("data_batch_5.bin"), {});
  expect_error([&] { stiffness::load_cifar10(dir_, "train"); }, {path("data_batch_5.bin"), "empty"});
  write_cifar100(dir_);
  write_raw(path("test.bin"), {});
  expect_error([&] { stiffness::load_cifar100(dir_, "test"); }, {path("test.bin"), "empty", "3074-byte"});
}

TEST_F(Cifar, LabelsOutOfRange) {
  write_cifar10(dir_);
  std::vector<uint8_t> bytes;
  append_record(bytes, {9}, 0, 0);
  append_record(bytes, {10}, 0, 1);
  write_raw(path("data_batch_2.bin"), bytes);
  expect_error([&] { stiffness::load_cifar10(dir_, "train"); },
               {path("data_batch_2.bin"), "label out of range", "record 1", "[0, 10)", "found 10"});

  write_cifar100(dir_);
  bytes.clear();
  append_record(bytes, {19, 99}, 0, 0);
  append_record(bytes, {0, 0}, 0, 1);
  append_record(bytes, {3, 100}, 0, 2);
  write_raw(path("train.bin"), bytes);
  expect_error([&] { stiffness::load_cifar100(dir_, "train"); },
               {path("train.bin"), "fine label out of range", "record 2", "[0, 100)", "found 100"});
  bytes.clear();
  append_record(bytes, {19, 99}, 0, 0);
  append_record(bytes, {20, 5}, 0, 1);
  write_raw(path("test.bin"), bytes);
  expect_error([&] { stiffness::load_cifar100(dir_, "test"); },
               {path("test.bin"), "coarse label out of range", "record 1", "[0, 20)", "found 20"});
}

// ================================= HDF5 =================================

template <class T>
hid_t native_type();
template <> hid_t native_type<float>() { return H5T_NATIVE_FLOAT; }
template <> hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }
template <> hid_t native_type<uint8_t>() { return H5T_NATIVE_UINT8; }
template <> hid_t native_type<int16_t>() { return H5T_NATIVE_INT16; }
template <> hid_t native_type<int32_t>() { return H5T_NATIVE_INT32; }
template <> hid_t native_type<int64_t>() { return H5T_NATIVE_INT64; }
template <> hid_t native_type<uint16_t>() { return H5T_NATIVE_UINT16; }
template <> hid_t native_type<uint32_t>() { return H5T_NATIVE_UINT32; }

// A dataset of shape `dims` stored with the element type of T (HDF5 C API,
// independent transfer: the file is open on MPI_COMM_SELF).
template <class T>
void put(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims, const std::vector<T>& v) {
  hsize_t count = 1;
  for (hsize_t d : dims) count *= d;
  ASSERT_EQ(count, v.size()) << name;
  stiffness::h5::Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  stiffness::h5::Handle ds(H5Dcreate2(loc, name.c_str(), native_type<T>(), space.id(), H5P_DEFAULT,
                                      H5P_DEFAULT, H5P_DEFAULT));
  if (count > 0) ASSERT_GE(H5Dwrite(ds.id(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), 0) << name;
}

// Creates `path` on MPI_COMM_SELF and lets `fill` write into its root group.
void write_h5(const std::string& path, const std::function<void(hid_t root)>& fill) {
  auto f = stiffness::h5::File::create(path, MPI_COMM_SELF);
  fill(f.id());
  f.close();
}

stiffness::h5::Handle group(hid_t root, const std::string& name) { return stiffness::h5::create_group(root, name); }

// The value of input element i of a split: distinct, exactly representable.
float input_value(int split, size_t i) { return static_cast<float>(split * 1000 + static_cast<int>(i)) * 0.25f - 7.0f; }

// A split with n examples of shape `ex` (float32), labels i % classes and,
// if coarse > 0, coarse labels (i % classes) % coarse.
void put_split(hid_t root, const std::string& name, hsize_t n, const std::vector<hsize_t>& ex, int classes,
               int coarse = 0) {
  auto g = group(root, name);
  std::vector<hsize_t> dims = {n};
  dims.insert(dims.end(), ex.begin(), ex.end());
  hsize_t count = 1;
  for (hsize_t d : dims) count *= d;
  std::vector<float> x(count);
  for (size_t i = 0; i < x.size(); ++i) x[i] = input_value(name == "train" ? 0 : 1, i);
  put(g.id(), "inputs", dims, x);
  std::vector<int64_t> y(n), yc(n);
  for (size_t i = 0; i < n; ++i) {
    y[i] = static_cast<int64_t>(i % static_cast<size_t>(classes));
    if (coarse > 0) yc[i] = y[i] % coarse;
  }
  put(g.id(), "labels", {n}, y);
  if (coarse > 0) put(g.id(), "coarse_labels", {n}, yc);
}

using Hdf5 = TempDir;

TEST_F(Hdf5, Rank4RoundTrip) {
  const std::string p = path("d.h5");
  write_h5(p, [](hid_t root) {
    put_split(root, "train", 6, {2, 3, 4}, 3, 2);
    put_split(root, "val", 4, {2, 3, 4}, 3, 2);
  });
  const DataSets d = stiffness::load_hdf5_dataset(p);
  for (const auto& [set, split, n] : {std::tuple<const ImageSet&, int, int>{d.train, 0, 6},
                                      std::tuple<const ImageSet&, int, int>{d.val, 1, 4}}) {
    SCOPED_TRACE(split);
    EXPECT_EQ(set.n, n);
    EXPECT_EQ(set.channels, 2);
    EXPECT_EQ(set.height, 3);
    EXPECT_EQ(set.width, 4);
    EXPECT_EQ(set.num_classes, 3);  // 1 + largest label
    EXPECT_EQ(set.num_coarse, 2);
    ASSERT_EQ(set.pixels.size(), static_cast<size_t>(n * 24));
    for (size_t i = 0; i < set.pixels.size(); ++i) ASSERT_EQ(set.pixels[i], input_value(split, i)) << i;
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(set.labels[static_cast<size_t>(i)], i % 3);
      EXPECT_EQ(set.coarse_labels[static_cast<size_t>(i)], (i % 3) % 2);
    }
    EXPECT_NE(set.source.find(p), std::string::npos) << set.source;
  }
  EXPECT_NE(d.train.source.find("/train"), std::string::npos);
  EXPECT_NE(d.val.source.find("/val"), std::string::npos);
}

TEST_F(Hdf5, ShapesByRank) {
  // Rank 3 (N, H, W): one channel. Rank 2 (N, L): 1 x 1 x L.
  const std::string p3 = path("r3.h5"), p2 = path("r2.h5");
  write_h5(p3, [](hid_t root) {
    put_split(root, "train", 2, {5, 7}, 2);
    put_split(root, "val", 3, {5, 7}, 2);
  });
  const DataSets d3 = stiffness::load_hdf5_dataset(p3);
  EXPECT_EQ(d3.train.channels, 1);
  EXPECT_EQ(d3.train.height, 5);
  EXPECT_EQ(d3.train.width, 7);
  EXPECT_EQ(d3.val.n, 3);
  EXPECT_TRUE(d3.train.coarse_labels.empty());
  EXPECT_EQ(d3.train.num_coarse, 0);
  for (size_t i = 0; i < d3.val.pixels.size(); ++i) ASSERT_EQ(d3.val.pixels[i], input_value(1, i));

  // Token ids as int32, including the largest exactly representable ones.
  write_h5(p2, [](hid_t root) {
    {
      auto g = group(root, "train");
      put(g.id(), "inputs", {2, 4}, std::vector<int32_t>{0, 1, 50256, 16777215, 7, -16777215, 3, 2});
      put(g.id(), "labels", {2}, std::vector<int32_t>{1, 0});
    }
    auto g = group(root, "val");
    put(g.id(), "inputs", {1, 4}, std::vector<int32_t>{5, 6, 7, 8});
    put(g.id(), "labels", {1}, std::vector<int32_t>{1});
  });
  const DataSets d2 = stiffness::load_hdf5_dataset(p2);
  EXPECT_EQ(d2.train.n, 2);
  EXPECT_EQ(d2.train.channels, 1);
  EXPECT_EQ(d2.train.height, 1);
  EXPECT_EQ(d2.train.width, 4);
  EXPECT_EQ(d2.train.pixels, (std::vector<float>{0, 1, 50256, 16777215, 7, -16777215, 3, 2}));
  EXPECT_EQ(d2.train.labels, (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(d2.val.pixels, (std::vector<float>{5, 6, 7, 8}));
  EXPECT_EQ(d2.train.num_classes, 2);
}

TEST_F(Hdf5, ElementTypes) {
  // uint8 inputs are taken as stored (0..255); float64 inputs are rounded to
  // float; labels may be any integer type.
  const std::string p = path("types.h5");
  std::vector<uint8_t> bytes(256);
  for (int v = 0; v < 256; ++v) bytes[static_cast<size_t>(v)] = static_cast<uint8_t>(v);
  const std::vector<double> dbl = {0.1, -2.5, 1e-3, 3.0};
  write_h5(p, [&](hid_t root) {
    {
      auto g = group(root, "train");
      put(g.id(), "inputs", {4, 8, 8}, bytes);
      put(g.id(), "labels", {4}, std::vector<uint8_t>{0, 1, 2, 3});
      put(g.id(), "coarse_labels", {4}, std::vector<int16_t>{0, 0, 1, 1});
    }
    auto g = group(root, "val");
    put(g.id(), "inputs", {1, 4}, dbl);
    put(g.id(), "labels", {1}, std::vector<uint16_t>{2});
    put(g.id(), "coarse_labels", {1}, std::vector<int16_t>{1});
  });
  // Mixed example shapes are refused; with matching shapes it loads.
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p, "/val/inputs", "1x1x4", "differs", "1x8x8"});
  write_h5(p, [&](hid_t root) {
    {
      auto g = group(root, "train");
      put(g.id(), "inputs", {4, 64}, bytes);
      put(g.id(), "labels", {4}, std::vector<uint8_t>{0, 1, 2, 3});
      put(g.id(), "coarse_labels", {4}, std::vector<int16_t>{0, 0, 1, 1});
    }
    auto g = group(root, "val");
    std::vector<double> v(64, 0.0);
    std::copy(dbl.begin(), dbl.end(), v.begin());
    put(g.id(), "inputs", {1, 64}, v);
    put(g.id(), "labels", {1}, std::vector<uint16_t>{2});
    put(g.id(), "coarse_labels", {1}, std::vector<int16_t>{1});
  });
  const DataSets d = stiffness::load_hdf5_dataset(p);
  for (int v = 0; v < 256; ++v) ASSERT_EQ(d.train.pixels[static_cast<size_t>(v)], static_cast<float>(v));
  for (size_t i = 0; i < dbl.size(); ++i) EXPECT_EQ(d.val.pixels[i], static_cast<float>(dbl[i]));
  EXPECT_EQ(d.train.labels, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(d.val.labels, (std::vector<int64_t>{2}));
  EXPECT_EQ(d.train.num_classes, 4);
  EXPECT_EQ(d.train.num_coarse, 2);
  EXPECT_EQ(d.val.coarse_labels, (std::vector<int64_t>{1}));
}

TEST_F(Hdf5, ScaleAttribute) {
  // scale = 1/255 turns bytes into exactly what the IDX and CIFAR loaders give.
  const std::string p = path("scale.h5");
  std::vector<uint8_t> bytes(256);
  for (int v = 0; v < 256; ++v) bytes[static_cast<size_t>(v)] = static_cast<uint8_t>(v);
  write_h5(p, [&](hid_t root) {
    stiffness::h5::write_attr(root, "scale", 1.0 / 255.0);
    for (const char* s : {"train", "val"}) {
      auto g = group(root, s);
      put(g.id(), "inputs", {1, 16, 16}, bytes);
      put(g.id(), "labels", {1}, std::vector<int64_t>{0});
    }
  });
  const DataSets d = stiffness::load_hdf5_dataset(p);
  for (int v = 0; v < 256; ++v)
    ASSERT_EQ(d.val.pixels[static_cast<size_t>(v)], static_cast<float>(v) / 255.0f) << "byte " << v;
  EXPECT_EQ(d.train.pixels[255], 1.0f);
}

TEST_F(Hdf5, NumClassesFromAttributeOrArgument) {
  const std::string p = path("nc.h5");
  write_h5(p, [](hid_t root) {
    stiffness::h5::write_attr(root, "num_classes", int64_t{10});
    stiffness::h5::write_attr(root, "num_coarse", int64_t{5});
    put_split(root, "train", 4, {3}, 3, 2);
    put_split(root, "val", 2, {3}, 3, 2);
  });
  const DataSets d = stiffness::load_hdf5_dataset(p);
  EXPECT_EQ(d.train.num_classes, 10);
  EXPECT_EQ(d.val.num_classes, 10);
  EXPECT_EQ(d.train.num_coarse, 5);
  EXPECT_EQ(stiffness::load_hdf5_dataset(p, 10).train.num_classes, 10);
  expect_error([&] { stiffness::load_hdf5_dataset(p, 12); }, {p, "num_classes", "10", "12"});

  // Without the attribute the argument is used, and checked.
  const std::string q = path("noattr.h5");
  write_h5(q, [](hid_t root) {
    put_split(root, "train", 4, {3}, 3);
    put_split(root, "val", 2, {3}, 2);
  });
  EXPECT_EQ(stiffness::load_hdf5_dataset(q, 7).val.num_classes, 7);
  EXPECT_EQ(stiffness::load_hdf5_dataset(q, 0).val.num_classes, 3);  // largest of both splits
  expect_error([&] { stiffness::load_hdf5_dataset(q, 2); },
               {q + ":/train/labels", "out of range", "index 2", "[0, 2)", "found 2"});
}

TEST_F(Hdf5, MissingPieces) {
  expect_error([&] { stiffness::load_hdf5_dataset(path("none.h5")); }, {path("none.h5"), "not found"});

  const std::string p = path("m.h5");
  write_h5(p, [](hid_t root) { put_split(root, "train", 2, {3}, 2); });
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p, "missing group /val"});

  write_h5(p, [](hid_t root) {
    put_split(root, "val", 2, {3}, 2);
    auto g = group(root, "train");
    put(g.id(), "inputs", {2, 3}, std::vector<float>(6, 0.5f));
  });
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p + ":/train/labels", "missing dataset"});

  write_h5(p, [](hid_t root) {
    put_split(root, "train", 2, {3}, 2);
    auto g = group(root, "val");
    put(g.id(), "labels", {2}, std::vector<int64_t>{0, 1});
  });
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p + ":/val/inputs", "missing dataset"});

  // A group where a dataset belongs.
  write_h5(p, [](hid_t root) {
    put_split(root, "train", 2, {3}, 2);
    auto g = group(root, "val");
    group(g.id(), "inputs");
  });
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p + ":/val/inputs", "missing dataset"});

  // Not an HDF5 file at all.
  write_raw(path("junk.h5"), {1, 2, 3, 4});
  expect_error([&] { stiffness::load_hdf5_dataset(path("junk.h5")); }, {path("junk.h5")});
}

TEST_F(Hdf5, LabelErrors) {
  const std::string p = path("l.h5");
  // Length mismatch.
  write_h5(p, [](hid_t root) {
    put_split(root, "train", 3, {2}, 2);
    auto g = group(root, "val");
    put(g.id(), "inputs", {3, 2}, std::vector<float>(6, 0.0f));
    put(g.id(), "labels", {2}, std::vector<int64_t>{0, 1});
  });
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p + ":/val/labels", "mismatch", "2 labels", "3 inputs"});

  // Negative.
  write_h5(p, [](hid_t root) {
    put_split(root, "val", 3, {2}, 2);
    auto g = group(root, "train");
    put(g.id(), "inputs", {3, 2}, std::vector<float>(6, 0.0f));
    put(g.id(), "labels", {3}, std::vector<int32_t>{0, -1, 1});
  });
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p + ":/train/labels", "negative", "index 1", "-1"});

  // Out of range of the attribute.
  write_h5(p, [](hid_t root) {
    stiffness::h5::write_attr(root, "num_classes", int64_t{2});
    put_split(root, "train", 3, {2}, 2);
    put_split(root, "val", 3, {2}, 3);
  });
  expect_error([&] { stiffness::load_hdf5_dataset(p); },
               {p + ":/val/labels", "out of range", "index 2", "[0, 2)", "found 2"});

  // Float labels.
  write_h5(p, [](hid_t root) {
    put_split(root, "train", 2, {2}, 2);
    auto g = group(root, "val");
    put(g.id(), "inputs", {2, 2}, std::vector<float>(4, 0.0f));
    put(g.id(), "labels", {2}, std::vector<float>{0, 1});
  });
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p + ":/val/labels", "integer"});

  // 2-D labels.
  write_h5(p, [](hid_t root) {
    put_split(root, "train", 2, {2}, 2);
    auto g = group(root, "val");
    put(g.id(), "inputs", {2, 2}, std::vector<float>(4, 0.0f));
    put(g.id(), "labels", {2, 1}, std::vector<int64_t>{0, 1});
  });
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p + ":/val/labels", "1-D", "2x1"});
}

TEST_F(Hdf5, CoarseLabelErrors) {
  const std::string p = path("c.h5");
  // Out of range of num_coarse.
  write_h5(p, [](hid_t root) {
    stiffness::h5::write_attr(root, "num_coarse", int64_t{2});
    put_split(root, "train", 4, {2}, 4, 3);
    put_split(root, "val", 2, {2}, 2, 2);
  });
  expect_error([&] { stiffness::load_hdf5_dataset(p); },
               {p + ":/train/coarse_labels", "coarse label out of range", "index 2", "[0, 2)", "found 2"});
  // Negative.
  write_h5(p, [](hid_t root) {
    put_split(root, "train", 2, {2}, 2, 1);
    auto g = group(root, "val");
    put(g.id(), "inputs", {2, 2}, std::vector<float>(4, 0.0f));
    put(g.id(), "labels", {2}, std::vector<int64_t>{0, 1});
    put(g.id(), "coarse_labels", {2}, std::vector<int64_t>{0, -3});
  });
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p + ":/val/coarse_labels", "negative", "-3"});
  // Wrong length.
  write_h5(p, [](hid_t root) {
    put_split(root, "train", 2, {2}, 2, 1);
    auto g = group(root, "val");
    put(g.id(), "inputs", {2, 2}, std::vector<float>(4, 0.0f));
    put(g.id(), "labels", {2}, std::vector<int64_t>{0, 1});
    put(g.id(), "coarse_labels", {3}, std::vector<int64_t>{0, 0, 0});
  });
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p + ":/val/coarse_labels", "mismatch"});
  // Only one split has them.
  write_h5(p, [](hid_t root) {
    put_split(root, "train", 2, {2}, 2, 1);
    put_split(root, "val", 2, {2}, 2);
  });
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p + ":/val/coarse_labels", "missing dataset"});
  // num_coarse without coarse labels.
  write_h5(p, [](hid_t root) {
    stiffness::h5::write_attr(root, "num_coarse", int64_t{2});
    put_split(root, "train", 2, {2}, 2);
    put_split(root, "val", 2, {2}, 2);
  });
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p, "num_coarse", "no coarse_labels"});
}

TEST_F(Hdf5, InputErrors) {
  const std::string p = path("i.h5");
  auto with_train_inputs = [&](const std::function<void(hid_t)>& put_inputs) {
    write_h5(p, [&](hid_t root) {
      put_split(root, "val", 1, {4}, 1);
      auto g = group(root, "train");
      put_inputs(g.id());
      put(g.id(), "labels", {1}, std::vector<int64_t>{0});
    });
  };
  with_train_inputs([](hid_t g) { put(g, "inputs", {4}, std::vector<float>(4, 0.0f)); });
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p + ":/train/inputs", "rank", "found shape 4"});
  with_train_inputs([](hid_t g) { put(g, "inputs", {1, 1, 1, 2, 2}, std::vector<float>(4, 0.0f)); });
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p + ":/train/inputs", "rank", "1x1x1x2x2"});
  with_train_inputs([](hid_t g) { put(g, "inputs", {0, 4}, std::vector<float>{}); });
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p + ":/train/inputs", "no examples"});
  with_train_inputs([](hid_t g) { put(g, "inputs", {1, 4}, std::vector<float>{0, NAN, 0, 0}); });
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p + ":/train/inputs", "non-finite", "index 1"});
  with_train_inputs([](hid_t g) { put(g, "inputs", {1, 4}, std::vector<int32_t>{0, 0, 16777217, 0}); });
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p + ":/train/inputs", "16777217", "not exactly representable"});
  with_train_inputs([](hid_t g) { put(g, "inputs", {1, 4}, std::vector<uint32_t>{0, 0, 0, 4000000001u}); });
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p + ":/train/inputs", "4000000001", "index 3"});
  // With a scale, integers are numbers to be scaled, not ids: no exactness check.
  write_h5(p, [&](hid_t root) {
    stiffness::h5::write_attr(root, "scale", 0.5);
    put_split(root, "val", 1, {4}, 1);
    auto g = group(root, "train");
    put(g.id(), "inputs", {1, 4}, std::vector<int32_t>{0, 0, 16777217, -3});
    put(g.id(), "labels", {1}, std::vector<int64_t>{0});
  });
  const DataSets d = stiffness::load_hdf5_dataset(p);
  EXPECT_EQ(d.train.pixels, (std::vector<float>{0, 0, 8388608.0f, -1.5f}));
  EXPECT_EQ(d.val.pixels[1], input_value(1, 1) * 0.5f);
  with_train_inputs([](hid_t g) {
    stiffness::h5::Handle type(H5Tcopy(H5T_C_S1));
    H5Tset_size(type.id(), 2);
    const hsize_t dims[2] = {1, 4};
    stiffness::h5::Handle space(H5Screate_simple(2, dims, nullptr));
    stiffness::h5::Handle ds(H5Dcreate2(g, "inputs", type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Dwrite(ds.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, "abcdefgh");
  });
  expect_error([&] { stiffness::load_hdf5_dataset(p); }, {p + ":/train/inputs", "integer or float", "string"});
}

TEST_F(Hdf5, FileClosedAfterErrors) {
  // A failed load must not leave the file open: HDF5 refuses to re-create a
  // file it still has open.
  const std::string p = path("again.h5");
  write_h5(p, [](hid_t root) {
    put_split(root, "train", 2, {2}, 2);
    put_split(root, "val", 6, {2}, 5);
  });
  expect_error([&] { stiffness::load_hdf5_dataset(p, 2); }, {p + ":/val/labels", "out of range"});
  write_h5(p, [](hid_t root) {
    put_split(root, "train", 2, {2}, 2);
    auto g = group(root, "val");
    put(g.id(), "inputs", {2, 2}, std::vector<float>(4, 0.0f));
  });
  expect_error([&] { stiffness::load_hdf5_dataset(p, 0); }, {p + ":/val/labels", "missing dataset"});
  EXPECT_NO_THROW(write_h5(p, [](hid_t root) {
    put_split(root, "train", 2, {2}, 2);
    put_split(root, "val", 2, {2}, 2);
  }));
  EXPECT_EQ(stiffness::load_hdf5_dataset(p).train.n, 2);
}

// =============================== Synthetic ==============================

double dist2(const ImageSet& s, int64_t i, int64_t j) {
  const int64_t D = s.example_size();
  double d = 0;
  for (int64_t k = 0; k < D; ++k) {
    const double t = s.pixels[static_cast<size_t>(i * D + k)] - s.pixels[static_cast<size_t>(j * D + k)];
    d += t * t;
  }
  return d;
}

TEST(Synthetic, ShapeLabelsAndCoarse) {
  stiffness::SyntheticSpec s;
  s.num_classes = 12;
  s.num_coarse = 4;
  s.channels = 2;
  s.height = 3;
  s.width = 5;
  s.train_per_class = 7;
  s.val_per_class = 3;
  const DataSets d = stiffness::make_synthetic(s);
  EXPECT_EQ(d.train.n, 84);
  EXPECT_EQ(d.val.n, 36);
  for (const ImageSet* set : {&d.train, &d.val}) {
    EXPECT_EQ(set->channels, 2);
    EXPECT_EQ(set->height, 3);
    EXPECT_EQ(set->width, 5);
    EXPECT_EQ(set->num_classes, 12);
    EXPECT_EQ(set->num_coarse, 4);
    ASSERT_EQ(set->pixels.size(), static_cast<size_t>(set->n * 30));
    ASSERT_EQ(set->labels.size(), static_cast<size_t>(set->n));
    ASSERT_EQ(set->coarse_labels.size(), static_cast<size_t>(set->n));
    for (int64_t i = 0; i < set->n; ++i) {
      EXPECT_EQ(set->labels[static_cast<size_t>(i)], i % 12);  // interleaved
      EXPECT_EQ(set->coarse_labels[static_cast<size_t>(i)], (i % 12) / 3);
    }
    EXPECT_NE(set->source.find("synthetic"), std::string::npos);
  }
  // Without super-classes: no coarse labels.
  s.num_coarse = 0;
  const DataSets e = stiffness::make_synthetic(s);
  EXPECT_TRUE(e.train.coarse_labels.empty());
  EXPECT_EQ(e.train.num_coarse, 0);
}

TEST(Synthetic, UnevenSuperClasses) {
  // 10 classes in 3 super-classes: sizes 4, 3, 3 (c * 3 / 10), none empty.
  stiffness::SyntheticSpec s;
  s.num_coarse = 3;
  s.train_per_class = 1;
  s.val_per_class = 1;
  const DataSets d = stiffness::make_synthetic(s);
  EXPECT_EQ(d.train.coarse_labels, (std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1, 2, 2, 2}));
}

TEST(Synthetic, DeterministicPerSeed) {
  stiffness::SyntheticSpec s;
  s.num_coarse = 2;
  s.seed = 17;
  const DataSets a = stiffness::make_synthetic(s);
  const DataSets b = stiffness::make_synthetic(s);
  EXPECT_EQ(a.train.pixels, b.train.pixels);
  EXPECT_EQ(a.val.pixels, b.val.pixels);
  s.seed = 18;
  const DataSets c = stiffness::make_synthetic(s);
  EXPECT_NE(a.train.pixels, c.train.pixels);
  EXPECT_NE(a.val.pixels, c.val.pixels);
  // Train and validation come from separate streams: the validation set does
  // not depend on the size of the training set.
  s.seed = 17;
  s.train_per_class = 3;
  const DataSets e = stiffness::make_synthetic(s);
  EXPECT_EQ(e.val.pixels, a.val.pixels);
  EXPECT_EQ(std::vector<float>(a.train.pixels.begin(), a.train.pixels.begin() + 30 * 64), e.train.pixels);
}

TEST(Synthetic, PinnedValues) {
  // mt19937_64 is fully specified and Box-Muller is ours, so values depend
  // only on libm's log/sqrt/sin/cos (correct to within an ulp): pinned to
  // catch a change of the generator, which would silently change the data.
  stiffness::SyntheticSpec s;
  s.num_coarse = 2;
  s.seed = 5;
  s.train_per_class = 1;
  s.val_per_class = 1;
  const DataSets d = stiffness::make_synthetic(s);
  const std::vector<float> want_train = {-1.41283953f, -0.886529267f, 1.02142966f, 0.539075077f,
                                         -2.00854564f, 0.910817683f,  0.0993146673f, 0.199596524f};
  const std::vector<float> want_val = {0.181227192f, -0.599760175f, -0.943423629f, 2.31415129f,
                                       0.172368214f, 2.73694134f,   0.993251264f,  -0.678058147f};
  for (size_t i = 0; i < want_train.size(); ++i) EXPECT_NEAR(d.train.pixels[i], want_train[i], 1e-5) << i;
  for (size_t i = 0; i < want_val.size(); ++i) EXPECT_NEAR(d.val.pixels[i], want_val[i], 1e-5) << i;
}

TEST(Synthetic, NormalsAreStandard) {
  // With zero scales the examples are pure noise: mean 0, variance noise^2,
  // and about 68.3% within one standard deviation.
  stiffness::SyntheticSpec s;
  s.coarse_scale = 0;
  s.class_scale = 0;
  s.noise = 2.0;
  s.train_per_class = 500;  // 10 * 500 * 64 = 320000 draws
  const DataSets d = stiffness::make_synthetic(s);
  double sum = 0, sq = 0;
  int64_t within = 0;
  for (float v : d.train.pixels) {
    sum += v;
    sq += double(v) * v;
    within += std::fabs(v) < 2.0f;
  }
  const double n = static_cast<double>(d.train.pixels.size());
  EXPECT_NEAR(sum / n, 0.0, 0.02);
  EXPECT_NEAR(sq / n, 4.0, 0.05);
  EXPECT_NEAR(within / n, 0.6827, 0.005);
}

TEST(Synthetic, ClassAndSuperClassStructure) {
  stiffness::SyntheticSpec s;
  s.num_classes = 8;
  s.num_coarse = 2;
  s.train_per_class = 30;
  s.seed = 3;
  const ImageSet t = stiffness::make_synthetic(s).train;
  // Mean squared distance between examples: same class < same super-class,
  // other class < other super-class.
  double sum[3] = {0, 0, 0};
  int64_t cnt[3] = {0, 0, 0};
  for (int64_t i = 0; i < t.n; ++i)
    for (int64_t j = i + 1; j < t.n; ++j) {
      const size_t ui = static_cast<size_t>(i), uj = static_cast<size_t>(j);
      const int k = t.labels[ui] == t.labels[uj] ? 0 : t.coarse_labels[ui] == t.coarse_labels[uj] ? 1 : 2;
      sum[k] += dist2(t, i, j);
      ++cnt[k];
    }
  const double within = sum[0] / cnt[0], same_super = sum[1] / cnt[1], other_super = sum[2] / cnt[2];
  // Expected: 2D noise^2 = 128, 2D (noise^2 + class^2) = 160 and
  // 2D (noise^2 + class^2 + coarse^2) = 288 for D = 64 (only roughly: the
  // prototypes are random).
  EXPECT_LT(within, same_super);
  EXPECT_LT(same_super, other_super);
  EXPECT_NEAR(within, 128.0, 10.0);

  // Nearest class mean classifies held-out examples well.
  const ImageSet v = stiffness::make_synthetic(s).val;
  const int64_t D = t.example_size();
  std::vector<double> mean(static_cast<size_t>(8 * D), 0.0);
  for (int64_t i = 0; i < t.n; ++i)
    for (int64_t k = 0; k < D; ++k)
      mean[static_cast<size_t>(t.labels[static_cast<size_t>(i)] * D + k)] += t.pixels[static_cast<size_t>(i * D + k)] / 30.0;
  int correct = 0;
  for (int64_t i = 0; i < v.n; ++i) {
    int64_t best = -1;
    double best_d = 1e300;
    for (int64_t c = 0; c < 8; ++c) {
      double dd = 0;
      for (int64_t k = 0; k < D; ++k) {
        const double t2 = v.pixels[static_cast<size_t>(i * D + k)] - mean[static_cast<size_t>(c * D + k)];
        dd += t2 * t2;
      }
      if (dd < best_d) best_d = dd, best = c;
    }
    correct += best == v.labels[static_cast<size_t>(i)];
  }
  EXPECT_GT(correct, v.n * 8 / 10);
}

TEST(Synthetic, Errors) {
  stiffness::SyntheticSpec s;
  s.num_coarse = 11;
  expect_error([&] { stiffness::make_synthetic(s); }, {"synthetic", "super-classes", "11"});
  s.num_coarse = 0;
  s.num_classes = 0;
  expect_error([&] { stiffness::make_synthetic(s); }, {"synthetic", "classes", "got 0"});
  s.num_classes = 10;
  s.height = 0;
  expect_error([&] { stiffness::make_synthetic(s); }, {"synthetic", "shape", "1x0x8"});
  s.height = 8;
  s.val_per_class = 0;
  expect_error([&] { stiffness::make_synthetic(s); }, {"synthetic", "per class"});
  s.val_per_class = 1;
  s.noise = -1;
  expect_error([&] { stiffness::make_synthetic(s); }, {"synthetic", "noise"});
}

// ============================== Dispatcher ==============================

using Dispatch = Cifar;

TEST_F(Dispatch, UnknownFormat) {
  DataSpec spec;
  spec.format = "mnist";
  expect_error([&] { stiffness::load_dataset(spec); },
               {"--data-format: unknown format 'mnist', expected idx, cifar10, cifar100, hdf5 or synthetic"});
}

TEST_F(Dispatch, Idx) {
  auto idx = [](const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
    std::vector<uint8_t> out = {0, 0, 8, static_cast<uint8_t>(dims.size())};
    for (uint32_t d : dims)
      for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(d >> s));
    out.insert(out.end(), data.begin(), data.end());
    return out;
  };
  write_raw(path("train-images-idx3-ubyte"), idx({3, 2, 2}, std::vector<uint8_t>(12, 255)));
  write_raw(path("train-labels-idx1-ubyte"), idx({3}, {0, 4, 2}));
  write_raw(path("t10k-images-idx3-ubyte"), idx({2, 2, 2}, std::vector<uint8_t>(8, 0)));
  write_raw(path("t10k-labels-idx1-ubyte"), idx({2}, {1, 6}));
  DataSpec spec;
  spec.path = dir_;
  const DataSets d = stiffness::load_dataset(spec);  // defaults: idx, 10 classes
  EXPECT_EQ(d.train.n, 3);
  EXPECT_EQ(d.val.n, 2);
  EXPECT_EQ(d.train.num_classes, 10);
  EXPECT_EQ(d.val.labels, (std::vector<int64_t>{1, 6}));
  spec.num_classes = 0;  // from the data: 1 + largest label of both splits
  const DataSets e = stiffness::load_dataset(spec);
  EXPECT_EQ(e.train.num_classes, 7);
  EXPECT_EQ(e.val.num_classes, 7);
  spec.num_classes = 5;
  expect_error([&] { stiffness::load_dataset(spec); }, {"t10k-labels-idx1-ubyte", "out of range", "found 6"});
}

TEST_F(Dispatch, Cifar) {
  write_cifar10(path("c10"));
  write_cifar100(path("c100"));
  DataSpec spec;
  spec.format = "cifar10";
  spec.path = path("c10");
  DataSets d = stiffness::load_dataset(spec);
  EXPECT_EQ(d.train.n, 11);
  EXPECT_EQ(d.val.n, 4);
  spec.num_classes = 0;
  EXPECT_EQ(stiffness::load_dataset(spec).val.num_classes, 10);
  spec.num_classes = 7;
  expect_error([&] { stiffness::load_dataset(spec); }, {"--num-classes", "cifar10 has 10 classes", "got 7"});

  spec.format = "cifar100";
  spec.path = path("c100");
  spec.num_classes = 10;  // the default does not fit CIFAR-100
  expect_error([&] { stiffness::load_dataset(spec); }, {"--num-classes", "cifar100 has 100 classes", "got 10"});
  spec.num_classes = 100;
  d = stiffness::load_dataset(spec);
  EXPECT_EQ(d.train.n, 9);
  EXPECT_EQ(d.val.n, 3);
  EXPECT_EQ(d.train.num_coarse, 20);
  spec.num_coarse = 5;
  expect_error([&] { stiffness::load_dataset(spec); }, {"--num-coarse", "synthetic"});
}

TEST_F(Dispatch, Hdf5) {
  const std::string p = path("d.h5");
  write_h5(p, [](hid_t root) {
    put_split(root, "train", 6, {1, 2, 2}, 3, 2);
    put_split(root, "val", 3, {1, 2, 2}, 3, 2);
  });
  DataSpec spec;
  spec.format = "hdf5";
  spec.path = p;
  spec.num_classes = 0;
  const DataSets d = stiffness::load_dataset(spec);
  EXPECT_EQ(d.train.n, 6);
  EXPECT_EQ(d.train.num_classes, 3);
  EXPECT_EQ(d.val.num_coarse, 2);
  spec.path = "";
  expect_error([&] { stiffness::load_dataset(spec); }, {"hdf5", "path"});
}

TEST(DispatchSynthetic, Synthetic) {
  DataSpec spec;
  spec.format = "synthetic";
  spec.num_classes = 0;  // 10
  spec.num_coarse = 5;
  spec.seed = 9;
  spec.synthetic_train_per_class = 4;
  spec.synthetic_val_per_class = 2;
  spec.synthetic_size = 6;
  const DataSets d = stiffness::load_dataset(spec);
  EXPECT_EQ(d.train.n, 40);
  EXPECT_EQ(d.val.n, 20);
  EXPECT_EQ(d.train.channels, 1);
  EXPECT_EQ(d.train.height, 6);
  EXPECT_EQ(d.train.width, 6);
  EXPECT_EQ(d.train.num_classes, 10);
  EXPECT_EQ(d.train.num_coarse, 5);
  stiffness::SyntheticSpec s;
  s.num_coarse = 5;
  s.seed = 9;
  s.train_per_class = 4;
  s.val_per_class = 2;
  s.height = s.width = 6;
  EXPECT_EQ(stiffness::make_synthetic(s).train.pixels, d.train.pixels);
}

TEST(SamplePerClass, HundredClassSynthetic) {
  // CIFAR-100 sized measurement: 30 per class of 100 classes, 3000 examples.
  stiffness::SyntheticSpec s;
  s.num_classes = 100;
  s.num_coarse = 20;
  s.height = s.width = 2;
  s.train_per_class = 45;
  s.val_per_class = 30;
  const DataSets d = stiffness::make_synthetic(s);
  const auto tr = stiffness::sample_per_class(d.train.labels, 100, 30, 1, "train set");
  const auto va = stiffness::sample_per_class(d.val.labels, 100, 30, 1, "validation set");
  ASSERT_EQ(tr.size(), 3000u);
  ASSERT_EQ(va.size(), 3000u);
  for (size_t i = 0; i < tr.size(); ++i) {
    EXPECT_EQ(d.train.labels[static_cast<size_t>(tr[i])], static_cast<int64_t>(i / 30));
    EXPECT_EQ(d.val.labels[static_cast<size_t>(va[i])], static_cast<int64_t>(i / 30));
  }
  EXPECT_EQ(std::set<int64_t>(tr.begin(), tr.end()).size(), 3000u);
}

}  // namespace
