// Parallel HDF5 layer under mpiexec (1..4 ranks). Every rank runs every test
// and calls every collective function; files are read back and compared.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "stiffness/runtime/error.hpp"
#include "stiffness/io/h5.hpp"

namespace h5 = stiffness::h5;
using stiffness::DType;

namespace {

int rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int size() {
  int s = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

// A path all ranks agree on: the temp dir plus rank 0's PID, so concurrent
// runs (np 1..4 under ctest -j) do not collide.
std::string shared_path(const std::string& tag) {
  const char* env = std::getenv("STIFFNESS_TEST_TMP");
  std::string dir = env && *env ? env : "/tmp";
  long pid = static_cast<long>(getpid());
  MPI_Bcast(&pid, 1, MPI_LONG, 0, MPI_COMM_WORLD);
  if (rank() == 0) std::filesystem::create_directories(dir);
  MPI_Barrier(MPI_COMM_WORLD);
  return dir + "/h5test_" + std::to_string(pid) + "_" + tag + ".h5";
}

// Removes the file once every rank is done with it.
struct Cleanup {
  std::string path;
  ~Cleanup() {
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank() == 0) std::filesystem::remove(path);
  }
};

// The message of the stiffness::Error that `f` throws ("" if none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const stiffness::Error& e) {
    return e.what();
  }
  return "";
}

// Row range of rank r when N rows are dealt to P ranks, the first N % P
// ranks taking one extra row.
std::pair<hsize_t, hsize_t> rows_of(int r, int p, hsize_t n) {
  hsize_t base = n / p, extra = n % p;
  hsize_t lo = r * base + std::min<hsize_t>(r, extra);
  return {lo, lo + base + (static_cast<hsize_t>(r) < extra ? 1 : 0)};
}

constexpr hsize_t kN = 10;

double value_at(hsize_t i, hsize_t j) { return static_cast<double>(i * 1000 + j); }

// Row-major values i*1000+j for rows [r0,r1) x cols [c0,c1).
template <class T>
std::vector<T> block_values(hsize_t r0, hsize_t r1, hsize_t c0, hsize_t c1) {
  std::vector<T> v;
  for (hsize_t i = r0; i < r1; ++i)
    for (hsize_t j = c0; j < c1; ++j) v.push_back(static_cast<T>(value_at(i, j)));
  return v;
}

// Owns block data and hands Block2D views of it to write_blocks.
template <class T>
struct Blocks {
  std::vector<std::vector<T>> data;
  std::vector<h5::Block2D> blocks;
  void add(hsize_t r0, hsize_t r1, hsize_t c0, hsize_t c1) {
    data.push_back(block_values<T>(r0, r1, c0, c1));
    blocks.push_back({r0, c0, r1 - r0, c1 - c0, nullptr});
  }
  const std::vector<h5::Block2D>& views() {
    for (size_t k = 0; k < blocks.size(); ++k) blocks[k].data = data[k].data();
    return blocks;
  }
};

// Reads matrix `name` back on the ranks of `comm` and checks every element.
template <class T>
void expect_matrix(const std::string& path, const std::string& name, MPI_Comm comm) {
  h5::File f = h5::File::open_read(path, comm);
  std::vector<hsize_t> dims;
  std::vector<T> m;
  if constexpr (std::is_same_v<T, float>) m = h5::read_f32(f.id(), name, &dims);
  else m = h5::read_f64(f.id(), name, &dims);
  ASSERT_EQ(dims, (std::vector<hsize_t>{kN, kN}));
  for (hsize_t i = 0; i < kN; ++i)
    for (hsize_t j = 0; j < kN; ++j)
      ASSERT_EQ(m[i * kN + j], static_cast<T>(value_at(i, j))) << "at (" << i << "," << j << ")";
  f.close();
}

}  // namespace

TEST(H5, RoundTripGroupsAttributesDatasets) {
  const std::string path = shared_path("roundtrip");
  Cleanup cleanup{path};
  const int writer = size() - 1;
  const bool w = rank() == writer;
  const std::vector<float> f32{1.5f, -2.25f, 3.0e-38f, 7.0f, 0.0f, -0.0f};
  const std::vector<double> f64{0.1, -1e300, 4.9e-324};
  const std::vector<int64_t> i64{std::numeric_limits<int64_t>::min(), -1, 0,
                                 std::numeric_limits<int64_t>::max()};
  const std::vector<uint8_t> u8{0, 1, 127, 128, 255};
  const double scalar = 2.718281828459045;
  const std::string text = "héllo, stiffness ✓";
  {
    h5::File f = h5::File::create(path, MPI_COMM_WORLD);
    h5::Handle layers = h5::create_group(f.id(), "model/layers");  // with intermediate group
    h5::Handle data = h5::create_group(f.id(), "data");
    h5::write_attr(f.id(), "count", int64_t{1});
    h5::write_attr(f.id(), "count", int64_t{-1234567890123});  // overwrites
    h5::write_attr(f.id(), "lr", 0.1);
    h5::write_attr(f.id(), "name", text);
    h5::write_attr(f.id(), "empty_str", std::string());
    h5::write_attr(layers.id(), "widths", std::vector<int64_t>{784, 100, 10});
    h5::write_attr(layers.id(), "scales", std::vector<double>{0.5, -1e-300, 1e300});
    h5::write_attr(layers.id(), "none", std::vector<double>{});
    // Only the writer's pointer is read; the others pass nullptr.
    h5::write_dataset(f, data.id(), "f32", {2, 3}, w ? f32.data() : nullptr, DType::f32, writer);
    h5::write_dataset(f, data.id(), "f64", {3}, w ? f64.data() : nullptr, DType::f64, writer);
    h5::write_dataset(f, data.id(), "i64", {2, 2}, w ? i64.data() : nullptr, DType::i64, writer);
    h5::write_dataset(f, data.id(), "u8", {5}, w ? u8.data() : nullptr, DType::u8, writer);
    h5::write_dataset(f, data.id(), "scalar", {}, w ? &scalar : nullptr, DType::f64, writer);
    h5::write_dataset(f, data.id(), "empty", {0, 4}, nullptr, DType::f64, writer);
    EXPECT_TRUE(h5::exists(f.id(), "model/layers"));
    EXPECT_TRUE(h5::exists(f.id(), "/model"));
    EXPECT_FALSE(h5::exists(f.id(), "model/nope"));
    EXPECT_FALSE(h5::exists(f.id(), "nope/deeper"));  // missing parent: false, not an error
    layers.close();
    data.close();
    f.close();
    EXPECT_FALSE(f.id() >= 0);
  }
  h5::File f = h5::File::open_read(path, MPI_COMM_WORLD);
  EXPECT_EQ(h5::list(f.id()), (std::vector<std::string>{"data", "model"}));
  EXPECT_EQ(h5::read_attr_i64(f.id(), "count"), -1234567890123);
  EXPECT_EQ(h5::read_attr_f64(f.id(), "lr"), 0.1);
  EXPECT_EQ(h5::read_attr_str(f.id(), "name"), text);
  EXPECT_EQ(h5::read_attr_str(f.id(), "empty_str"), "");
  EXPECT_TRUE(h5::attr_exists(f.id(), "lr"));
  EXPECT_FALSE(h5::attr_exists(f.id(), "nope"));
  {
    h5::Handle layers = h5::open_group(f.id(), "model/layers");
    EXPECT_EQ(h5::read_attr_i64s(layers.id(), "widths"), (std::vector<int64_t>{784, 100, 10}));
    EXPECT_EQ(h5::read_attr_f64s(layers.id(), "scales"), (std::vector<double>{0.5, -1e-300, 1e300}));
    EXPECT_TRUE(h5::read_attr_f64s(layers.id(), "none").empty());
  }
  h5::Handle data = h5::open_group(f.id(), "data");
  EXPECT_EQ(h5::list(data.id()), (std::vector<std::string>{"empty", "f32", "f64", "i64", "scalar", "u8"}));
  std::vector<hsize_t> dims;
  EXPECT_EQ(h5::read_f32(data.id(), "f32", &dims), f32);
  EXPECT_EQ(dims, (std::vector<hsize_t>{2, 3}));
  EXPECT_EQ(h5::read_f64(data.id(), "f64", &dims), f64);
  EXPECT_EQ(dims, (std::vector<hsize_t>{3}));
  EXPECT_EQ(h5::read_i64(data.id(), "i64", &dims), i64);
  EXPECT_EQ(dims, (std::vector<hsize_t>{2, 2}));
  EXPECT_EQ(h5::read_i64(data.id(), "u8", &dims), (std::vector<int64_t>{0, 1, 127, 128, 255}));
  EXPECT_EQ(h5::read_f64(data.id(), "scalar", &dims), (std::vector<double>{scalar}));
  EXPECT_TRUE(dims.empty());
  EXPECT_TRUE(h5::read_f64(data.id(), "empty", &dims).empty());
  EXPECT_EQ(dims, (std::vector<hsize_t>{0, 4}));
  // The memory type converts: integers read as doubles.
  EXPECT_EQ(h5::read_f64(data.id(), "u8"), (std::vector<double>{0, 1, 127, 128, 255}));
  data.close();
  f.close();
}

// Each rank writes its own rows; rank 0 splits its rows into 2 column blocks,
// the others write 1, so ranks disagree on their block counts.
TEST(H5, MatrixEveryRankWritesItsRows) {
  const std::string path = shared_path("matrix_rows");
  Cleanup cleanup{path};
  {
    h5::File f = h5::File::create(path, MPI_COMM_WORLD);
    h5::Matrix m = h5::Matrix::create(f, f.id(), "K", kN, kN, DType::f64);
    auto [lo, hi] = rows_of(rank(), size(), kN);
    Blocks<double> b;
    if (rank() == 0) {
      b.add(lo, hi, 0, 3);
      b.add(lo, hi, 3, kN);
    } else {
      b.add(lo, hi, 0, kN);
    }
    m.write_blocks(b.views());
    EXPECT_EQ(m.last_no_collective_cause(), 0u);
  }
  expect_matrix<double>(path, "K", MPI_COMM_WORLD);
}

// The last rank writes nothing; rank 0 writes its rows too, as blocks split in
// both directions, so rank 0 takes part in more collective writes with data.
TEST(H5, MatrixOneRankWritesNone) {
  const std::string path = shared_path("matrix_none");
  Cleanup cleanup{path};
  {
    h5::File f = h5::File::create(path, MPI_COMM_WORLD);
    h5::Handle g = h5::create_group(f.id(), "results");
    h5::Matrix m = h5::Matrix::create(f, g.id(), "K", kN, kN, DType::f32);
    const int p = size(), last = p - 1;
    Blocks<float> b;
    if (rank() != last || p == 1) {
      auto [lo, hi] = rows_of(rank(), p, kN);
      b.add(lo, hi, 0, kN);
    }
    if (rank() == 0) {
      auto [lo, hi] = rows_of(last, p, kN);
      if (p == 1) lo = hi;  // rank 0 is also the last rank: nothing more to do
      hsize_t mid = lo + (hi - lo) / 2;
      b.add(lo, mid, 0, 6);
      b.add(lo, mid, 6, kN);
      b.add(mid, hi, 0, kN);
    }
    m.write_blocks(b.views());
    EXPECT_EQ(m.last_no_collective_cause(), 0u);
  }
  // Read on rank 0 alone: with collective metadata reads that needs a file
  // opened on MPI_COMM_SELF (see h5.hpp).
  if (rank() == 0) expect_matrix<float>(path, "results/K", MPI_COMM_SELF);
}

// A bad block on one rank makes every rank throw instead of hanging the rest
// in a collective write.
TEST(H5, MatrixBadBlockThrowsOnAllRanks) {
  const std::string path = shared_path("matrix_bad");
  Cleanup cleanup{path};
  h5::File f = h5::File::create(path, MPI_COMM_WORLD);
  h5::Matrix m = h5::Matrix::create(f, f.id(), "K", kN, kN, DType::f64);
  std::vector<double> v(4, 1.0);
  std::vector<h5::Block2D> blocks;
  if (rank() == size() - 1) blocks.push_back({kN - 1, 0, 2, 2, v.data()});  // one row too far
  std::string msg = error_of([&] { m.write_blocks(blocks); });
  EXPECT_NE(msg.find("outside"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(H5, CreateInMissingDirectoryNamesThePath) {
  const std::string path = "/nonexistent_dir/x.h5";
  std::string msg = error_of([&] { h5::File::create(path, MPI_COMM_WORLD); });
  EXPECT_NE(msg.find(path), std::string::npos) << "got: '" << msg << "'";
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(H5, OpenMissingFileNamesThePath) {
  const std::string path = shared_path("does_not_exist");
  std::string msg = error_of([&] { h5::File::open_read(path, MPI_COMM_WORLD); });
  EXPECT_NE(msg.find(path), std::string::npos) << "got: '" << msg << "'";
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  msg = error_of([&] { h5::File::open_rw(path, MPI_COMM_WORLD); });
  EXPECT_NE(msg.find(path), std::string::npos) << "got: '" << msg << "'";
}

TEST(H5, MissingObjectsNameFileAndObject) {
  const std::string path = shared_path("missing");
  Cleanup cleanup{path};
  h5::File f = h5::File::create(path, MPI_COMM_WORLD);
  h5::Handle g = h5::create_group(f.id(), "grp");
  std::string msg = error_of([&] { h5::read_f64(g.id(), "nope"); });
  EXPECT_NE(msg.find(path + ":/grp/nope"), std::string::npos) << msg;
  msg = error_of([&] { h5::read_attr_i64(g.id(), "absent"); });
  EXPECT_NE(msg.find(path + ":/grp/absent"), std::string::npos) << msg;
  msg = error_of([&] { h5::open_group(f.id(), "nogroup"); });
  EXPECT_NE(msg.find(path + ":/nogroup"), std::string::npos) << msg;
  h5::write_attr(g.id(), "s", std::string("text"));
  msg = error_of([&] { h5::read_attr_f64(g.id(), "s"); });
  EXPECT_NE(msg.find(path + ":/grp/s"), std::string::npos) << msg;
}

// The MPI-IO driver will not close a file whose objects are still open; the
// error says so and a later close, after closing them, succeeds.
TEST(H5, CloseWithOpenGroupFailsThenSucceeds) {
  const std::string path = shared_path("close");
  Cleanup cleanup{path};
  h5::File f = h5::File::create(path, MPI_COMM_WORLD);
  h5::Handle g = h5::create_group(f.id(), "grp");
  std::string msg = error_of([&] { f.close(); });
  EXPECT_NE(msg.find("still open"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  g.close();
  EXPECT_NO_THROW(f.close());
  EXPECT_FALSE(f.id() >= 0);
}

TEST(H5, HandleOwnership) {
  EXPECT_THROW(h5::Handle(-1), stiffness::Error);
  h5::Handle a(H5Screate(H5S_SCALAR));
  hid_t id = a.id();
  h5::Handle b(std::move(a));
  EXPECT_FALSE(a.valid());
  EXPECT_EQ(b.id(), id);
  h5::Handle c;
  c = std::move(b);
  EXPECT_EQ(c.id(), id);
  EXPECT_GT(H5Iis_valid(id), 0);
  c.close();
  EXPECT_FALSE(c.valid());
  EXPECT_LE(H5Iis_valid(id), 0);  // really closed
}
