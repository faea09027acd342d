// The run file's writer (run_file.hpp) and reader (run_reader.hpp) under
// mpiexec (1..4 ranks): every rank writes its own rows of K, rank 0 reads
// the file back on MPI_COMM_SELF while the others wait. Also the states a
// crash or a preemption leaves: a measurement in progress, a suspended
// .partial file, a resume that cuts back to the checkpoint's measurements.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "stiffness/runtime/error.hpp"
#include "stiffness/runtime/mpi_comm.hpp"
#include "stiffness/analysis/metrics.hpp"
#include "stiffness/io/h5.hpp"
#include "stiffness/io/run_file.hpp"
#include "stiffness/io/run_reader.hpp"
#include "stiffness/io/run_schema.hpp"

namespace fs = std::filesystem;
using namespace stiffness;

namespace {

constexpr int64_t kN = 7;        // examples in the sample
constexpr int64_t kClasses = 3;  // classes
constexpr int64_t kBins = 4;     // distance bins

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

// A folder all ranks agree on, made by rank 0 and removed when done: the
// temp dir plus rank 0's PID, so that the runs on 1..4 ranks do not collide.
struct SharedDir {
  fs::path dir;
  explicit SharedDir(const std::string& tag) {
    const char* env = std::getenv("STIFFNESS_TEST_TMP");
    long pid = static_cast<long>(getpid());
    MPI_Bcast(&pid, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    dir = fs::path(env && *env ? env : "/tmp") / ("run_file_" + std::to_string(pid) + "_" + tag);
    if (rank() == 0) {
      fs::remove_all(dir);
      fs::create_directories(dir);
    }
    MPI_Barrier(MPI_COMM_WORLD);
  }
  ~SharedDir() {
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank() == 0) fs::remove_all(dir);
  }
  std::string path(const std::string& name) const { return (dir / name).string(); }
};

// The message of the stiffness::Error that `f` throws ("" if none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

RunInfo run_info() {
  RunInfo i;
  i.version = "0.0.test";
  i.git_hash = "abc123";
  i.model = "mlp test";
  i.dataset = "synthetic";
  i.config_ini = "model = mlp\nlr = 0.125\nseed = 7\n";
  i.command_line = "stiffness train --lr 0.125";
  i.ranks = size();
  i.num_classes = kClasses;
  i.n_examples = kN;
  i.num_params = 42;
  return i;
}

SampleArrays sample() {
  SampleArrays s;
  for (int64_t i = 0; i < kN; ++i) {
    s.index.push_back(100 + i);
    s.label.push_back(i % kClasses);
    s.split.push_back(i < 4 ? 0 : 1);
  }
  s.class_order = {0, 1, 2};
  s.input_shape = {static_cast<hsize_t>(kN), 1, 2, 2};
  for (int64_t i = 0; i < kN * 4; ++i) s.inputs.push_back(0.25f * static_cast<float>(i));
  return s;
}

// Class and distance results whose every number depends on `step`, so a
// measurement read back can be told from any other.
StiffnessResults results(int64_t step) {
  StiffnessResults r;
  for (int set = 0; set < kNumPairSets; ++set) {
    const double base = static_cast<double>(step) + 0.1 * set;
    ClassStiffness& c = r.classes[set];
    c.classes = kClasses;
    for (int64_t k = 0; k < kClasses * kClasses; ++k) {
      c.cosine.push_back(base + 0.01 * k);
      c.sign.push_back(-base - 0.01 * k);
      c.pairs.push_back(k + set);
    }
    c.within_cosine = base + 0.001;
    c.between_cosine = base + 0.002;
    c.within_sign = base + 0.003;
    c.between_sign = base + 0.004;
    DistanceCurves& d = r.distance[set];
    for (int64_t b = 0; b <= kBins; ++b) d.edges.push_back(2.0 * b / kBins);
    for (int64_t b = 0; b < kBins; ++b) {
      d.within_cosine.push_back(base - b);
      d.within_sign.push_back(base + b);
      d.all_cosine.push_back(base * 2 - b);
      d.all_sign.push_back(base * 2 + b);
      d.within_pairs.push_back(b);
      d.all_pairs.push_back(2 * b);
    }
    d.xi_linear_cosine = base + 0.5;
    d.xi_linear_cosine_status = set == 1 ? "slope_not_negative" : "ok";
    d.xi_binned_cosine = base + 0.6;
    d.half_length_cosine = base + 0.7;
  }
  return r;
}

MeasurementInfo info_of(int64_t step, bool k_stored, DType k_type = DType::f64) {
  MeasurementInfo m;
  m.step = step;
  m.epoch = 0.5 * static_cast<double>(step);
  m.train_loss = 1.0 / (1 + step);
  m.train_accuracy = 0.25;
  m.val_loss = 2.0 / (1 + step);
  m.val_accuracy = 0.125;
  m.grad_plan = "fc1: factor";
  m.k_stored = k_stored;
  m.k_type = k_type;
  m.panel_mb = 8;
  return m;
}

double k_value(int64_t step, int64_t i, int64_t j) { return static_cast<double>(step * 1000 + i * 10 + j); }

// This rank's rows of K, dealt as the ring deals them: the first N % P ranks
// take one extra row. A rank may hold none (N < P does not occur here).
struct RankRows {
  int64_t lo = 0, hi = 0;
  RankRows() {
    const int64_t p = size(), r = rank(), base = kN / p, extra = kN % p;
    lo = r * base + std::min(r, extra);
    hi = lo + base + (r < extra ? 1 : 0);
  }
};

// Writes one measurement in the three collective steps, K as two blocks of
// this rank's rows (the first row alone, then the rest), so that ranks hold
// different block counts when N is not a multiple of P.
void write_measurement(OutputFile& out, int64_t step, bool k_stored, DType k_type, bool end = true) {
  const RankRows rows;
  std::vector<double> k64;
  std::vector<float> k32;
  for (int64_t i = rows.lo; i < rows.hi; ++i)
    for (int64_t j = 0; j < kN; ++j) {
      k64.push_back(k_value(step, i, j));
      k32.push_back(static_cast<float>(k_value(step, i, j)));
    }
  const void* data = k_type == DType::f32 ? static_cast<const void*>(k32.data()) : k64.data();
  const size_t elem = k_type == DType::f32 ? sizeof(float) : sizeof(double);
  std::vector<h5::Block2D> blocks;
  if (rows.hi > rows.lo) {
    blocks.push_back({static_cast<hsize_t>(rows.lo), 0, 1, kN, data});
    if (rows.hi - rows.lo > 1)
      blocks.push_back({static_cast<hsize_t>(rows.lo + 1), 0, static_cast<hsize_t>(rows.hi - rows.lo - 1), kN,
                        static_cast<const char*>(data) + kN * elem});
  }
  out.begin_measurement(kN, k_stored, k_type);
  if (k_stored) {
    const int64_t bytes = out.write_k(blocks);
    EXPECT_EQ(bytes, (rows.hi - rows.lo) * kN * static_cast<int64_t>(elem));
  }
  if (end) out.end_measurement(info_of(step, k_stored, k_type), results(step), {});
}

// Runs `f` on rank 0 only; the other ranks wait for it.
template <class F>
void on_rank0(F&& f) {
  if (rank() == 0) f();
  MPI_Barrier(MPI_COMM_WORLD);
}

void expect_measurement(const MeasurementValues& m, int64_t step) {
  const MeasurementInfo want = info_of(step, true);
  EXPECT_EQ(m.step, step);
  EXPECT_EQ(m.epoch, want.epoch);
  EXPECT_EQ(m.train_loss, want.train_loss);
  EXPECT_EQ(m.train_accuracy, want.train_accuracy);
  EXPECT_EQ(m.val_loss, want.val_loss);
  EXPECT_EQ(m.val_accuracy, want.val_accuracy);
  const StiffnessResults r = results(step);
  ASSERT_EQ(m.pair_sets.size(), static_cast<size_t>(kNumPairSets));
  for (int set = 0; set < kNumPairSets; ++set) {
    const PairSetValues& p = m.pair_sets[set];
    EXPECT_EQ(p.name, pair_set_name(set));
    EXPECT_EQ(p.within_cosine, r.classes[set].within_cosine);
    EXPECT_EQ(p.between_cosine, r.classes[set].between_cosine);
    EXPECT_EQ(p.within_sign, r.classes[set].within_sign);
    EXPECT_EQ(p.between_sign, r.classes[set].between_sign);
    ASSERT_TRUE(p.xi.has_value());
    EXPECT_EQ(*p.xi, r.distance[set].xi_linear_cosine);
    EXPECT_EQ(p.xi_status, r.distance[set].xi_linear_cosine_status);
    ASSERT_TRUE(p.half_length.has_value());
    EXPECT_EQ(*p.half_length, r.distance[set].half_length_cosine);
  }
}

std::vector<int64_t> read_steps(const RunValues& run) {
  std::vector<int64_t> steps;
  for (const auto& m : run.measurements) steps.push_back(m.step);
  return steps;
}

}  // namespace

TEST(RunFile, WrittenRunReadsBack) {
  SharedDir tmp("roundtrip");
  const std::string path = tmp.path("run.h5");
  MpiComm comm;
  {
    OutputFile out(path, comm.get(), comm);
    out.write_run(run_info());
    out.write_sample(sample());
    write_measurement(out, 0, true, DType::f64);
    write_measurement(out, 10, true, DType::f32);
    write_measurement(out, 20, false, DType::f64);
    EXPECT_EQ(out.measurements(), 3);
    out.finish();
  }
  on_rank0([&] {
    EXPECT_TRUE(fs::exists(path));
    EXPECT_FALSE(fs::exists(path + ".partial"));
    std::string why;
    const auto run = read_run(path, &why);
    ASSERT_TRUE(run.has_value()) << why;
    EXPECT_EQ(run->path, path);
    EXPECT_TRUE(run->complete);
    EXPECT_EQ(run->ranks, size());
    EXPECT_EQ(run->config_ini, run_info().config_ini);
    ASSERT_EQ(read_steps(*run), (std::vector<int64_t>{0, 10, 20}));
    for (const auto& m : run->measurements) expect_measurement(m, m.step);

    // What the reader does not cover, through the HDF5 layer.
    h5::File f = h5::File::open_read(path, MPI_COMM_SELF);
    const hid_t root = f.id();
    EXPECT_EQ(h5::read_attr_str(root, schema::root::kFormat), "stiffness/3");
    EXPECT_EQ(h5::read_attr_i64(root, schema::root::kComplete), 1);
    EXPECT_EQ(h5::read_attr_i64(root, schema::root::kNumMeasurements), 3);
    EXPECT_EQ(h5::read_i64(root, schema::root::kSteps), (std::vector<int64_t>{0, 10, 20}));
    EXPECT_EQ(h5::read_attr_str(root, schema::root::kModel), "mlp test");
    EXPECT_EQ(h5::read_attr_i64(root, schema::root::kNExamples), kN);
    EXPECT_FALSE(h5::exists(root, schema::measurement::kInProgress));
    {
      h5::Handle s = h5::open_group(root, schema::sample::kGroup);
      EXPECT_EQ(h5::read_i64(s.id(), schema::sample::kIndex), sample().index);
      EXPECT_EQ(h5::read_i64(s.id(), schema::sample::kLabel), sample().label);
      std::vector<hsize_t> dims;
      EXPECT_EQ(h5::read_f32(s.id(), schema::sample::kInputs, &dims), sample().inputs);
      EXPECT_EQ(dims, sample().input_shape);
      EXPECT_FALSE(h5::exists(s.id(), schema::sample::kCoarseLabel));
    }
    for (int64_t index = 0; index < 3; ++index) {
      const int64_t step = index * 10;
      h5::Handle g = h5::open_group(root, schema::measurement::path(index));
      const bool stored = step != 20;
      EXPECT_EQ(h5::read_attr_i64(g.id(), schema::measurement::kKStored), stored ? 1 : 0);
      ASSERT_EQ(h5::exists(g.id(), schema::measurement::kK), stored);
      if (!stored) continue;
      std::vector<hsize_t> dims;
      const auto k = h5::read_f64(g.id(), schema::measurement::kK, &dims);
      ASSERT_EQ(dims, (std::vector<hsize_t>{kN, kN}));
      for (int64_t i = 0; i < kN; ++i)
        for (int64_t j = 0; j < kN; ++j) EXPECT_EQ(k[i * kN + j], k_value(step, i, j)) << i << "," << j;
      h5::Handle d = h5::open_group(g.id(), schema::measurement::kDistance);
      h5::Handle tv = h5::open_group(d.id(), pair_set_name(kTrainVal));
      EXPECT_EQ(h5::read_f64(tv.id(), schema::distance::kWithinCosine), results(step).distance[kTrainVal].within_cosine);
      h5::Handle c = h5::open_group(g.id(), schema::measurement::kClassStiffness);
      h5::Handle vv = h5::open_group(c.id(), pair_set_name(kValVal));
      EXPECT_EQ(h5::read_f64(vv.id(), schema::classes::kCosine), results(step).classes[kValVal].cosine);
    }
    f.close();
  });
}

TEST(RunFile, SuspendLeavesPartialAndInProgressIsNotCounted) {
  SharedDir tmp("suspend");
  const std::string path = tmp.path("run.h5");
  MpiComm comm;
  {
    OutputFile out(path, comm.get(), comm);
    out.write_run(run_info());
    out.write_sample(sample());
    write_measurement(out, 0, true, DType::f64);
    // Begun, K written, never ended: what a crash or preemption mid-measurement leaves.
    write_measurement(out, 10, true, DType::f64, /*end=*/false);
    EXPECT_EQ(out.measurements(), 1);
    out.suspend();
  }
  on_rank0([&] {
    EXPECT_FALSE(fs::exists(path));
    ASSERT_TRUE(fs::exists(path + ".partial"));
    {
      h5::File f = h5::File::open_read(path + ".partial", MPI_COMM_SELF);
      EXPECT_EQ(h5::read_attr_i64(f.id(), schema::root::kComplete), 0);
      EXPECT_TRUE(h5::exists(f.id(), schema::measurement::kInProgress));
      EXPECT_FALSE(h5::exists(f.id(), schema::measurement::path(1)));
      EXPECT_FALSE(h5::exists(f.id(), schema::root::kSteps));
      f.close();
    }
    std::string why;
    EXPECT_FALSE(read_run(path + ".partial", &why).has_value());
    EXPECT_EQ(why, "incomplete run (attribute complete = 0)");
    const auto run = read_run(path + ".partial", &why, /*incomplete_ok=*/true);
    ASSERT_TRUE(run.has_value());
    EXPECT_FALSE(run->complete);
    ASSERT_EQ(read_steps(*run), (std::vector<int64_t>{0}));
    expect_measurement(run->measurements[0], 0);
  });
  // Resumed from a checkpoint taken after measurement 0: the in-progress
  // group goes, the run goes on and finishes under the final name.
  {
    OutputFile out(path, comm.get(), comm, OutputFile::Resume{1});
    EXPECT_EQ(out.measurements(), 1);
    write_measurement(out, 10, true, DType::f64);
    out.finish();
  }
  on_rank0([&] {
    EXPECT_FALSE(fs::exists(path + ".partial"));
    std::string why;
    const auto run = read_run(path, &why);
    ASSERT_TRUE(run.has_value()) << why;
    EXPECT_TRUE(run->complete);
    ASSERT_EQ(read_steps(*run), (std::vector<int64_t>{0, 10}));
    for (const auto& m : run->measurements) expect_measurement(m, m.step);
    h5::File f = h5::File::open_read(path, MPI_COMM_SELF);
    EXPECT_FALSE(h5::exists(f.id(), schema::measurement::kInProgress));
    EXPECT_EQ(h5::read_i64(f.id(), schema::root::kSteps), (std::vector<int64_t>{0, 10}));
    f.close();
  });
}

TEST(RunFile, ResumeCutsBackToTheCheckpointsMeasurements) {
  SharedDir tmp("cutback");
  const std::string path = tmp.path("run.h5");
  MpiComm comm;
  {
    OutputFile out(path, comm.get(), comm);
    out.write_run(run_info());
    out.write_sample(sample());
    for (int64_t step : {0, 10, 20}) write_measurement(out, step, true, DType::f64);
    out.suspend();
  }
  // A checkpoint that expects more measurements than the file holds.
  EXPECT_NE(error_of([&] { OutputFile(path, comm.get(), comm, OutputFile::Resume{5}); })
                .find("holds 3 measurements, the checkpoint expects 5"),
            std::string::npos);
  // Measurements 1 and 2 came after the checkpoint: measured again.
  {
    OutputFile out(path, comm.get(), comm, OutputFile::Resume{1});
    EXPECT_EQ(out.measurements(), 1);
    write_measurement(out, 15, false, DType::f64);
    out.finish();
  }
  on_rank0([&] {
    std::string why;
    const auto run = read_run(path, &why);
    ASSERT_TRUE(run.has_value()) << why;
    ASSERT_EQ(read_steps(*run), (std::vector<int64_t>{0, 15}));
    expect_measurement(run->measurements[0], 0);
    expect_measurement(run->measurements[1], 15);
    h5::File f = h5::File::open_read(path, MPI_COMM_SELF);
    EXPECT_FALSE(h5::exists(f.id(), schema::measurement::path(2)));
    EXPECT_EQ(h5::read_attr_i64(f.id(), schema::root::kNumMeasurements), 2);
    f.close();
  });
  // Nothing left to resume from.
  EXPECT_NE(error_of([&] { OutputFile(path, comm.get(), comm, OutputFile::Resume{1}); }).find("is missing"),
            std::string::npos);
}

TEST(RunFile, CheckOutputPathRefusals) {
  SharedDir tmp("check");
  on_rank0([&] {
    const std::string done = tmp.path("done.h5"), partial = tmp.path("left.h5");
    std::ofstream(done) << "x";
    std::ofstream(partial + ".partial") << "x";
    EXPECT_NE(error_of([&] { check_output_path(tmp.dir.string(), false); }).find("is a folder"),
              std::string::npos);
    EXPECT_NE(error_of([&] { check_output_path(done, false); }).find("already exists; pass --overwrite"),
              std::string::npos);
    EXPECT_NE(error_of([&] { check_output_path(partial, false); }).find("an unfinished earlier run left"),
              std::string::npos);
    EXPECT_NE(error_of([&] { check_output_path(done, false, /*resuming=*/true); }).find("is a finished run"),
              std::string::npos);
    EXPECT_EQ(error_of([&] { check_output_path(done, true); }), "");
    EXPECT_EQ(error_of([&] { check_output_path(partial, false, /*resuming=*/true); }), "");
    const std::string nested = tmp.path("a/b/run.h5");
    EXPECT_EQ(error_of([&] { check_output_path(nested, false); }), "");
    EXPECT_TRUE(fs::is_directory(tmp.dir / "a" / "b"));
  });
}

TEST(RunReader, FindsRunFilesSkipsPartialAndCheckpoints) {
  SharedDir tmp("find");
  on_rank0([&] {
    fs::create_directories(tmp.dir / "sub" / "run.ckpt");
    std::ofstream(tmp.path("sub/b.h5")) << "x";
    std::ofstream(tmp.path("a.h5")) << "x";
    std::ofstream(tmp.path("c.h5.partial")) << "x";
    std::ofstream(tmp.path("sub/run.ckpt/inner.h5")) << "x";
    std::ofstream(tmp.path("notes.txt")) << "x";
    const FoundFiles found = find_run_files({tmp.dir.string(), tmp.path("a.h5")});
    ASSERT_EQ(found.files.size(), 2u);
    EXPECT_EQ(found.files[0].path, tmp.path("a.h5"));
    EXPECT_TRUE(found.files[0].named);
    EXPECT_EQ(found.files[1].path, tmp.path("sub/b.h5"));
    EXPECT_FALSE(found.files[1].named);
    ASSERT_EQ(found.skipped.size(), 1u);
    EXPECT_NE(found.skipped[0].find("c.h5.partial"), std::string::npos);
    EXPECT_NE(error_of([&] { find_run_files({tmp.path("missing.h5")}); }).find("does not exist"),
              std::string::npos);
    // Not an HDF5 file: one line naming it.
    EXPECT_NE(error_of([&] { read_run(tmp.path("a.h5"), nullptr); }).find("is not an HDF5 file"),
              std::string::npos);
  });
}
