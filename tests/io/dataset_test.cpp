// The format dispatcher load_dataset: each --data-format reaches its reader
// with the spec's paths and class counts, and says what is wrong in one
// line.

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dataset_files.hpp"
#include "stiffness/io/dataset.hpp"
#include "stiffness/runtime/error.hpp"

using namespace stiffness::test_support;
using stiffness::DataSets;
using stiffness::DataSpec;

namespace {

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

}  // namespace
