#include "stiffness/io/run_reader.hpp"

#include <hdf5.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "stiffness/runtime/error.hpp"
#include "stiffness/analysis/metrics.hpp"
#include "stiffness/io/h5.hpp"
#include "stiffness/io/run_schema.hpp"

namespace fs = std::filesystem;

namespace stiffness {

namespace root = schema::root;
namespace ms = schema::measurement;
namespace cls = schema::classes;

namespace {

const char* kPartialWarning = "incomplete run (still being written, or its job stopped before the end)";

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Pair sets in the order the paper lists them; any other group follows by name.
size_t pair_set_rank(const std::string& name) {
  for (int set = 0; set < kNumPairSets; ++set)
    if (name == pair_set_name(set)) return static_cast<size_t>(set);
  return kNumPairSets;
}

PairSetValues read_pair_set(hid_t cs, const std::string& set) {
  h5::Handle sg = h5::open_group(cs, set);
  PairSetValues p;
  p.name = set;
  p.within_cosine = h5::read_attr_f64(sg.id(), cls::kWithinCosine);
  p.between_cosine = h5::read_attr_f64(sg.id(), cls::kBetweenCosine);
  p.within_sign = h5::read_attr_f64(sg.id(), cls::kWithinSign);
  p.between_sign = h5::read_attr_f64(sg.id(), cls::kBetweenSign);
  // Absent in files without distance bins, and (status, half length) in format 1.
  if (h5::attr_exists(sg.id(), cls::kXiLinear)) p.xi = h5::read_attr_f64(sg.id(), cls::kXiLinear);
  if (h5::attr_exists(sg.id(), cls::kXiLinearStatus))
    p.xi_status = h5::read_attr_str(sg.id(), cls::kXiLinearStatus);
  if (h5::attr_exists(sg.id(), cls::kHalfLength)) p.half_length = h5::read_attr_f64(sg.id(), cls::kHalfLength);
  return p;
}

MeasurementValues read_measurement(hid_t ms_group, const std::string& name) {
  h5::Handle g = h5::open_group(ms_group, name);
  MeasurementValues m;
  m.step = h5::read_attr_i64(g.id(), ms::kStep);
  m.epoch = h5::read_attr_f64(g.id(), ms::kEpoch);
  m.train_loss = h5::read_attr_f64(g.id(), ms::kTrainLoss);
  m.train_accuracy = h5::read_attr_f64(g.id(), ms::kTrainAccuracy);
  m.val_loss = h5::read_attr_f64(g.id(), ms::kValLoss);
  m.val_accuracy = h5::read_attr_f64(g.id(), ms::kValAccuracy);
  if (h5::exists(g.id(), ms::kClassStiffness)) {
    h5::Handle cs = h5::open_group(g.id(), ms::kClassStiffness);
    std::vector<std::string> sets = h5::list(cs.id());
    std::stable_sort(sets.begin(), sets.end(), [](const std::string& a, const std::string& b) {
      return pair_set_rank(a) < pair_set_rank(b);
    });
    for (const auto& set : sets) m.pair_sets.push_back(read_pair_set(cs.id(), set));
  }
  return m;
}

}  // namespace

FoundFiles find_run_files(const std::vector<std::string>& inputs) {
  FoundFiles found;
  std::map<std::string, bool> files;  // path -> named (sorted, unique)
  std::set<std::string> skipped;
  for (const auto& in : inputs) {
    std::error_code ec;
    const auto st = fs::status(in, ec);
    STIFF_CHECK(fs::exists(st), "input '" + in + "' does not exist");
    if (fs::is_directory(st)) {
      fs::recursive_directory_iterator it(in, fs::directory_options::follow_directory_symlink, ec), end;
      STIFF_CHECK(!ec, "cannot read folder '" + in + "': " + ec.message());
      for (; it != end; it.increment(ec)) {
        STIFF_CHECK(!ec, "cannot read folder '" + in + "': " + ec.message());
        const fs::path& p = it->path();
        const std::string name = p.filename().string();
        if (it->is_directory(ec)) {
          // A checkpoint of an interrupted run: not a run file.
          if (ends_with(name, ".ckpt")) it.disable_recursion_pending();
          continue;
        }
        if (ends_with(name, ".h5.partial")) {
          skipped.insert("skipping '" + p.string() + "': " + kPartialWarning);
        } else if (ends_with(name, ".h5") && it->is_regular_file(ec)) {
          files.emplace(p.lexically_normal().string(), false);
        }
      }
    } else if (ends_with(in, ".partial")) {
      skipped.insert("skipping '" + in + "': " + kPartialWarning);
    } else {
      files[fs::path(in).lexically_normal().string()] = true;
    }
  }
  for (const auto& [path, named] : files) found.files.push_back({path, named});
  found.skipped.assign(skipped.begin(), skipped.end());
  return found;
}

std::optional<RunValues> read_run(const std::string& path, std::string* why, bool incomplete_ok) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // our one-line errors, not HDF5's stack
#if H5_VERSION_GE(1, 12, 0)
  const htri_t ok = H5Fis_accessible(path.c_str(), H5P_DEFAULT);
#else
  const htri_t ok = H5Fis_hdf5(path.c_str());  // HDF5 1.10 (Debian 12)
#endif
  H5Eclear2(H5E_DEFAULT);
  STIFF_CHECK(ok > 0, "'" + path + "' is not an HDF5 file (or cannot be read)");
  h5::File f = h5::File::open_read(path, MPI_COMM_SELF);
  RunValues run;
  run.path = path;
  {
    const hid_t r = f.id();
    STIFF_CHECK(h5::attr_exists(r, root::kComplete) && h5::attr_exists(r, root::kConfig),
                "'" + path + "' is not a stiffness run file (no '" + root::kComplete + "' or '" +
                    root::kConfig + "' attribute)");
    const int64_t complete = h5::read_attr_i64(r, root::kComplete);
    run.complete = complete == 1;
    if (complete != 1 && !incomplete_ok) {
      if (why) *why = "incomplete run (attribute " + std::string(root::kComplete) + " = " +
                      std::to_string(complete) + ")";
      return std::nullopt;
    }
    run.config_ini = h5::read_attr_str(r, root::kConfig);
    run.ranks = h5::attr_exists(r, root::kRanks) ? h5::read_attr_i64(r, root::kRanks) : 0;
    if (!h5::exists(r, ms::kGroup)) return run;  // nothing measured (yet)
    h5::Handle g = h5::open_group(r, ms::kGroup);
    // NNNNNN: name order is step order. measurement_in_progress lies outside.
    for (const auto& name : h5::list(g.id())) run.measurements.push_back(read_measurement(g.id(), name));
  }
  f.close();
  return run;
}

}  // namespace stiffness
