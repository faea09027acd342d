// `stiffness aggregate`: collects the measurements of many runs' output files
// into one tidy CSV (one row per run x measurement x pair set) and draws the
// figures from it with Debian's matplotlib (share/stiffness/plot_aggregate.py).
// No LibTorch here: files are read serially by the run file's reader
// (io/run_reader.hpp). Layout read: docs/output-format.md; workflow on a
// cluster: docs/slurm.md.
#pragma once

#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "stiffness/runtime/comm.hpp"
#include "stiffness/io/run_reader.hpp"

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

// The CSV header and rows for `runs` (RFC 4180 quoting; numbers in shortest
// round-trip form; an absent xi is an empty field). One column per key of
// the runs' configurations.
std::vector<std::string> csv_columns(const std::vector<RunValues>& runs);
void write_csv(std::ostream& out, const std::vector<RunValues>& runs);

// The subcommand. Rank 0 does the work; other ranks only learn the exit code.
int run_aggregate(Communicator& comm, int argc, const char* const* argv);

}  // namespace stiffness
