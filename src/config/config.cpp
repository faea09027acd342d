#include "stiffness/config/config.hpp"

#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "stiffness/config/options.hpp"
#include "stiffness/runtime/error.hpp"

namespace po = boost::program_options;

namespace stiffness {

namespace {

// The table's options plus the parser's own --help and --config. Choices and
// lists are read as text into `raw` (by option name), parsed afterwards.
po::options_description describe_options(Config& c, std::map<std::string, std::string>& raw,
                                         std::string& config_file) {
  po::options_description all("stiffness train options");
  auto add = all.add_options();
  add("help,h", "print this help and exit");
  add("config", po::value(&config_file), "config file (INI: key = value); command-line options override it");
  for (const auto& o : option_table()) {
    const std::string name = o.short_name ? o.name + "," + o.short_name : o.name;
    add(name.c_str(), o.value(c, raw[o.name]), o.help.c_str());
  }
  return all;
}

}  // namespace

ParsedArgs parse_train_args(int argc, const char* const* argv) {
  ParsedArgs parsed;
  Config& c = parsed.config;
  std::map<std::string, std::string> raw;
  std::string config_file;
  auto desc = describe_options(c, raw, config_file);
  po::variables_map vm;
  try {
    // Command line first: po::store keeps the first value it sees, so the
    // command line overrides the config file stored after it.
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    if (vm.count("config")) {
      const auto path = vm["config"].as<std::string>();
      std::error_code ec;
      STIFF_CHECK(!std::filesystem::is_directory(path, ec),
                  "--config: '" + path + "' is a folder, expected a config file");
      std::ifstream in(path);
      STIFF_CHECK(in.good(), "--config: cannot read config file '" + path + "'");
      po::store(po::parse_config_file(in, desc, /*allow_unregistered=*/false), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    STIFF_THROW(std::string("bad option: ") + e.what() + " (see --help)");
  }
  if (vm.count("help")) {
    std::ostringstream os;
    os << "usage: stiffness train [--config FILE] [options]\n\n" << desc;
    parsed.help = true;
    parsed.help_text = os.str();
    return parsed;
  }
  for (const auto& o : option_table())
    if (o.from_raw) o.from_raw(c, raw[o.name]);
  c.config_file = config_file;
  for (int i = 0; i < argc; ++i) c.command_line.emplace_back(argv[i]);
  return parsed;
}

namespace {
// Shortest readable form of a number for messages ("-1e-09", not "-0.000000").
std::string num(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}
}  // namespace

void validate(const Config& c) {
  auto need = [](bool ok, const std::string& msg) { STIFF_CHECK(ok, msg); };
  need(c.norm_groups > 0, "--norm-groups: must be positive, got " + std::to_string(c.norm_groups));
  need(c.embed_dim > 0 && c.heads > 0 && c.layers >= 0, "--embed-dim/--heads/--layers: must be positive");
  need(c.vocab_size >= 0, "--vocab-size: must be >= 0, got " + std::to_string(c.vocab_size));
  need(c.model != Model::torchscript || !c.script.empty(), "--script: the torchscript model needs a module file");
  need(c.lr > 0, "--lr: learning rate must be > 0, got " + num(c.lr));
  need(c.momentum >= 0 && c.momentum < 1, "--momentum: must be in [0, 1), got " + num(c.momentum));
  need(c.batch_size > 0, "--batch-size: must be positive, got " + std::to_string(c.batch_size));
  need(c.steps >= 0, "--steps: must be >= 0, got " + std::to_string(c.steps));
  need(c.epochs >= 0, "--epochs: must be >= 0, got " + num(c.epochs));
  need(c.num_classes == 0 || c.num_classes >= 2,
       "--num-classes: need at least 2 classes (or 0 = from the data), got " + std::to_string(c.num_classes));
  need(c.num_coarse >= 0 && c.synthetic_train_per_class > 0 && c.synthetic_val_per_class > 0 && c.synthetic_size > 0,
       "--num-coarse/--synthetic-*: sizes must be positive");
  need(c.per_class > 0, "--per-class: examples per class must be positive, got " + std::to_string(c.per_class));
  need(c.val_per_class > 0, "--val-per-class: examples per class must be positive, got " + std::to_string(c.val_per_class));
  need(c.train_limit >= 0 && c.val_limit >= 0, "--train-limit/--val-limit: must be >= 0");
  need(c.eval_examples >= 0, "--eval-examples: must be >= 0, got " + std::to_string(c.eval_examples));
  need(c.measure_log >= 0, "--measure-log: must be >= 0, got " + std::to_string(c.measure_log));
  need(c.distance_bins >= 0 && c.distance_bins <= 100000, "--distance-bins: must be in [0, 100000], got " + std::to_string(c.distance_bins));
  need(c.checkpoint_minutes >= 0, "--checkpoint-minutes: must be >= 0, got " + num(c.checkpoint_minutes));
  need(c.threads >= 0, "--threads: must be >= 0, got " + std::to_string(c.threads));
  for (auto s : c.store_k.steps) need(s >= 0, "--store-k: steps must be >= 0, got " + std::to_string(s));
  need(c.panel_mb >= 0, "--panel-mb: must be >= 0 (0 = the default), got " + num(c.panel_mb));
  need(c.gpu_timeout > 0, "--gpu-timeout: must be > 0 seconds, got " + num(c.gpu_timeout));
  need(!c.output.empty(), "--output: must not be empty");
  for (auto s : c.measure_steps) need(s >= 0, "--measure-steps: steps must be >= 0, got " + std::to_string(s));
  if (c.model == Model::mlp) {
    for (auto w : c.widths) need(w > 0, "--widths: widths must be positive, got " + std::to_string(w));
  } else if (c.model == Model::cnn) {
    need(!c.channels.empty(), "--channels: need at least one conv layer");
    for (auto w : c.channels) need(w > 0, "--channels: channels must be positive, got " + std::to_string(w));
  }
}

namespace {
std::string ini_lines(const Config& c, bool all, Affects affects) {
  std::string s;
  for (const auto& o : option_table())
    if (o.in_ini && (all || o.affects == affects)) s += o.name + " = " + o.text(c) + "\n";
  return s;
}
}  // namespace

std::string to_ini(const Config& c) { return ini_lines(c, true, Affects::results); }

std::string to_ini(const Config& c, Affects affects) { return ini_lines(c, false, affects); }

std::vector<std::string> differing_options(const Config& a, const Config& b) {
  std::vector<std::string> names;
  for (const auto& o : option_table())
    if (!o.same(a, b)) names.push_back(o.name);
  return names;
}

}  // namespace stiffness
