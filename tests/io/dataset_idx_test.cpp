// IDX reading and MNIST loading: round trips through small generated files
// (raw and gzipped), every malformed-input error, and the real Fashion-MNIST
// that the setup script installs.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "dataset_files.hpp"
#include "stiffness/io/dataset.hpp"
#include "stiffness/runtime/error.hpp"

namespace fs = std::filesystem;
using namespace stiffness::test_support;

namespace {

// IDX files in a fresh directory (TempDir).
class DatasetFiles : public TempDir {
 protected:
  void write(const std::string& name, const std::vector<uint8_t>& bytes, bool gz) {
    if (gz)
      write_gz(path(name), bytes);
    else
      write_raw(path(name), bytes);
  }

  // A small dataset: n images of h x w with every byte value used, labels
  // cycling through `classes` values.
  static constexpr uint32_t kN = 7, kH = 3, kW = 5;
  std::vector<uint8_t> pixels() const {
    std::vector<uint8_t> p(kN * kH * kW);
    for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
    p[0] = 0;
    p[1] = 255;
    return p;
  }
  std::vector<uint8_t> labels(int classes) const {
    std::vector<uint8_t> l(kN);
    for (size_t i = 0; i < l.size(); ++i) l[i] = static_cast<uint8_t>((i * 2) % classes);
    return l;
  }
  // Writes `<prefix>-images-idx3-ubyte[.gz]` and `<prefix>-labels-idx1-ubyte[.gz]`.
  void write_set(const std::string& prefix, bool gz, const std::vector<uint8_t>& img,
                 const std::vector<uint8_t>& lbl) {
    const std::string ext = gz ? ".gz" : "";
    write(prefix + "-images-idx3-ubyte" + ext, img, gz);
    write(prefix + "-labels-idx1-ubyte" + ext, lbl, gz);
  }
};

class DatasetFormats : public DatasetFiles, public ::testing::WithParamInterface<bool> {
 protected:
  bool gz() const { return GetParam(); }
  std::string ext() const { return gz() ? ".gz" : ""; }
};

INSTANTIATE_TEST_SUITE_P(RawAndGzip, DatasetFormats, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "gzip" : "raw"; });

TEST_P(DatasetFormats, ReadIdxRoundTrip) {
  const auto data = pixels();
  write("a.idx", idx_bytes({kN, kH, kW}, data), gz());
  const auto arr = stiffness::read_idx(path("a.idx"), 3);
  EXPECT_EQ(arr.dims, (std::vector<int64_t>{kN, kH, kW}));
  EXPECT_EQ(arr.data, data);

  write("b.idx", idx_bytes({kN}, labels(3)), gz());
  const auto lab = stiffness::read_idx(path("b.idx"), 1);
  EXPECT_EQ(lab.dims, (std::vector<int64_t>{kN}));
  EXPECT_EQ(lab.data, labels(3));
}

TEST_P(DatasetFormats, LoadMnistRoundTrip) {
  const auto px = pixels();
  const auto lb = labels(4);
  write_set("train", gz(), idx_bytes({kN, kH, kW}, px), idx_bytes({kN}, lb));
  const auto set = stiffness::load_mnist(dir_, "train", 4);
  EXPECT_EQ(set.n, kN);
  EXPECT_EQ(set.channels, 1);
  EXPECT_EQ(set.height, kH);
  EXPECT_EQ(set.width, kW);
  EXPECT_EQ(set.num_classes, 4);
  EXPECT_EQ(set.example_size(), kH * kW);
  EXPECT_TRUE(set.coarse_labels.empty());  // MNIST has no super-classes
  EXPECT_EQ(set.num_coarse, 0);
  ASSERT_EQ(set.pixels.size(), px.size());
  for (size_t i = 0; i < px.size(); ++i) {
    ASSERT_EQ(set.pixels[i], static_cast<float>(px[i]) / 255.0f) << "pixel " << i;
  }
  EXPECT_EQ(set.pixels[0], 0.0f);
  EXPECT_EQ(set.pixels[1], 1.0f);
  ASSERT_EQ(set.labels.size(), lb.size());
  for (size_t i = 0; i < lb.size(); ++i) EXPECT_EQ(set.labels[i], lb[i]) << "label " << i;
  EXPECT_NE(set.source.find(path("train-images-idx3-ubyte" + ext())), std::string::npos) << set.source;
  EXPECT_NE(set.source.find(path("train-labels-idx1-ubyte" + ext())), std::string::npos) << set.source;
}

TEST_P(DatasetFormats, Truncated) {
  auto bytes = idx_bytes({kN, kH, kW}, pixels());
  bytes.resize(bytes.size() - 10);
  write("trunc.idx", bytes, gz());
  expect_error([&] { stiffness::read_idx(path("trunc.idx"), 3); },
               {"trunc.idx", "truncated", std::to_string(kN * kH * kW), std::to_string(kN * kH * kW - 10)});

  // Cut inside the dimension sizes, and inside the magic.
  write("hdr.idx", std::vector<uint8_t>(bytes.begin(), bytes.begin() + 9), gz());
  expect_error([&] { stiffness::read_idx(path("hdr.idx"), 3); }, {"hdr.idx", "truncated"});
  write("short.idx", {0, 0}, gz());
  expect_error([&] { stiffness::read_idx(path("short.idx"), 3); }, {"short.idx", "truncated"});
  write("empty.idx", {}, gz());
  expect_error([&] { stiffness::read_idx(path("empty.idx"), 1); }, {"empty.idx", "truncated"});
}

TEST_P(DatasetFormats, BadMagic) {
  auto bytes = idx_bytes({kN, kH, kW}, pixels());
  bytes[0] = 0x1f;
  write("m0.idx", bytes, gz());
  expect_error([&] { stiffness::read_idx(path("m0.idx"), 3); }, {"m0.idx", "magic"});

  // Data type 0x0D (float) instead of 0x08 (unsigned byte).
  write("m2.idx", idx_bytes({kN, kH, kW}, pixels(), 0x0D), gz());
  expect_error([&] { stiffness::read_idx(path("m2.idx"), 3); }, {"m2.idx", "magic", "0x08", "0x0d"});
}

TEST_P(DatasetFormats, WrongNdim) {
  write("nd.idx", idx_bytes({kN, kH * kW}, pixels()), gz());
  expect_error([&] { stiffness::read_idx(path("nd.idx"), 3); }, {"nd.idx", "expected 3 dimensions, found 2"});
  // A labels file given where images are expected, through load_mnist.
  write_set("train", gz(), idx_bytes({kN}, labels(3)), idx_bytes({kN}, labels(3)));
  expect_error([&] { stiffness::load_mnist(dir_, "train", 3); },
               {"train-images-idx3-ubyte", "expected 3 dimensions, found 1"});
}

TEST_P(DatasetFormats, BadDims) {
  write("zero.idx", idx_bytes({kN, 0, kW}, {}), gz());
  expect_error([&] { stiffness::read_idx(path("zero.idx"), 3); }, {"zero.idx", "dimension 1 is 0"});
  // 2^32-1 cubed: rejected from the header, before any allocation.
  write("huge.idx", idx_bytes({0xffffffffu, 0xffffffffu, 0xffffffffu}, {1, 2, 3}), gz());
  expect_error([&] { stiffness::read_idx(path("huge.idx"), 3); }, {"huge.idx", "absurd"});
}

TEST_P(DatasetFormats, ExtraBytes) {
  auto bytes = idx_bytes({kN}, labels(3));
  bytes.push_back(1);
  bytes.push_back(2);
  bytes.push_back(3);
  write("extra.idx", bytes, gz());
  expect_error([&] { stiffness::read_idx(path("extra.idx"), 1); }, {"extra.idx", "3 extra bytes"});
}

TEST_P(DatasetFormats, LabelOutOfRange) {
  auto lb = labels(3);
  lb[4] = 3;
  write_set("t10k", gz(), idx_bytes({kN, kH, kW}, pixels()), idx_bytes({kN}, lb));
  expect_error([&] { stiffness::load_mnist(dir_, "t10k", 3); },
               {"t10k-labels-idx1-ubyte", "out of range", "index 4", "found 3"});
  // The same file is fine with more classes.
  EXPECT_NO_THROW(stiffness::load_mnist(dir_, "t10k", 4));
}

TEST_P(DatasetFormats, CountMismatch) {
  write_set("train", gz(), idx_bytes({kN, kH, kW}, pixels()), idx_bytes({kN - 1}, {0, 1, 2, 0, 1, 2}));
  expect_error([&] { stiffness::load_mnist(dir_, "train", 3); },
               {"train-labels-idx1-ubyte", "train-images-idx3-ubyte", "mismatch", std::to_string(kN),
                std::to_string(kN - 1)});
}

TEST_F(DatasetFiles, TruncatedGzipStream) {
  // A gzip file cut short (e.g. an interrupted download): the compressed
  // stream ends early, which must read as truncation, not as a short file.
  std::vector<uint8_t> data(20000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>((i * i) % 251);
  write_gz(path("full.gz"), idx_bytes({100, 200}, data));
  auto gz = read_all(path("full.gz"));
  ASSERT_GT(gz.size(), 100u);
  gz.resize(gz.size() / 2);
  write_raw(path("cut.gz"), gz);
  expect_error([&] { stiffness::read_idx(path("cut.gz"), 2); }, {"cut.gz", "truncated", "20000"});
  EXPECT_EQ(stiffness::read_idx(path("full.gz"), 2).data, data);
}

TEST_F(DatasetFiles, MissingFiles) {
  expect_error([&] { stiffness::read_idx(path("nope.idx"), 1); }, {"nope.idx", "cannot open"});

  // Nothing there: the images are looked for first, under both names.
  expect_error([&] { stiffness::load_mnist(dir_, "train", 10); },
               {path("train-images-idx3-ubyte.gz"), path("train-images-idx3-ubyte"), "not found"});
  // Images present, labels missing.
  write_raw(path("train-images-idx3-ubyte"), idx_bytes({kN, kH, kW}, pixels()));
  expect_error([&] { stiffness::load_mnist(dir_, "train", 10); },
               {path("train-labels-idx1-ubyte.gz"), path("train-labels-idx1-ubyte"), "not found"});
  // Mixed: raw images, gzipped labels.
  write_gz(path("train-labels-idx1-ubyte.gz"), idx_bytes({kN}, labels(10)));
  const auto set = stiffness::load_mnist(dir_, "train", 10);
  EXPECT_EQ(set.n, kN);
  // A missing directory.
  expect_error([&] { stiffness::load_mnist(path("no_such_dir"), "t10k", 10); },
               {"no_such_dir", "t10k-images-idx3-ubyte", "not found"});
}

TEST_F(DatasetFiles, GzipPreferredOverRaw) {
  // Both present: the .gz is read (here it has different content).
  write_set("train", false, idx_bytes({kN, kH, kW}, pixels()), idx_bytes({kN}, labels(3)));
  write_set("train", true, idx_bytes({2, 1, 1}, {10, 20}), idx_bytes({2}, {1, 0}));
  const auto set = stiffness::load_mnist(dir_, "train", 3);
  EXPECT_EQ(set.n, 2);
  EXPECT_EQ(set.labels, (std::vector<int64_t>{1, 0}));
}


// --- The real Fashion-MNIST, installed by scripts/install-deps.sh ---

TEST(FashionMnist, RealFiles) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " not installed (Debian package dataset-fashion-mnist)";
  struct Expect {
    const char* prefix;
    int64_t n, per_class;
  };
  for (const Expect& e : {Expect{"train", 60000, 6000}, Expect{"t10k", 10000, 1000}}) {
    SCOPED_TRACE(e.prefix);
    const auto set = stiffness::load_mnist(dir, e.prefix, 10);
    EXPECT_EQ(set.n, e.n);
    EXPECT_EQ(set.channels, 1);
    EXPECT_EQ(set.height, 28);
    EXPECT_EQ(set.width, 28);
    EXPECT_EQ(set.num_classes, 10);
    ASSERT_EQ(set.pixels.size(), static_cast<size_t>(e.n * 28 * 28));
    ASSERT_EQ(set.labels.size(), static_cast<size_t>(e.n));
    std::vector<int64_t> counts(10, 0);
    for (int64_t y : set.labels) {
      ASSERT_GE(y, 0);
      ASSERT_LT(y, 10);
      ++counts[static_cast<size_t>(y)];
    }
    for (int c = 0; c < 10; ++c) EXPECT_EQ(counts[c], e.per_class) << "class " << c;
    const auto [lo, hi] = std::minmax_element(set.pixels.begin(), set.pixels.end());
    EXPECT_EQ(*lo, 0.0f);
    EXPECT_EQ(*hi, 1.0f);
    const auto s = stiffness::sample_per_class(set.labels, 10, 100, 0, e.prefix);
    EXPECT_EQ(s.size(), 1000u);
  }
}

}  // namespace
