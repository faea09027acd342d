// The names of the run file's groups, datasets and attributes, in one place
// for its writer (run_file.hpp) and its reader (run_reader.hpp). What each
// one holds: docs/output-format.md. A name changed here changes the format:
// raise kFormatVersion, and keep the reader able to read older files.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace stiffness::schema {

// The layout's version, in the root's @format = "stiffness/<version>".
// 3: K in 256 x 256 chunks; each measurement written as
// measurement_in_progress first, then moved under measurements/; the
// measurements' @panel_mb, @gram_gflops and @write_gbps. Readers of a
// version-2 file find none of these. Readers of a version-1 file find also
// no @K_stored (K is always there, float64), no root @gram_dtype or
// @store_k, no @peak_rss_mb, and no xi status, fit range or half-stiffness
// length.
inline constexpr int64_t kFormatVersion = 3;
inline constexpr char kFormatPrefix[] = "stiffness/";
inline std::string format_text() { return kFormatPrefix + std::to_string(kFormatVersion); }

// ------------------------------------------------------------------ root
namespace root {
inline constexpr char kFormat[] = "format";
inline constexpr char kComplete[] = "complete";  // 1 once finished and closed by all ranks
inline constexpr char kNumMeasurements[] = "num_measurements";  // written at the end only
inline constexpr char kSteps[] = "steps";  // dataset, written at the end only
// Provenance and configuration (strings).
inline constexpr char kVersion[] = "stiffness_version";
inline constexpr char kGitHash[] = "git_hash";
inline constexpr char kTorchVersion[] = "torch_version";
inline constexpr char kBlas[] = "blas";
inline constexpr char kHostname[] = "hostname";
inline constexpr char kCreated[] = "created";
inline constexpr char kModel[] = "model";
inline constexpr char kGradPlan[] = "grad_plan";
inline constexpr char kDataset[] = "dataset";
inline constexpr char kDataSource[] = "data_source";
inline constexpr char kConfig[] = "config";  // the effective configuration, INI lines
inline constexpr char kConfigFile[] = "config_file";
inline constexpr char kCommandLine[] = "command_line";
inline constexpr char kGramDtype[] = "gram_dtype";
inline constexpr char kStoreK[] = "store_k";
// Sizes (int64).
inline constexpr char kRanks[] = "ranks";
inline constexpr char kThreadsPerRank[] = "threads_per_rank";
inline constexpr char kNumClasses[] = "num_classes";
inline constexpr char kNExamples[] = "n_examples";
inline constexpr char kNumParams[] = "num_params";
}  // namespace root

// ------------------------------------------------------------------ sample/
namespace sample {
inline constexpr char kGroup[] = "sample";
inline constexpr char kIndex[] = "index";
inline constexpr char kLabel[] = "label";
inline constexpr char kSplit[] = "split";
inline constexpr char kClassOrder[] = "class_order";
inline constexpr char kCoarseLabel[] = "coarse_label";  // only with super-classes
inline constexpr char kInputs[] = "inputs";
inline constexpr char kSplitCodes[] = "split_codes";
inline constexpr char kSplitCodesText[] = "0 = train, 1 = validation";
}  // namespace sample

// ------------------------------------------------------------ measurements/
namespace measurement {
inline constexpr char kGroup[] = "measurements";
// Where a measurement is written until it is whole; a reader never counts it.
inline constexpr char kInProgress[] = "measurement_in_progress";
// Attributes of one measurement.
inline constexpr char kStep[] = "step";
inline constexpr char kEpoch[] = "epoch";
inline constexpr char kTrainLoss[] = "train_loss";
inline constexpr char kTrainAccuracy[] = "train_accuracy";
inline constexpr char kValLoss[] = "val_loss";
inline constexpr char kValAccuracy[] = "val_accuracy";
inline constexpr char kSeconds[] = "seconds";
inline constexpr char kGradPlan[] = "grad_plan";
inline constexpr char kPeakRssMb[] = "peak_rss_mb";
inline constexpr char kDeviceMemoryMb[] = "device_memory_mb";  // GPU ranks only
inline constexpr char kWriteGbps[] = "write_gbps";             // only when K is stored
inline constexpr char kPanelMb[] = "panel_mb";
inline constexpr char kGramGflops[] = "gram_gflops";
inline constexpr char kKStored[] = "K_stored";
// Members of one measurement.
inline constexpr char kK[] = "K";
inline constexpr char kClassStiffness[] = "class_stiffness";
inline constexpr char kCoarseClassStiffness[] = "coarse_class_stiffness";
inline constexpr char kDistance[] = "distance";
inline constexpr char kParams[] = "params";

// "measurements/NNNNNN", the path of the index-th finished measurement (from
// 0): six digits, so that name order is step order.
inline std::string path(int64_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "%s/%06lld", kGroup, static_cast<long long>(index));
  return name;
}
}  // namespace measurement

// ------------------------- class_stiffness/<pair set>/ (and coarse_class_stiffness/)
// Pair set group names: pair_set_name() (analysis/metrics.hpp).
namespace classes {
inline constexpr char kCosine[] = "cosine";
inline constexpr char kSign[] = "sign";
inline constexpr char kPairs[] = "pairs";
inline constexpr char kWithinCosine[] = "within_cosine";
inline constexpr char kBetweenCosine[] = "between_cosine";
inline constexpr char kWithinSign[] = "within_sign";
inline constexpr char kBetweenSign[] = "between_sign";
// Copies of the cosine critical lengths of distance/<pair set>/, for tables;
// class_stiffness only, when distance bins are on.
inline constexpr char kXiLinear[] = "xi_linear";
inline constexpr char kXiLinearStatus[] = "xi_linear_status";
inline constexpr char kXiBinned[] = "xi_binned";
inline constexpr char kHalfLength[] = "half_length";
}  // namespace classes

// ------------------------------------------------------- distance/<pair set>/
namespace distance {
inline constexpr char kBinEdges[] = "bin_edges";
inline constexpr char kWithinCosine[] = "within_cosine";
inline constexpr char kWithinSign[] = "within_sign";
inline constexpr char kWithinPairs[] = "within_pairs";
inline constexpr char kAllCosine[] = "all_cosine";
inline constexpr char kAllSign[] = "all_sign";
inline constexpr char kAllPairs[] = "all_pairs";
inline constexpr char kXiLinearCosine[] = "xi_linear_cosine";
inline constexpr char kXiLinearSign[] = "xi_linear_sign";
inline constexpr char kXiBinnedCosine[] = "xi_binned_cosine";
inline constexpr char kXiBinnedSign[] = "xi_binned_sign";
inline constexpr char kSlopeCosine[] = "slope_cosine";
inline constexpr char kInterceptCosine[] = "intercept_cosine";
inline constexpr char kSlopeSign[] = "slope_sign";
inline constexpr char kInterceptSign[] = "intercept_sign";
inline constexpr char kFitMinDistance[] = "fit_min_distance";
inline constexpr char kFitMaxDistance[] = "fit_max_distance";
inline constexpr char kHalfLengthCosine[] = "half_length_cosine";
inline constexpr char kHalfLengthSign[] = "half_length_sign";
inline constexpr char kHalfReferenceCosine[] = "half_reference_cosine";
inline constexpr char kHalfReferenceSign[] = "half_reference_sign";
inline constexpr char kXiLinearCosineStatus[] = "xi_linear_cosine_status";
inline constexpr char kXiLinearSignStatus[] = "xi_linear_sign_status";
inline constexpr char kHalfLengthCosineStatus[] = "half_length_cosine_status";
inline constexpr char kHalfLengthSignStatus[] = "half_length_sign_status";
}  // namespace distance

}  // namespace stiffness::schema
