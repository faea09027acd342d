// `stiffness summary FILE...`: a run's measurements as a table on the
// terminal -- step, epoch, train/validation loss and accuracy, within- and
// between-class cosine and sign stiffness, xi -- read straight from the
// output file (finished, or an unfinished `.partial`), so that no Python is
// needed to see a run's results. --format csv|jsonl for machine reading.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "stiffness/runtime/comm.hpp"
#include "stiffness/io/run_reader.hpp"

namespace stiffness {

struct SummaryOptions {
  std::vector<std::string> files;
  std::string format = "table";       // table | csv | jsonl
  std::string pair_set = "train_train";  // which pair set's stiffness; "all" = every one
  bool help = false;
  std::string help_text;
};

// Throws stiffness::Error with a one-line message.
SummaryOptions parse_summary_args(int argc, const char* const* argv);

// Writes `run` in the chosen format (header lines only for table).
void write_summary(std::ostream& out, const RunValues& run, const SummaryOptions& o, bool first);

// The subcommand. Rank 0 does the work; other ranks only learn the exit code.
int run_summary(Communicator& comm, int argc, const char* const* argv);

}  // namespace stiffness
