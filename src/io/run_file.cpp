#include "stiffness/io/run_file.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "stiffness/runtime/error.hpp"
#include "stiffness/analysis/tiling.hpp"
#include "stiffness/io/run_schema.hpp"

namespace fs = std::filesystem;

namespace stiffness {

namespace root = schema::root;
namespace ms = schema::measurement;
namespace cls = schema::classes;
namespace dist = schema::distance;
using ms::kInProgress;

void check_output_path(const std::string& path, bool overwrite, bool resuming) {
  std::error_code ec;
  STIFF_CHECK(!fs::is_directory(path, ec), "--output: '" + path + "' is a folder, expected a file name");
  STIFF_CHECK(overwrite || !resuming || !fs::exists(path, ec),
              "--output: '" + path + "' is a finished run, and '" + path +
                  ".ckpt' the checkpoint of an unfinished one under the same name; move one of them away, "
                  "or pass --overwrite to start afresh");
  STIFF_CHECK(overwrite || !fs::exists(path, ec),
              "--output: '" + path + "' already exists; pass --overwrite to replace it");
  STIFF_CHECK(overwrite || resuming || !fs::exists(path + ".partial", ec),
              "--output: an unfinished earlier run left '" + path +
                  ".partial' (its finished measurements are kept there); pass --overwrite to replace it");
  const auto parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::exists(parent, ec)) {
    fs::create_directories(parent, ec);
    STIFF_CHECK(!ec || fs::is_directory(parent), "--output: cannot create folder '" +
                                                    parent.string() + "': " + ec.message());
  }
}

OutputFile::OutputFile(std::string final_path, MPI_Comm comm, Communicator& agree)
    : final_(std::move(final_path)), partial_(final_ + ".partial"), comm_(comm), agree_(agree) {
  file_ = std::make_unique<h5::File>(h5::File::create(partial_, comm_));
  h5::write_attr(file_->id(), root::kFormat, schema::format_text());
  h5::write_attr(file_->id(), root::kComplete, int64_t{0});
}

OutputFile::OutputFile(std::string final_path, MPI_Comm comm, Communicator& agree, Resume r)
    : final_(std::move(final_path)), partial_(final_ + ".partial"), comm_(comm), agree_(agree) {
  std::error_code ec;
  STIFF_CHECK(fs::exists(partial_, ec), "resuming: the checkpoint's output '" + partial_ + "' is missing");
  file_ = std::make_unique<h5::File>(h5::File::open_rw(partial_, comm_));
  if (h5::exists(file_->id(), ms::kGroup)) {
    auto g = h5::open_group(file_->id(), ms::kGroup);
    for (const auto& name : h5::list(g.id())) {
      const int64_t index = std::stoll(name);
      if (index >= r.measurements) {
        // Written after the checkpoint: it will be measured again.
        STIFF_CHECK(H5Ldelete(g.id(), name.c_str(), H5P_DEFAULT) >= 0,
                    "resuming: cannot remove '" + name + "' from '" + partial_ + "'");
        continue;
      }
      auto m = h5::open_group(g.id(), name);
      steps_.push_back(h5::read_attr_i64(m.id(), ms::kStep));
    }
  }
  // A measurement that a crash interrupted: measured again.
  if (h5::exists(file_->id(), kInProgress))
    STIFF_CHECK(H5Ldelete(file_->id(), kInProgress, H5P_DEFAULT) >= 0,
                std::string("resuming: cannot remove '") + kInProgress + "' from '" + partial_ + "'");
  count_ = static_cast<int64_t>(steps_.size());
  STIFF_CHECK(count_ == r.measurements, "resuming: '" + partial_ + "' holds " + std::to_string(count_) +
                                            " measurements, the checkpoint expects " +
                                            std::to_string(r.measurements));
}

void OutputFile::suspend() {
  // A measurement begun and not ended stays measurement_in_progress, which
  // a resumed run removes; its handles must close before the file can.
  k_.reset();
  group_.reset();
  file_->close();
  agree_.barrier();
  finished_ = true;
}

OutputFile::~OutputFile() {
  if (finished_ || !file_) return;
  // Unfinished: an error is unwinding the stack, possibly on this rank only.
  // Closing is collective and could wait forever for ranks that are still
  // working, so the handle is deliberately leaked; main() then aborts all
  // ranks. Every measurement was flushed when written, so the .partial file
  // keeps them, and its name and complete = 0 say it is unfinished.
  (void)file_.release();
}

void OutputFile::write_run(const RunInfo& i) {
  const hid_t f = file_->id();
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {root::kVersion, i.version}, {root::kGitHash, i.git_hash},
           {root::kTorchVersion, i.torch_version}, {root::kBlas, i.blas}, {root::kHostname, i.hostname},
           {root::kCreated, i.created}, {root::kModel, i.model}, {root::kGradPlan, i.grad_plan},
           {root::kDataset, i.dataset}, {root::kDataSource, i.data_source}, {root::kConfig, i.config_ini},
           {root::kConfigFile, i.config_file}, {root::kCommandLine, i.command_line}})
    h5::write_attr(f, k, v);
  h5::write_attr(f, root::kRanks, i.ranks);
  h5::write_attr(f, root::kThreadsPerRank, i.threads_per_rank);
  h5::write_attr(f, root::kNumClasses, i.num_classes);
  h5::write_attr(f, root::kNExamples, i.n_examples);
  h5::write_attr(f, root::kNumParams, i.num_params);
  h5::write_attr(f, root::kGramDtype, i.k_dtype);
  h5::write_attr(f, root::kStoreK, i.store_k);
}

void OutputFile::write_sample(const SampleArrays& s) {
  namespace sm = schema::sample;
  auto g = h5::create_group(file_->id(), sm::kGroup);
  const hsize_t n = s.index.size();
  h5::write_dataset(*file_, g.id(), sm::kIndex, {n}, s.index.data(), DType::i64);
  h5::write_dataset(*file_, g.id(), sm::kLabel, {n}, s.label.data(), DType::i64);
  h5::write_dataset(*file_, g.id(), sm::kSplit, {n}, s.split.data(), DType::u8);
  const hsize_t nc = s.class_order.size();
  h5::write_dataset(*file_, g.id(), sm::kClassOrder, {nc}, s.class_order.data(), DType::i64);
  if (!s.coarse.empty()) h5::write_dataset(*file_, g.id(), sm::kCoarseLabel, {n}, s.coarse.data(), DType::i64);
  h5::write_dataset(*file_, g.id(), sm::kInputs, s.input_shape, s.input_data ? s.input_data : s.inputs.data(),
                    DType::f32);
  h5::write_attr(g.id(), sm::kSplitCodes, std::string(sm::kSplitCodesText));
  file_->flush();
}

namespace {

void write_classes(const h5::File& f, hid_t loc, const char* name,
                   const std::array<ClassStiffness, kNumPairSets>& classes,
                   const std::array<DistanceCurves, kNumPairSets>* distance) {
  auto cg = h5::create_group(loc, name);
  for (int set = 0; set < kNumPairSets; ++set) {
    const auto& c = classes[set];
    auto sg = h5::create_group(cg.id(), pair_set_name(set));
    const hsize_t cc = c.classes;
    h5::write_dataset(f, sg.id(), cls::kCosine, {cc, cc}, c.cosine.data(), DType::f64);
    h5::write_dataset(f, sg.id(), cls::kSign, {cc, cc}, c.sign.data(), DType::f64);
    h5::write_dataset(f, sg.id(), cls::kPairs, {cc, cc}, c.pairs.data(), DType::i64);
    h5::write_attr(sg.id(), cls::kWithinCosine, c.within_cosine);
    h5::write_attr(sg.id(), cls::kBetweenCosine, c.between_cosine);
    h5::write_attr(sg.id(), cls::kWithinSign, c.within_sign);
    h5::write_attr(sg.id(), cls::kBetweenSign, c.between_sign);
    // The critical length beside the class means, for tables (cosine stiffness).
    if (distance && !(*distance)[set].edges.empty()) {
      const auto& d = (*distance)[set];
      h5::write_attr(sg.id(), cls::kXiLinear, d.xi_linear_cosine);
      h5::write_attr(sg.id(), cls::kXiLinearStatus, d.xi_linear_cosine_status);
      h5::write_attr(sg.id(), cls::kXiBinned, d.xi_binned_cosine);
      h5::write_attr(sg.id(), cls::kHalfLength, d.half_length_cosine);
    }
  }
}

}  // namespace

void OutputFile::begin_measurement(int64_t n_total, bool k_stored, DType k_type) {
  STIFF_CHECK(!group_, "output: begin_measurement twice without end_measurement");
  if (h5::exists(file_->id(), kInProgress))
    STIFF_CHECK(H5Ldelete(file_->id(), kInProgress, H5P_DEFAULT) >= 0, "output: cannot remove an unfinished measurement");
  group_ = std::make_unique<h5::Handle>(h5::create_group(file_->id(), kInProgress));
  k_type_ = k_type;
  // In 256 x 256 chunks, the panels' block (tiling.hpp): a panel and its
  // transpose then write whole chunks, contiguous 256 KB (float32) pieces of
  // the file, where a contiguous K took the transpose as 1 KB pieces, one per
  // row (measured in docs/benchmarks.md).
  if (k_stored)
    k_ = std::make_unique<h5::Matrix>(
        h5::Matrix::create(*file_, group_->id(), ms::kK, n_total, n_total, k_type, kPanelRowQuantum));
}

int64_t OutputFile::write_k(const std::vector<h5::Block2D>& blocks) {
  STIFF_CHECK(k_, "output: write_k without a stored K (begin_measurement)");
  k_->write_blocks(blocks);
  int64_t bytes = 0;
  for (const auto& b : blocks) bytes += static_cast<int64_t>(b.rows * b.cols) * static_cast<int64_t>(dtype_size(k_type_));
  return bytes;
}

void OutputFile::write_measurement(const MeasurementInfo& m, int64_t n_total,
                                   const std::vector<h5::Block2D>& k_blocks,
                                   const StiffnessResults& results,
                                   const std::vector<NamedArray>& params) {
  begin_measurement(n_total, m.k_stored, m.k_type);
  if (m.k_stored) write_k(k_blocks);
  end_measurement(m, results, params);
}

void OutputFile::end_measurement(const MeasurementInfo& m, const StiffnessResults& results,
                                 const std::vector<NamedArray>& params) {
  STIFF_CHECK(group_, "output: end_measurement without begin_measurement");
  k_.reset();
  const h5::Handle& g = *group_;
  h5::write_attr(g.id(), ms::kStep, m.step);
  h5::write_attr(g.id(), ms::kEpoch, m.epoch);
  h5::write_attr(g.id(), ms::kTrainLoss, m.train_loss);
  h5::write_attr(g.id(), ms::kTrainAccuracy, m.train_accuracy);
  h5::write_attr(g.id(), ms::kValLoss, m.val_loss);
  h5::write_attr(g.id(), ms::kValAccuracy, m.val_accuracy);
  h5::write_attr(g.id(), ms::kSeconds, m.seconds);
  h5::write_attr(g.id(), ms::kGradPlan, m.grad_plan);
  h5::write_attr(g.id(), ms::kPeakRssMb, m.peak_rss_mb);
  if (m.device_memory_mb >= 0) h5::write_attr(g.id(), ms::kDeviceMemoryMb, m.device_memory_mb);
  if (m.write_gbps >= 0) h5::write_attr(g.id(), ms::kWriteGbps, m.write_gbps);
  h5::write_attr(g.id(), ms::kPanelMb, m.panel_mb);
  h5::write_attr(g.id(), ms::kGramGflops, m.gram_gflops);
  h5::write_attr(g.id(), ms::kKStored, int64_t{m.k_stored ? 1 : 0});

  write_classes(*file_, g.id(), ms::kClassStiffness, results.classes, &results.distance);
  if (results.has_coarse) write_classes(*file_, g.id(), ms::kCoarseClassStiffness, results.coarse, nullptr);
  if (!results.distance[0].edges.empty()) {
    auto dg = h5::create_group(g.id(), ms::kDistance);
    for (int set = 0; set < kNumPairSets; ++set) {
      const auto& d = results.distance[set];
      auto sg = h5::create_group(dg.id(), pair_set_name(set));
      const hsize_t nb = d.within_pairs.size();
      h5::write_dataset(*file_, sg.id(), dist::kBinEdges, {nb + 1}, d.edges.data(), DType::f64);
      h5::write_dataset(*file_, sg.id(), dist::kWithinCosine, {nb}, d.within_cosine.data(), DType::f64);
      h5::write_dataset(*file_, sg.id(), dist::kWithinSign, {nb}, d.within_sign.data(), DType::f64);
      h5::write_dataset(*file_, sg.id(), dist::kWithinPairs, {nb}, d.within_pairs.data(), DType::i64);
      h5::write_dataset(*file_, sg.id(), dist::kAllCosine, {nb}, d.all_cosine.data(), DType::f64);
      h5::write_dataset(*file_, sg.id(), dist::kAllSign, {nb}, d.all_sign.data(), DType::f64);
      h5::write_dataset(*file_, sg.id(), dist::kAllPairs, {nb}, d.all_pairs.data(), DType::i64);
      for (const auto& [k, v] : std::vector<std::pair<const char*, double>>{
               {dist::kXiLinearCosine, d.xi_linear_cosine}, {dist::kXiLinearSign, d.xi_linear_sign},
               {dist::kXiBinnedCosine, d.xi_binned_cosine}, {dist::kXiBinnedSign, d.xi_binned_sign},
               {dist::kSlopeCosine, d.slope_cosine}, {dist::kInterceptCosine, d.intercept_cosine},
               {dist::kSlopeSign, d.slope_sign}, {dist::kInterceptSign, d.intercept_sign},
               {dist::kFitMinDistance, d.fit_min}, {dist::kFitMaxDistance, d.fit_max},
               {dist::kHalfLengthCosine, d.half_length_cosine}, {dist::kHalfLengthSign, d.half_length_sign},
               {dist::kHalfReferenceCosine, d.half_reference_cosine},
               {dist::kHalfReferenceSign, d.half_reference_sign}})
        h5::write_attr(sg.id(), k, v);
      for (const auto& [k, v] : std::vector<std::pair<const char*, std::string>>{
               {dist::kXiLinearCosineStatus, d.xi_linear_cosine_status},
               {dist::kXiLinearSignStatus, d.xi_linear_sign_status},
               {dist::kHalfLengthCosineStatus, d.half_length_cosine_status},
               {dist::kHalfLengthSignStatus, d.half_length_sign_status}})
        h5::write_attr(sg.id(), k, v);
    }
  }
  if (!params.empty()) {
    auto pg = h5::create_group(g.id(), ms::kParams);
    for (const auto& p : params) h5::write_dataset(*file_, pg.id(), p.name, p.shape, p.data, p.type);
  }
  group_.reset();
  if (!h5::exists(file_->id(), ms::kGroup)) h5::create_group(file_->id(), ms::kGroup);
  const std::string name = ms::path(count_);
  STIFF_CHECK(H5Lmove(file_->id(), kInProgress, file_->id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT) >= 0,
              std::string("output: cannot move the finished measurement to '") + name + "'");
  file_->flush();
  steps_.push_back(m.step);
  ++count_;
}

void OutputFile::finish() {
  const hsize_t n = steps_.size();
  h5::write_dataset(*file_, file_->id(), root::kSteps, {n}, steps_.data(), DType::i64);
  h5::write_attr(file_->id(), root::kNumMeasurements, count_);
  h5::write_attr(file_->id(), root::kComplete, int64_t{1});
  bool ok = true;
  std::string why;
  try {
    file_->close();
  } catch (const std::exception& e) {
    ok = false;
    why = e.what();
  }
  // Rename only when every rank closed its part of the file without error.
  STIFF_CHECK(agree_.all_ok(ok), "writing '" + partial_ + "' failed on some rank" +
                                     (why.empty() ? std::string() : ": " + why));
  if (agree_.rank() == 0) {
    std::error_code ec;
    fs::rename(partial_, final_, ec);
    STIFF_CHECK(!ec, "cannot rename '" + partial_ + "' to '" + final_ + "': " + ec.message());
  }
  agree_.barrier();
  finished_ = true;
}

}  // namespace stiffness
