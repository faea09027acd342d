// Small data files the dataset readers' tests write (IDX, CIFAR binary, the
// generic HDF5 layout), a temporary folder per test, and the check of a
// one-line stiffness::Error. Shared by tests/io/dataset*_test.cpp.
#pragma once

#include <gtest/gtest.h>
#include <hdf5.h>
#include <mpi.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <string>
#include <tuple>
#include <vector>

#include "stiffness/runtime/error.hpp"
#include "stiffness/io/dataset.hpp"
#include "stiffness/io/h5.hpp"

namespace stiffness::test_support {

namespace fs = std::filesystem;
using stiffness::Error;
using stiffness::ImageSet;

// Runs `fn`, expecting a stiffness::Error whose one-line message contains
// every string in `needles`.
inline void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> needles) {
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

inline void write_raw(const std::string& path, const std::vector<uint8_t>& bytes) {
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

inline void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()))
        << path;
  }
  ASSERT_EQ(gzclose(f), Z_OK) << path;
}

inline std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// ================================= IDX ==================================

// Bytes of an IDX file: magic 0x00 0x00 <type> <ndim>, big-endian uint32
// dimensions, then the payload.
inline std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data,
                               uint8_t type = 0x08) {
  std::vector<uint8_t> out = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    out.push_back(static_cast<uint8_t>(d >> 24));
    out.push_back(static_cast<uint8_t>(d >> 16));
    out.push_back(static_cast<uint8_t>(d >> 8));
    out.push_back(static_cast<uint8_t>(d));
  }
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// ================================ CIFAR =================================

inline constexpr int kPix = 3 * 32 * 32;

// The pixel byte of record `rec` of file `file` at channel c, row h, column w:
// different for (nearly) every position, so any mix-up of order shows.
inline uint8_t pixel_byte(int file, int rec, int c, int h, int w) {
  return static_cast<uint8_t>((file * 101 + rec * 53 + c * 71 + h * 7 + w * 3) % 256);
}

// One CIFAR record: the label bytes, then R, G and B planes, row-major.
inline void append_record(std::vector<uint8_t>& out, std::initializer_list<uint8_t> label_bytes, int file, int rec) {
  out.insert(out.end(), label_bytes);
  for (int c = 0; c < 3; ++c)
    for (int h = 0; h < 32; ++h)
      for (int w = 0; w < 32; ++w) out.push_back(pixel_byte(file, rec, c, h, w));
}

// Checks that example `n` of `set` holds record `rec` of file `file`.
inline void expect_record(const ImageSet& set, int64_t n, int file, int rec) {
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

template <class T>
inline hid_t native_type();
template <> inline hid_t native_type<float>() { return H5T_NATIVE_FLOAT; }
template <> inline hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }
template <> inline hid_t native_type<uint8_t>() { return H5T_NATIVE_UINT8; }
template <> inline hid_t native_type<int16_t>() { return H5T_NATIVE_INT16; }
template <> inline hid_t native_type<int32_t>() { return H5T_NATIVE_INT32; }
template <> inline hid_t native_type<int64_t>() { return H5T_NATIVE_INT64; }
template <> inline hid_t native_type<uint16_t>() { return H5T_NATIVE_UINT16; }
template <> inline hid_t native_type<uint32_t>() { return H5T_NATIVE_UINT32; }

// A dataset of shape `dims` stored with the element type of T (HDF5 C API,
// independent transfer: the file is open on MPI_COMM_SELF).
template <class T>
inline void put(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims, const std::vector<T>& v) {
  hsize_t count = 1;
  for (hsize_t d : dims) count *= d;
  ASSERT_EQ(count, v.size()) << name;
  stiffness::h5::Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  stiffness::h5::Handle ds(H5Dcreate2(loc, name.c_str(), native_type<T>(), space.id(), H5P_DEFAULT,
                                      H5P_DEFAULT, H5P_DEFAULT));
  if (count > 0) ASSERT_GE(H5Dwrite(ds.id(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), 0) << name;
}

// Creates `path` on MPI_COMM_SELF and lets `fill` write into its root group.
inline void write_h5(const std::string& path, const std::function<void(hid_t root)>& fill) {
  auto f = stiffness::h5::File::create(path, MPI_COMM_SELF);
  fill(f.id());
  f.close();
}

inline stiffness::h5::Handle group(hid_t root, const std::string& name) { return stiffness::h5::create_group(root, name); }

// The value of input element i of a split: distinct, exactly representable.
inline float input_value(int split, size_t i) { return static_cast<float>(split * 1000 + static_cast<int>(i)) * 0.25f - 7.0f; }

// A split with n examples of shape `ex` (float32), labels i % classes and,
// if coarse > 0, coarse labels (i % classes) % coarse.
inline void put_split(hid_t root, const std::string& name, hsize_t n, const std::vector<hsize_t>& ex, int classes,
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

}  // namespace stiffness::test_support
