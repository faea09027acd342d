// The reader of run files (the writer: run_file.hpp; the names both use:
// run_schema.hpp), for the commands that read results back: `stiffness
// summary` and `stiffness aggregate`. Files are read serially, each opened on
// MPI_COMM_SELF, so one rank can read while the others wait.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace stiffness {

// One pair set (train_train, train_val, val_val) of one measurement.
struct PairSetValues {
  std::string name;
  double within_cosine = 0, between_cosine = 0, within_sign = 0, between_sign = 0;
  std::optional<double> xi;  // attribute xi_linear, when the file has it
  std::string xi_status;     // why xi is NaN (xi_linear_status; empty in files before format 2)
  std::optional<double> half_length;  // attribute half_length (format 2 on)
};

struct MeasurementValues {
  int64_t step = 0;
  double epoch = 0, train_loss = 0, train_accuracy = 0, val_loss = 0, val_accuracy = 0;
  std::vector<PairSetValues> pair_sets;  // train_train, train_val, val_val order
};

struct RunValues {
  std::string path;        // as found (the CSV's `run` column)
  // The root `config` attribute as stored, "key = value" lines; parsing it is
  // the config layer's business (parse_ini_text), above this one.
  std::string config_ini;
  int64_t ranks = 0;
  bool complete = true;                       // root attribute complete = 1
  std::vector<MeasurementValues> measurements;  // in file order (by step)
};

// The files named by `inputs`: a file is taken as is; a folder is searched
// recursively for *.h5 (checkpoint folders *.ckpt are not entered).
// `*.partial` files (named or found) are not returned but reported in
// `skipped` as one-line warnings. A named path that does not exist throws
// Error. Sorted, without duplicates.
struct FoundFile {
  std::string path;
  bool named = false;  // named on the command line (not found in a folder)
};
struct FoundFiles {
  std::vector<FoundFile> files;
  std::vector<std::string> skipped;
};
FoundFiles find_run_files(const std::vector<std::string>& inputs);

// Reads one run file (on MPI_COMM_SELF). Returns std::nullopt with `why`
// set when the file is a readable stiffness file that is not complete
// (unless `incomplete_ok`: then its measurements so far, complete = false).
// A measurement still being written (measurement_in_progress) is not read.
// Throws Error when it is not an HDF5 file or lacks the expected layout.
std::optional<RunValues> read_run(const std::string& path, std::string* why, bool incomplete_ok = false);

}  // namespace stiffness
