#include "stiffness/app/aggregate.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "stiffness/runtime/error.hpp"
#include "stiffness/app/csv.hpp"
#include "stiffness/runtime/parse.hpp"

namespace fs = std::filesystem;
namespace po = boost::program_options;

extern char** environ;

namespace stiffness {

namespace {

// Columns that come from the file itself, after the config keys. A config
// key with one of these names would be ambiguous: it gets a "config:" prefix.
const std::vector<std::string> kFixedColumns{
    "ranks",          "step",           "epoch",        "train_loss",  "train_accuracy",
    "val_loss",       "val_accuracy",   "pair_set",     "within_cosine", "between_cosine",
    "within_sign",    "between_sign",   "xi",           "xi_status",   "half_length"};

// A script of share/stiffness (`name`): $STIFFNESS_SHARE_DIR, then <exe dir>/../share/stiffness
// (an installed tree), then the source tree this binary was built from.
fs::path find_share_script(const std::string& name = "plot_aggregate.py") {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("STIFFNESS_SHARE_DIR"); env && *env) dirs.emplace_back(env);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back(exe.parent_path() / ".." / "share" / "stiffness");
#ifdef STIFFNESS_SHARE_DIR
  dirs.emplace_back(STIFFNESS_SHARE_DIR);
#endif
  std::string tried;
  for (const auto& d : dirs) {
    const fs::path p = d / name;
    if (fs::is_regular_file(p, ec)) return p.lexically_normal();
    tried += (tried.empty() ? "" : ", ") + p.lexically_normal().string();
  }
  STIFF_THROW("cannot find " + name + " (looked for " + tried +
              "); set STIFFNESS_SHARE_DIR or pass --no-figures");
}

// Runs `args` (args[0] found on PATH if it has no '/') and waits for it.
// Returns its exit status, or throws when it cannot be started or was killed.
int run_program(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
  STIFF_CHECK(rc == 0, "cannot run '" + args[0] + "': " + std::strerror(rc) +
                           " (--python names the interpreter; or pass --no-figures)");
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    STIFF_CHECK(errno == EINTR, "waiting for '" + args[0] + "' failed: " + std::strerror(errno));
  }
  STIFF_CHECK(WIFEXITED(status), "'" + args[0] + "' was killed by signal " +
                                     std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : 0));
  return WEXITSTATUS(status);
}

void warn(const std::string& msg) { std::fprintf(stderr, "stiffness: warning: %s\n", msg.c_str()); }

}  // namespace

// ------------------------------------------------------------------ options

AggregateOptions parse_aggregate_args(int argc, const char* const* argv) {
  AggregateOptions o;
  po::options_description desc("stiffness aggregate options");
  // clang-format off
  desc.add_options()
    ("help,h", "print this help and exit")
    ("output-dir,o", po::value(&o.output_dir)->default_value(o.output_dir), "folder for runs.csv, runs.txt and the figures (created if missing)")
    ("format", po::value(&o.format)->default_value(o.format), "figure format: png | svg")
    ("no-figures", po::bool_switch(), "write the CSV only, draw no figures")
    ("python", po::value(&o.python)->default_value(o.python), "Python interpreter with matplotlib and h5py (Debian's by default)");
  po::options_description hidden;
  hidden.add_options()("input", po::value(&o.inputs)->composing(), "run files or folders");
  // clang-format on
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("input", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    STIFF_THROW(std::string("bad option: ") + e.what() + " (see --help)");
  }
  if (vm.count("help")) {
    std::ostringstream os;
    os << "usage: stiffness aggregate [options] RUN.h5|FOLDER...\n\n"
       << "Reads every complete run file (folders are searched recursively for *.h5;\n"
       << "*.partial and incomplete files are skipped with a warning) and writes\n"
       << "OUTPUT_DIR/runs.csv (one row per run x measurement x pair set) and figures:\n"
       << "class stiffness heatmaps, stiffness against step per learning rate,\n"
       << "stiffness against distance and xi against learning rate (when present).\n\n"
       << desc;
    o.help = true;
    o.help_text = os.str();
    return o;
  }
  o.figures = !vm["no-figures"].as<bool>();
  STIFF_CHECK(o.format == "png" || o.format == "svg", "--format: expected png or svg, got '" + o.format + "'");
  STIFF_CHECK(!o.inputs.empty(), "no input: name run files or folders of them (see --help)");
  STIFF_CHECK(!o.output_dir.empty(), "--output-dir: must not be empty");
  return o;
}

// -------------------------------------------------------------- CSV

namespace {

using ConfigValues = std::map<std::string, std::string>;

std::vector<ConfigValues> parse_configs(const std::vector<RunValues>& runs) {
  std::vector<ConfigValues> configs;
  for (const auto& r : runs) configs.push_back(parse_ini_text(r.config_ini));
  return configs;
}

std::vector<std::string> config_keys(const std::vector<ConfigValues>& configs) {
  std::set<std::string> keys;
  for (const auto& c : configs)
    for (const auto& kv : c) keys.insert(kv.first);
  return {keys.begin(), keys.end()};
}

std::string config_column(const std::string& key) {
  const bool clash = key == "run" ||
                     std::find(kFixedColumns.begin(), kFixedColumns.end(), key) != kFixedColumns.end();
  return clash ? "config:" + key : key;
}

}  // namespace

std::vector<std::string> csv_columns(const std::vector<RunValues>& runs) {
  std::vector<std::string> cols{"run"};
  for (const auto& k : config_keys(parse_configs(runs))) cols.push_back(config_column(k));
  cols.insert(cols.end(), kFixedColumns.begin(), kFixedColumns.end());
  return cols;
}

void write_csv(std::ostream& out, const std::vector<RunValues>& runs) {
  const auto configs = parse_configs(runs);
  const auto keys = config_keys(configs);
  const auto cols = csv_columns(runs);
  for (size_t i = 0; i < cols.size(); ++i) out << (i ? "," : "") << csv_field(cols[i]);
  out << "\n";
  for (size_t ri = 0; ri < runs.size(); ++ri) {
    const RunValues& r = runs[ri];
    const ConfigValues& config = configs[ri];
    std::string prefix = csv_field(r.path);
    for (const auto& k : keys) {
      auto it = config.find(k);
      prefix += "," + csv_field(it == config.end() ? std::string() : it->second);
    }
    prefix += "," + std::to_string(r.ranks);
    for (const auto& m : r.measurements) {
      const std::string mpart = prefix + "," + std::to_string(m.step) + "," + format_number(m.epoch) +
                                "," + format_number(m.train_loss) + "," +
                                format_number(m.train_accuracy) + "," + format_number(m.val_loss) +
                                "," + format_number(m.val_accuracy);
      for (const auto& p : m.pair_sets) {
        out << mpart << "," << csv_field(p.name) << "," << format_number(p.within_cosine) << ","
            << format_number(p.between_cosine) << "," << format_number(p.within_sign) << ","
            << format_number(p.between_sign) << "," << (p.xi ? format_number(*p.xi) : "") << ","
            << csv_field(p.xi_status) << "," << (p.half_length ? format_number(*p.half_length) : "") << "\n";
      }
    }
  }
}

// -------------------------------------------------------------- command

namespace {

int draw_figures(const AggregateOptions& o, const fs::path& csv, const fs::path& list);

int aggregate_on_this_rank(int argc, const char* const* argv) {
  const AggregateOptions o = parse_aggregate_args(argc, argv);
  if (o.help) {
    std::printf("%s", o.help_text.c_str());
    return 0;
  }
  const FoundFiles found = find_run_files(o.inputs);
  for (const auto& w : found.skipped) warn(w);
  std::vector<RunValues> runs;
  size_t skipped = found.skipped.size();
  for (const auto& file : found.files) {
    std::string why;
    std::optional<RunValues> run;
    try {
      run = read_run(file.path, &why);
    } catch (const Error& e) {
      if (file.named) throw;  // a file the user named must be a run file
      why = e.what();         // a stray file in a folder: say so, go on
    }
    if (!run) {
      if (why.rfind("'" + file.path + "'", 0) != 0) why = "skipping '" + file.path + "': " + why;
      else why = "skipping: " + why;
      warn(why);
      ++skipped;
      continue;
    }
    runs.push_back(std::move(*run));
  }
  STIFF_CHECK(!runs.empty(), "no complete run files among the inputs (" + std::to_string(skipped) +
                                 " skipped)");

  std::error_code ec;
  fs::create_directories(o.output_dir, ec);
  STIFF_CHECK(fs::is_directory(o.output_dir), "--output-dir: cannot create folder '" + o.output_dir +
                                                  "'" + (ec ? ": " + ec.message() : std::string()));
  const fs::path csv = fs::path(o.output_dir) / "runs.csv";
  const fs::path list = fs::path(o.output_dir) / "runs.txt";
  size_t rows = 0;
  for (const auto& r : runs)
    for (const auto& m : r.measurements) rows += m.pair_sets.size();
  {
    // Written beside and renamed, so a reader never sees half a CSV.
    const fs::path tmp = csv.string() + ".tmp";
    std::ofstream out(tmp);
    STIFF_CHECK(out.good(), "cannot write '" + tmp.string() + "'");
    write_csv(out, runs);
    out.close();
    STIFF_CHECK(out.good(), "cannot write '" + tmp.string() + "'");
    fs::rename(tmp, csv, ec);
    STIFF_CHECK(!ec, "cannot rename '" + tmp.string() + "' to '" + csv.string() + "': " + ec.message());
    std::ofstream lo(list);
    for (const auto& r : runs) lo << r.path << "\n";
    lo.close();
    STIFF_CHECK(lo.good(), "cannot write '" + list.string() + "'");
  }
  std::printf("aggregate: %zu run%s (%zu skipped), %zu rows -> %s\n", runs.size(),
              runs.size() == 1 ? "" : "s", skipped, rows, csv.string().c_str());
  std::fflush(stdout);
  if (o.figures) {
    const int rc = draw_figures(o, csv, list);
    if (rc != 0) return rc;
  }
  // index.html: the run table and the figures on one self-contained page.
  const fs::path report = find_share_script("report_html.py");
  std::vector<std::string> args{o.python, report.string(), "--csv", csv.string(), "--out", o.output_dir,
                                "--format", o.format};
  if (!o.figures) args.push_back("--no-figures");
  STIFF_CHECK(run_program(args) == 0, "writing index.html failed (" + report.string() +
                                          " reported the error above); the CSV and figures are written");
  return 0;
}

int draw_figures(const AggregateOptions& o, const fs::path& csv, const fs::path& list) {
  const fs::path script = find_share_script();
  const int rc = run_program({o.python, script.string(), "--csv", csv.string(), "--runs",
                              list.string(), "--out", o.output_dir, "--format", o.format});
  // Exit status 3: the script printed its own one-line error (e.g. no matplotlib).
  if (rc == 3) return 1;
  STIFF_CHECK(rc == 0, "drawing the figures failed (" + script.string() + " exited with status " +
                           std::to_string(rc) + "); the CSV is written");
  return 0;
}

}  // namespace

int run_aggregate(Communicator& comm, int argc, const char* const* argv) {
  int64_t rc = 0;
  if (comm.rank() == 0) {
    try {
      rc = aggregate_on_this_rank(argc, argv);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "stiffness: error: %s\n", e.what());
      rc = 1;
    }
  }
  // One process does the work; under mpirun the others just share its verdict.
  comm.broadcast(&rc, 1, DType::i64, 0);
  return static_cast<int>(rc);
}

}  // namespace stiffness
