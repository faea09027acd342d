// The writer of the run's ONE output file (layout in docs/output-format.md;
// names and format version in run_schema.hpp; the reader in run_reader.hpp).
// All ranks write it together through parallel HDF5. It is written as
// `<output>.partial` and renamed to `<output>` only after every rank has
// closed it successfully, so a crash never leaves a file that looks complete;
// measurements finished before a crash stay readable in the .partial file.
#pragma once

#include <mpi.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "stiffness/runtime/comm.hpp"
#include "stiffness/io/h5.hpp"
#include "stiffness/analysis/metrics.hpp"

namespace stiffness {

struct RunInfo {
  std::string version, git_hash, torch_version, blas, hostname, created;
  std::string model, grad_plan, dataset, data_source;
  std::string config_ini, config_file, command_line;
  int64_t ranks = 1, threads_per_rank = 1, num_classes = 0, n_examples = 0;
  int64_t num_params = 0;
  std::string k_dtype = "float64";  // stored precision of K (@gram_dtype)
  std::string store_k = "every";    // which measurements store K (@store_k, as configured)
};

struct SampleArrays {
  std::vector<int64_t> index, label;  // dataset index (within its split) and class label
  std::vector<uint8_t> split;         // 0 = train, 1 = validation
  std::vector<int64_t> coarse;        // coarse (super-class) labels, empty when none
  std::vector<int64_t> class_order;   // fine class id of each row/column of the class matrices
  // The inputs exactly as fed to the model, row-major: `input_data` points
  // at them (owned by the caller, alive until write_sample returns; no copy
  // of N x c x h x w floats), or else they are in `inputs`.
  const float* input_data = nullptr;
  std::vector<float> inputs;
  std::vector<hsize_t> input_shape;   // N, C, H, W
};

// A named array one rank holds (rank 0 writes it), e.g. a parameter tensor.
struct NamedArray {
  std::string name;
  std::vector<hsize_t> shape;
  const void* data = nullptr;
  DType type = DType::f32;
};

struct MeasurementInfo {
  int64_t step = 0;
  double epoch = 0;
  double train_loss = 0, train_accuracy = 0, val_loss = 0, val_accuracy = 0;
  double seconds = 0;  // wall time of the measurement
  std::string grad_plan;
  bool k_stored = true;          // write K (else only the sums; --store-k)
  DType k_type = DType::f64;     // the type of the k_blocks' data, stored as is
  double peak_rss_mb = 0;        // the largest high-water mark of resident memory over ranks
  double device_memory_mb = -1;  // GPU ranks: the most device memory in use on any rank (else -1)
  double panel_mb = 0;           // the panel budget per rank (--panel-mb, or its default)
  double write_gbps = -1;        // K's bytes over the slowest rank's seconds in write_k (-1: K not stored)
  double gram_gflops = 0;        // the Gram's GEMM FLOPs over the slowest rank's seconds of arithmetic
};

// Fails with a one-line error if `path` or `path.partial` exists and
// `overwrite` is false. `resuming` (a checkpoint of this output exists): the
// .partial file is expected, but a finished `path` is refused, since the
// resumed run ends by renaming the .partial over it. Creates missing parent
// folders. Run on rank 0 only (inside a collective phase, so every rank
// learns the outcome).
void check_output_path(const std::string& path, bool overwrite, bool resuming = false);

class OutputFile {
 public:
  OutputFile(std::string final_path, MPI_Comm comm, Communicator& agree);
  // Reopens `<final_path>.partial` after a preemption, keeping the first
  // `measurements` measurement groups (later ones, if any, are removed).
  struct Resume {
    int64_t measurements;
  };
  OutputFile(std::string final_path, MPI_Comm comm, Communicator& agree, Resume r);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write_run(const RunInfo& info);
  void write_sample(const SampleArrays& s);
  // A measurement is written in three collective steps, so that K can be
  // streamed in panels: begin (the group, and K's dataset when stored), any
  // number of write_k rounds, end (attributes, class matrices, curves,
  // parameters). Until end the group is `measurement_in_progress` at the
  // root; end moves it to measurements/NNNNNN, so a reader never meets a
  // half-written measurement (a crash leaves it outside `measurements`, and
  // a resumed run removes it).
  void begin_measurement(int64_t n_total, bool k_stored, DType k_type);
  // Collective: every rank calls it the same number of times, each with its
  // own blocks of K (any number, possibly none). Returns the bytes this
  // rank wrote.
  int64_t write_k(const std::vector<h5::Block2D>& blocks);
  void end_measurement(const MeasurementInfo& m, const StiffnessResults& results,
                       const std::vector<NamedArray>& params);
  // All three at once, K given as whole blocks (tests).
  void write_measurement(const MeasurementInfo& m, int64_t n_total,
                         const std::vector<h5::Block2D>& k_blocks,
                         const StiffnessResults& results,
                         const std::vector<NamedArray>& params);
  // Marks complete, closes on all ranks, agrees that all succeeded, renames.
  void finish();
  // Closes the file on all ranks, leaving it as `.partial` (preemption); a
  // measurement begun and not ended is left as `measurement_in_progress`.
  void suspend();
  const std::string& partial_path() const { return partial_; }
  int64_t measurements() const { return count_; }

 private:
  std::string final_, partial_;
  MPI_Comm comm_;
  Communicator& agree_;
  std::unique_ptr<h5::File> file_;
  std::unique_ptr<h5::Handle> group_;  // the measurement being written
  std::unique_ptr<h5::Matrix> k_;      // its K, when stored
  DType k_type_ = DType::f64;
  std::vector<int64_t> steps_;
  int64_t count_ = 0;
  bool finished_ = false;
};

}  // namespace stiffness
