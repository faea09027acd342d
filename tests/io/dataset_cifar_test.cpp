// CIFAR-10/100 binary files: exact round trips through small files written
// here, pixel order, folder lookup and every malformed-input error.

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "dataset_files.hpp"
#include "stiffness/io/dataset.hpp"
#include "stiffness/runtime/error.hpp"

namespace fs = std::filesystem;
using namespace stiffness::test_support;

namespace {

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

}  // namespace
