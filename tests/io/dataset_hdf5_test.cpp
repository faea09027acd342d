// The generic HDF5 dataset layout: round trips through small files written
// here, shapes, element types, the scale attribute, the number of classes,
// and every malformed-input error.
//
// The HDF5 loader reads through the MPI-IO driver (on MPI_COMM_SELF), so MPI
// must be initialised. unit_io links gtest_main, which does not do it: the
// environment below, registered for the whole of unit_io (the dispatcher's
// tests in dataset_test.cpp read HDF5 too), calls MPI_Init before the first
// test and MPI_Finalize after the last, unless someone else already did.

#include <gtest/gtest.h>
#include <hdf5.h>
#include <mpi.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "dataset_files.hpp"
#include "stiffness/io/dataset.hpp"
#include "stiffness/io/h5.hpp"
#include "stiffness/runtime/error.hpp"

using namespace stiffness::test_support;
using stiffness::DataSets;

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

}  // namespace
