// `stiffness aggregate`: collects the measurements of many runs' output files
// into one tidy CSV (one row per run x measurement x pair set) and draws the
// figures from it with Debian's matplotlib (share/stiffness/plot_aggregate.py).
// No LibTorch here: files are read serially through the HDF5 layer (h5.hpp),
// each opened on MPI_COMM_SELF. Layout read: docs/output-format.md; workflow
// on a cluster: docs/slurm.md.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "stiffness/runtime/comm.hpp"

namespace stiffness {

struct AggregateOptions {
  std::vector<std::string> inputs;         // run files and/or folders (searched recursively)
  std::string output_dir = "aggregate";    // gets runs.csv, runs.txt and the figures
  std::string format = "png";              // figure format: png | svg
  bool figures = true;                     // false: CSV only (--no-figures)
  std::string python = "/usr/bin/python3"; // interpreter with matplotlib and h5py
  bool help = false;
  std::string help_text;
};

// Parses `stiffness aggregate` arguments (argv[0] is the subcommand name).
// Throws stiffness::Error with a one-line message.
AggregateOptions parse_aggregate_args(int argc, const char* const* argv);

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
  std::string path;                           // as found (the CSV's `run` column)
  std::map<std::string, std::string> config;  // the root `config` attribute, parsed
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
// Throws Error when it is not an HDF5 file or lacks the expected layout.
std::optional<RunValues> read_run(const std::string& path, std::string* why, bool incomplete_ok = false);

// The CSV header and rows for `runs` (RFC 4180 quoting; numbers in shortest
// round-trip form; an absent xi is an empty field).
std::vector<std::string> csv_columns(const std::vector<RunValues>& runs);
void write_csv(std::ostream& out, const std::vector<RunValues>& runs);
std::string csv_field(const std::string& s);  // quotes when needed
std::string format_number(double v);          // shortest text that reads back exactly

// The subcommand. Rank 0 does the work; other ranks only learn the exit code.
int run_aggregate(Communicator& comm, int argc, const char* const* argv);

}  // namespace stiffness
