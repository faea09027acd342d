// One measurement, as a driver: per-example gradients of this rank's slice of
// the sample, the ring that fills K handing its panels to the sinks
// (panel_sinks.hpp), losses and accuracies, and the collective write.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "stiffness/runtime/comm.hpp"
#include "stiffness/config/config.hpp"
#include "stiffness/analysis/metrics.hpp"
#include "stiffness/nn/model.hpp"
#include "stiffness/nn/pergrad.hpp"
#include "stiffness/nn/sample.hpp"
#include "stiffness/nn/train.hpp"
#include "stiffness/io/run_file.hpp"

namespace stiffness {

struct MeasureContext {
  Communicator& comm;
  Net& net;
  const GradPlan& plan;
  const Sample& sample;
  const TensorData& train;
  const TensorData& val;
  const Config& c;
  int64_t last_measured = 0;  // the schedule's last step (--store-k last)
  double panel_mb = 64;       // the panel budget per rank (resolved --panel-mb, the same on every rank)
  double disk_gbps = -1;      // the output disk's sequential write rate, measured at start (-1: not measured)
};

struct MeasureSummary {
  double seconds = 0;
  StiffnessResults results;
};

// Collective: computes everything for one measurement and writes it to `out`.
MeasureSummary measure(const MeasureContext& ctx, int64_t step, double epoch, OutputFile& out);

}  // namespace stiffness
