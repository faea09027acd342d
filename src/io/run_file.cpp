#include "stiffness/io/run_file.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "stiffness/runtime/error.hpp"
#include "stiffness/analysis/tiling.hpp"

namespace fs = std::filesystem;

namespace stiffness {

namespace {
constexpr const char* kInProgress = "measurement_in_progress";
}  // namespace

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
  h5::write_attr(file_->id(), "format", "stiffness/" + std::to_string(kFormatVersion));
  h5::write_attr(file_->id(), "complete", int64_t{0});
}

OutputFile::OutputFile(std::string final_path, MPI_Comm comm, Communicator& agree, Resume r)
    : final_(std::move(final_path)), partial_(final_ + ".partial"), comm_(comm), agree_(agree) {
  std::error_code ec;
  STIFF_CHECK(fs::exists(partial_, ec), "resuming: the checkpoint's output '" + partial_ + "' is missing");
  file_ = std::make_unique<h5::File>(h5::File::open_rw(partial_, comm_));
  if (h5::exists(file_->id(), "measurements")) {
    auto g = h5::open_group(file_->id(), "measurements");
    for (const auto& name : h5::list(g.id())) {
      const int64_t index = std::stoll(name);
      if (index >= r.measurements) {
        // Written after the checkpoint: it will be measured again.
        STIFF_CHECK(H5Ldelete(g.id(), name.c_str(), H5P_DEFAULT) >= 0,
                    "resuming: cannot remove '" + name + "' from '" + partial_ + "'");
        continue;
      }
      auto m = h5::open_group(g.id(), name);
      steps_.push_back(h5::read_attr_i64(m.id(), "step"));
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
           {"stiffness_version", i.version}, {"git_hash", i.git_hash},
           {"torch_version", i.torch_version}, {"blas", i.blas}, {"hostname", i.hostname},
           {"created", i.created}, {"model", i.model}, {"grad_plan", i.grad_plan},
           {"dataset", i.dataset}, {"data_source", i.data_source}, {"config", i.config_ini},
           {"config_file", i.config_file}, {"command_line", i.command_line}})
    h5::write_attr(f, k, v);
  h5::write_attr(f, "ranks", i.ranks);
  h5::write_attr(f, "threads_per_rank", i.threads_per_rank);
  h5::write_attr(f, "num_classes", i.num_classes);
  h5::write_attr(f, "n_examples", i.n_examples);
  h5::write_attr(f, "num_params", i.num_params);
  h5::write_attr(f, "gram_dtype", i.k_dtype);
  h5::write_attr(f, "store_k", i.store_k);
}

void OutputFile::write_sample(const SampleArrays& s) {
  auto g = h5::create_group(file_->id(), "sample");
  const hsize_t n = s.index.size();
  h5::write_dataset(*file_, g.id(), "index", {n}, s.index.data(), DType::i64);
  h5::write_dataset(*file_, g.id(), "label", {n}, s.label.data(), DType::i64);
  h5::write_dataset(*file_, g.id(), "split", {n}, s.split.data(), DType::u8);
  const hsize_t nc = s.class_order.size();
  h5::write_dataset(*file_, g.id(), "class_order", {nc}, s.class_order.data(), DType::i64);
  if (!s.coarse.empty()) h5::write_dataset(*file_, g.id(), "coarse_label", {n}, s.coarse.data(), DType::i64);
  h5::write_dataset(*file_, g.id(), "inputs", s.input_shape, s.input_data ? s.input_data : s.inputs.data(),
                    DType::f32);
  h5::write_attr(g.id(), "split_codes", std::string("0 = train, 1 = validation"));
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
    h5::write_dataset(f, sg.id(), "cosine", {cc, cc}, c.cosine.data(), DType::f64);
    h5::write_dataset(f, sg.id(), "sign", {cc, cc}, c.sign.data(), DType::f64);
    h5::write_dataset(f, sg.id(), "pairs", {cc, cc}, c.pairs.data(), DType::i64);
    h5::write_attr(sg.id(), "within_cosine", c.within_cosine);
    h5::write_attr(sg.id(), "between_cosine", c.between_cosine);
    h5::write_attr(sg.id(), "within_sign", c.within_sign);
    h5::write_attr(sg.id(), "between_sign", c.between_sign);
    // The critical length beside the class means, for tables (cosine stiffness).
    if (distance && !(*distance)[set].edges.empty()) {
      const auto& d = (*distance)[set];
      h5::write_attr(sg.id(), "xi_linear", d.xi_linear_cosine);
      h5::write_attr(sg.id(), "xi_linear_status", d.xi_linear_cosine_status);
      h5::write_attr(sg.id(), "xi_binned", d.xi_binned_cosine);
      h5::write_attr(sg.id(), "half_length", d.half_length_cosine);
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
  // row. N = 30000, 2 ranks, float32 K, side by side: 0.38, 0.43, 0.14 GB/s
  // chunked against 0.25, 0.08, 0.15 contiguous (the disk varied 0.4-1.2 GB/s).
  if (k_stored)
    k_ = std::make_unique<h5::Matrix>(
        h5::Matrix::create(*file_, group_->id(), "K", n_total, n_total, k_type, kPanelRowQuantum));
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
  h5::write_attr(g.id(), "step", m.step);
  h5::write_attr(g.id(), "epoch", m.epoch);
  h5::write_attr(g.id(), "train_loss", m.train_loss);
  h5::write_attr(g.id(), "train_accuracy", m.train_accuracy);
  h5::write_attr(g.id(), "val_loss", m.val_loss);
  h5::write_attr(g.id(), "val_accuracy", m.val_accuracy);
  h5::write_attr(g.id(), "seconds", m.seconds);
  h5::write_attr(g.id(), "grad_plan", m.grad_plan);
  h5::write_attr(g.id(), "peak_rss_mb", m.peak_rss_mb);
  if (m.device_memory_mb >= 0) h5::write_attr(g.id(), "device_memory_mb", m.device_memory_mb);
  if (m.write_gbps >= 0) h5::write_attr(g.id(), "write_gbps", m.write_gbps);
  h5::write_attr(g.id(), "panel_mb", m.panel_mb);
  h5::write_attr(g.id(), "gram_gflops", m.gram_gflops);
  h5::write_attr(g.id(), "K_stored", int64_t{m.k_stored ? 1 : 0});

  write_classes(*file_, g.id(), "class_stiffness", results.classes, &results.distance);
  if (results.has_coarse) write_classes(*file_, g.id(), "coarse_class_stiffness", results.coarse, nullptr);
  if (!results.distance[0].edges.empty()) {
    auto dg = h5::create_group(g.id(), "distance");
    for (int set = 0; set < kNumPairSets; ++set) {
      const auto& d = results.distance[set];
      auto sg = h5::create_group(dg.id(), pair_set_name(set));
      const hsize_t nb = d.within_pairs.size();
      h5::write_dataset(*file_, sg.id(), "bin_edges", {nb + 1}, d.edges.data(), DType::f64);
      h5::write_dataset(*file_, sg.id(), "within_cosine", {nb}, d.within_cosine.data(), DType::f64);
      h5::write_dataset(*file_, sg.id(), "within_sign", {nb}, d.within_sign.data(), DType::f64);
      h5::write_dataset(*file_, sg.id(), "within_pairs", {nb}, d.within_pairs.data(), DType::i64);
      h5::write_dataset(*file_, sg.id(), "all_cosine", {nb}, d.all_cosine.data(), DType::f64);
      h5::write_dataset(*file_, sg.id(), "all_sign", {nb}, d.all_sign.data(), DType::f64);
      h5::write_dataset(*file_, sg.id(), "all_pairs", {nb}, d.all_pairs.data(), DType::i64);
      for (const auto& [k, v] : std::vector<std::pair<const char*, double>>{
               {"xi_linear_cosine", d.xi_linear_cosine}, {"xi_linear_sign", d.xi_linear_sign},
               {"xi_binned_cosine", d.xi_binned_cosine}, {"xi_binned_sign", d.xi_binned_sign},
               {"slope_cosine", d.slope_cosine}, {"intercept_cosine", d.intercept_cosine},
               {"slope_sign", d.slope_sign}, {"intercept_sign", d.intercept_sign},
               {"fit_min_distance", d.fit_min}, {"fit_max_distance", d.fit_max},
               {"half_length_cosine", d.half_length_cosine}, {"half_length_sign", d.half_length_sign},
               {"half_reference_cosine", d.half_reference_cosine},
               {"half_reference_sign", d.half_reference_sign}})
        h5::write_attr(sg.id(), k, v);
      for (const auto& [k, v] : std::vector<std::pair<const char*, std::string>>{
               {"xi_linear_cosine_status", d.xi_linear_cosine_status},
               {"xi_linear_sign_status", d.xi_linear_sign_status},
               {"half_length_cosine_status", d.half_length_cosine_status},
               {"half_length_sign_status", d.half_length_sign_status}})
        h5::write_attr(sg.id(), k, v);
    }
  }
  if (!params.empty()) {
    auto pg = h5::create_group(g.id(), "params");
    for (const auto& p : params) h5::write_dataset(*file_, pg.id(), p.name, p.shape, p.data, p.type);
  }
  group_.reset();
  if (!h5::exists(file_->id(), "measurements")) h5::create_group(file_->id(), "measurements");
  char name[32];
  std::snprintf(name, sizeof name, "measurements/%06lld", static_cast<long long>(count_));
  STIFF_CHECK(H5Lmove(file_->id(), kInProgress, file_->id(), name, H5P_DEFAULT, H5P_DEFAULT) >= 0,
              std::string("output: cannot move the finished measurement to '") + name + "'");
  file_->flush();
  steps_.push_back(m.step);
  ++count_;
}

void OutputFile::finish() {
  const hsize_t n = steps_.size();
  h5::write_dataset(*file_, file_->id(), "steps", {n}, steps_.data(), DType::i64);
  h5::write_attr(file_->id(), "num_measurements", count_);
  h5::write_attr(file_->id(), "complete", int64_t{1});
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
