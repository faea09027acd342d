// What happens to the ring's panels during a measurement, one sink per job
// (the ring and its round rule: ring.hpp). The measurement (measure.cpp)
// hands the ring the sinks it needs, in order:
//   StatisticsSink  class, super-class and distance sums of every panel
//   KWriterSink     K to the run file, one collective write per round
//   RateMeter       the Gram's FLOPs and the progress line
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "stiffness/analysis/metrics.hpp"
#include "stiffness/io/run_file.hpp"
#include "stiffness/nn/pergrad.hpp"
#include "stiffness/nn/ring.hpp"
#include "stiffness/nn/sample.hpp"
#include "stiffness/nn/tile_stats.hpp"
#include "stiffness/runtime/comm.hpp"
#include "stiffness/runtime/progress.hpp"

namespace stiffness {

// Class and distance sums of the panels, where the panels are: on a GPU by
// torch ops (TileStatistics; only the sums come to the host), on the CPU by
// the host loop, which is much faster there than the same torch ops
// (docs/benchmarks.md).
class StatisticsSink : public PanelSink {
 public:
  // `diag`: K_ii of every example (alive as long as the sink). `distance_bins`
  // > 0 also sums stiffness against input distance.
  StatisticsSink(const Sample& sample, int64_t num_classes, int distance_bins, const std::vector<double>& diag,
                 torch::Device device);
  void round(const std::vector<GramTile>& pieces) override;
  // Collective: the sums over ranks, as results.
  StiffnessResults reduce(Communicator& comm);

 private:
  void add(const GramTile& p);
  const Sample& sample_;
  const std::vector<double>& diag_;
  const int bins_;
  const bool coarse_;
  // Class matrices are indexed by class_index (grouped by super-class).
  ClassStiffnessAccumulator acc_, coarse_acc_;
  std::unique_ptr<TileStatistics> dev_, dev_coarse_;
  torch::Tensor dev_diag_;
};

// Writes each round's pieces of K, and the transposes of the mirrored ones,
// to the measurement begun in `out`: a collective write per round, which the
// round rule of PanelSink makes safe. K reaches the host only here, in
// `k_type` (no copy on a CPU rank in float64).
class KWriterSink : public PanelSink {
 public:
  KWriterSink(Communicator& comm, OutputFile& out, torch::ScalarType k_type) : comm_(comm), out_(out), type_(k_type) {}
  void round(const std::vector<GramTile>& pieces) override;
  double bytes() const { return bytes_; }      // this rank's bytes written
  double seconds() const { return seconds_; }  // this rank's seconds in the writes

 private:
  Communicator& comm_;
  OutputFile& out_;
  torch::ScalarType type_;
  double bytes_ = 0, seconds_ = 0;
};

// The Gram's multiply-adds of the panels (for the GFLOP/s rate) and rank 0's
// progress line, one tick per panel.
class RateMeter : public PanelSink {
 public:
  RateMeter(const GradPlan& plan, int64_t num_params, int64_t panels, double progress_seconds, double panel_mb);
  void round(const std::vector<GramTile>& pieces) override;
  double flops() const { return flops_; }  // this rank's FLOPs

 private:
  const GradPlan& plan_;
  const int64_t num_params_;
  const double panel_mb_;
  Progress progress_;
  int64_t done_ = 0;
  double flops_ = 0;
};

}  // namespace stiffness
