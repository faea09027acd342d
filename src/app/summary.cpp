#include "stiffness/app/summary.hpp"

#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>

#include "stiffness/runtime/error.hpp"
#include "stiffness/runtime/parse.hpp"
#include "stiffness/app/csv.hpp"

namespace po = boost::program_options;

namespace stiffness {

namespace {

// Columns of every format, in order.
const std::vector<std::string> kColumns{"step",          "epoch",         "train_loss",
                                        "train_accuracy", "val_loss",      "val_accuracy",
                                        "pair_set",      "within_cosine", "between_cosine",
                                        "within_sign",   "between_sign",  "xi",
                                        "half_length"};

std::string value_of(const std::map<std::string, std::string>& config, const std::string& key) {
  auto it = config.find(key);
  return it == config.end() ? "?" : it->second;
}

std::string json_string(const std::string& s) {
  std::string q = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') q += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      q += buf;
    } else {
      q += ch;
    }
  }
  return q + "\"";
}

std::string json_number(double v) { return std::isfinite(v) ? format_number(v) : "null"; }

// Fixed-width number for the table; "-" for a missing xi.
std::string cell(double v, int precision) {
  if (std::isnan(v)) return "nan";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", precision, v);
  return buf;
}

bool wanted(const SummaryOptions& o, const PairSetValues& p) {
  return o.pair_set == "all" || p.name == o.pair_set;
}

}  // namespace

SummaryOptions parse_summary_args(int argc, const char* const* argv) {
  SummaryOptions o;
  po::options_description desc("stiffness summary options");
  // clang-format off
  desc.add_options()
    ("help,h", "print this help and exit")
    ("format", po::value(&o.format)->default_value(o.format), "table (for reading) | csv | jsonl (one JSON object per line)")
    ("pair-set", po::value(&o.pair_set)->default_value(o.pair_set), "stiffness of which pairs: train_train | train_val | val_val | all");
  po::options_description hidden;
  hidden.add_options()("file", po::value(&o.files)->composing(), "run files");
  // clang-format on
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("file", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    STIFF_THROW(std::string("bad option: ") + e.what() + " (see --help)");
  }
  if (vm.count("help")) {
    std::ostringstream os;
    os << "usage: stiffness summary [options] RUN.h5[.partial]...\n\n"
       << "Prints each run's measurements: step, epoch, train and validation loss and\n"
       << "accuracy, within- and between-class cosine and sign stiffness and the critical\n"
       << "length xi (stiffness against input distance). Unfinished runs (.partial files)\n"
       << "show their measurements so far and are marked incomplete.\n\n"
       << desc;
    o.help = true;
    o.help_text = os.str();
    return o;
  }
  STIFF_CHECK(o.format == "table" || o.format == "csv" || o.format == "jsonl",
              "--format: expected table, csv or jsonl, got '" + o.format + "'");
  STIFF_CHECK(o.pair_set == "all" || o.pair_set == "train_train" || o.pair_set == "train_val" ||
                  o.pair_set == "val_val",
              "--pair-set: expected train_train, train_val, val_val or all, got '" + o.pair_set + "'");
  STIFF_CHECK(!o.files.empty(), "no input: name one or more run files (see --help)");
  return o;
}

void write_summary(std::ostream& out, const RunValues& run, const SummaryOptions& o, bool first) {
  if (o.format == "csv") {
    if (first) {
      out << "run,complete";
      for (const auto& c : kColumns) out << "," << c;
      out << "\n";
    }
    for (const auto& m : run.measurements)
      for (const auto& p : m.pair_sets) {
        if (!wanted(o, p)) continue;
        out << csv_field(run.path) << "," << (run.complete ? 1 : 0) << "," << m.step << ","
            << format_number(m.epoch) << "," << format_number(m.train_loss) << ","
            << format_number(m.train_accuracy) << "," << format_number(m.val_loss) << ","
            << format_number(m.val_accuracy) << "," << csv_field(p.name) << ","
            << format_number(p.within_cosine) << "," << format_number(p.between_cosine) << ","
            << format_number(p.within_sign) << "," << format_number(p.between_sign) << ","
            << (p.xi ? format_number(*p.xi) : "") << ","
            << (p.half_length ? format_number(*p.half_length) : "") << "\n";
      }
    return;
  }
  if (o.format == "jsonl") {
    for (const auto& m : run.measurements)
      for (const auto& p : m.pair_sets) {
        if (!wanted(o, p)) continue;
        out << "{\"run\": " << json_string(run.path) << ", \"complete\": " << (run.complete ? "true" : "false")
            << ", \"step\": " << m.step << ", \"epoch\": " << json_number(m.epoch)
            << ", \"train_loss\": " << json_number(m.train_loss)
            << ", \"train_accuracy\": " << json_number(m.train_accuracy)
            << ", \"val_loss\": " << json_number(m.val_loss)
            << ", \"val_accuracy\": " << json_number(m.val_accuracy) << ", \"pair_set\": " << json_string(p.name)
            << ", \"within_cosine\": " << json_number(p.within_cosine)
            << ", \"between_cosine\": " << json_number(p.between_cosine)
            << ", \"within_sign\": " << json_number(p.within_sign)
            << ", \"between_sign\": " << json_number(p.between_sign)
            << ", \"xi\": " << (p.xi ? json_number(*p.xi) : "null")
            << ", \"half_length\": " << (p.half_length ? json_number(*p.half_length) : "null") << "}\n";
      }
    return;
  }
  // table
  if (!first) out << "\n";
  const auto config = parse_ini_text(run.config_ini);
  out << run.path << ": model " << value_of(config, "model") << ", " << value_of(config, "dataset") << ", "
      << value_of(config, "optimizer") << " lr " << value_of(config, "lr") << ", batch "
      << value_of(config, "batch-size") << ", seed " << value_of(config, "seed") << ", " << run.ranks
      << " rank" << (run.ranks == 1 ? "" : "s") << "\n";
  if (!run.complete)
    out << "run incomplete: " << run.measurements.size() << " measurement"
        << (run.measurements.size() == 1 ? "" : "s")
        << " so far (the run is still going, or stopped before the end)\n";
  if (run.measurements.empty()) {
    out << "no measurements yet\n";
    return;
  }
  char line[256];
  // xi is the paper's (NaN when the fit does not cross zero inside the
  // data); half_len the half-stiffness length (docs/metrics.md).
  std::snprintf(line, sizeof line, "%8s %7s %10s %9s %9s %8s %-11s %8s %8s %8s %8s %8s %8s\n", "step", "epoch",
                "train_loss", "train_acc", "val_loss", "val_acc", "pairs", "cos_in", "cos_out", "sign_in",
                "sign_out", "xi", "half_len");
  out << line;
  for (const auto& m : run.measurements)
    for (const auto& p : m.pair_sets) {
      if (!wanted(o, p)) continue;
      std::snprintf(line, sizeof line,
                    "%8lld %7.3f %10.4f %9.4f %9.4f %8.4f %-11s %8.4f %8.4f %8.4f %8.4f %8s %8s\n",
                    static_cast<long long>(m.step), m.epoch, m.train_loss, m.train_accuracy, m.val_loss,
                    m.val_accuracy, p.name.c_str(), p.within_cosine, p.between_cosine, p.within_sign,
                    p.between_sign, p.xi ? cell(*p.xi, 4).c_str() : "-",
                    p.half_length ? cell(*p.half_length, 4).c_str() : "-");
      out << line;
    }
}

namespace {

int summary_on_this_rank(int argc, const char* const* argv) {
  const SummaryOptions o = parse_summary_args(argc, argv);
  if (o.help) {
    std::printf("%s", o.help_text.c_str());
    return 0;
  }
  // A .partial file may be open for writing by a running job: read it
  // without HDF5's file lock (each measurement is flushed when written).
  setenv("HDF5_USE_FILE_LOCKING", "FALSE", 0);
  bool first = true;
  for (const auto& f : o.files) {
    std::string why;
    auto run = read_run(f, &why, /*incomplete_ok=*/true);
    STIFF_CHECK(run.has_value(), "'" + f + "': " + why);
    write_summary(std::cout, *run, o, first);
    first = false;
  }
  std::cout.flush();
  return 0;
}

}  // namespace

int run_summary(Communicator& comm, int argc, const char* const* argv) {
  int64_t rc = 0;
  if (comm.rank() == 0) {
    try {
      rc = summary_on_this_rank(argc, argv);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "stiffness: error: %s\n", e.what());
      rc = 1;
    }
  }
  comm.broadcast(&rc, 1, DType::i64, 0);
  return static_cast<int>(rc);
}

}  // namespace stiffness
