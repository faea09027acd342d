#include "stiffness/config/config.hpp"

#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

#include "stiffness/runtime/error.hpp"
#include "stiffness/runtime/parse.hpp"

namespace po = boost::program_options;

namespace stiffness {

namespace {

std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

// List-valued options travel as strings ("500,300,100") so that the config
// file and the command line use the same syntax.
struct ListOptions {
  std::string widths, channels, measure_steps;
};

po::options_description describe_options(Config& c, ListOptions& lists, std::string& config_file) {
  po::options_description all("stiffness train options");
  // clang-format off
  all.add_options()
    ("help,h", "print this help and exit")
    ("config", po::value(&config_file), "config file (INI: key = value); command-line options override it")
    // data
    ("data-format", po::value(&c.data_format)->default_value(c.data_format), "idx | cifar10 | cifar100 | hdf5 | synthetic")
    ("data-dir", po::value(&c.data_dir)->default_value(c.data_dir), "data folder (idx: train-*, t10k-* IDX files, .gz or raw; cifar10/cifar100: the binary version) or HDF5 file")
    ("num-coarse", po::value(&c.num_coarse)->default_value(c.num_coarse), "synthetic data: number of super-classes (0 = none)")
    ("synthetic-train-per-class", po::value(&c.synthetic_train_per_class)->default_value(c.synthetic_train_per_class), "synthetic data: training examples per class")
    ("synthetic-val-per-class", po::value(&c.synthetic_val_per_class)->default_value(c.synthetic_val_per_class), "synthetic data: validation examples per class")
    ("synthetic-size", po::value(&c.synthetic_size)->default_value(c.synthetic_size), "synthetic data: image side")
    ("dataset", po::value(&c.dataset)->default_value(c.dataset), "dataset name recorded in the output")
    ("num-classes", po::value(&c.num_classes)->default_value(c.num_classes), "number of classes; labels must be in [0, n) (0 = from the data)")
    ("train-limit", po::value(&c.train_limit)->default_value(c.train_limit), "use only the first n training examples (0 = all)")
    ("val-limit", po::value(&c.val_limit)->default_value(c.val_limit), "use only the first n validation examples (0 = all)")
    // model
    ("model", po::value(&c.model)->default_value(c.model), "mlp | cnn | resnet20 | transformer | torchscript")
    ("widths", po::value(&lists.widths)->default_value(join(c.widths)), "mlp hidden widths, comma-separated")
    ("channels", po::value(&lists.channels)->default_value(join(c.channels)), "cnn conv channels (3x3 conv + 2x2 max-pool each)")
    ("dtype", po::value(&c.dtype)->default_value(c.dtype), "float32 | float64")
    ("norm", po::value(&c.norm)->default_value(c.norm), "resnet20 normalisation: none (paper) | group | batch (measured with running statistics)")
    ("norm-groups", po::value(&c.norm_groups)->default_value(c.norm_groups), "GroupNorm groups")
    ("vocab-size", po::value(&c.vocab_size)->default_value(c.vocab_size), "transformer: number of token ids")
    ("embed-dim", po::value(&c.embed_dim)->default_value(c.embed_dim), "transformer: model width")
    ("heads", po::value(&c.heads)->default_value(c.heads), "transformer: attention heads")
    ("layers", po::value(&c.layers)->default_value(c.layers), "transformer: encoder blocks")
    ("script", po::value(&c.script)->default_value(c.script), "torchscript: module file saved with torch.jit.save (measured with the per-example loop)")
    // training
    ("optimizer", po::value(&c.optimizer)->default_value(c.optimizer), "adam | sgd (with momentum)")
    ("lr", po::value(&c.lr)->default_value(c.lr), "constant learning rate (> 0)")
    ("momentum", po::value(&c.momentum)->default_value(c.momentum), "SGD momentum in [0, 1)")
    ("batch-size", po::value(&c.batch_size)->default_value(c.batch_size), "global batch size, split over ranks")
    ("epochs", po::value(&c.epochs)->default_value(c.epochs), "training length in epochs (ignored when --steps > 0)")
    ("steps", po::value(&c.steps)->default_value(c.steps), "training length in optimiser steps (0 = use --epochs)")
    ("seed", po::value(&c.seed)->default_value(c.seed), "seed for initialisation and data order")
    ("eval-examples", po::value(&c.eval_examples)->default_value(c.eval_examples), "train/val examples used for loss and accuracy at each measurement")
    // measurement
    ("measure-steps", po::value(&lists.measure_steps)->default_value(join(c.measure_steps)), "steps to measure at, comma-separated (0 = initialisation, always included)")
    ("measure-log", po::value(&c.measure_log)->default_value(c.measure_log), "additional log-spaced measurement steps in [1, last step]")
    ("measure-epochs", po::value(&c.measure_epochs)->default_value(c.measure_epochs), "also measure at every epoch end (true/false)")
    ("per-class", po::value(&c.per_class)->default_value(c.per_class), "training examples per class in the measured sample")
    ("val-per-class", po::value(&c.val_per_class)->default_value(c.val_per_class), "validation examples per class in the measured sample")
    ("sample-seed", po::value(&c.sample_seed)->default_value(c.sample_seed), "seed choosing the measured sample")
    ("grad-method", po::value(&c.grad_method)->default_value(c.grad_method), "auto | factor | materialize | loop")
    ("save-params", po::value(&c.save_params)->default_value(c.save_params), "store the model parameters at every measurement (true/false)")
    ("distance-bins", po::value(&c.distance_bins)->default_value(c.distance_bins), "bins of stiffness against input distance over [0, 2] (0 = off)")
    ("store-k", po::value(&c.store_k)->default_value(c.store_k), "measurements that write K: every | last | none | steps (comma list) | auto (every while N <= 10000, else last)")
    ("k-dtype", po::value(&c.k_dtype)->default_value(c.k_dtype), "stored precision of K: float64 | float32")
    ("panel-mb", po::value(&c.panel_mb)->default_value(c.panel_mb), "MB of K per rank at a time (row panels); 0 = 1/8 of node memory per rank, in [64, 256]")
    // output
    ("output,o", po::value(&c.output)->default_value(c.output), "output HDF5 file (written as <output>.partial until complete)")
    ("overwrite", po::bool_switch(&c.overwrite), "replace an existing output file")
    ("threads", po::value(&c.threads)->default_value(c.threads), "threads per rank (0 = cores / ranks on the node)")
    ("device", po::value(&c.device)->default_value(c.device), "cpu | cuda (one GPU per rank, NCCL) | auto (cuda when possible)")
    ("gpu-timeout", po::value(&c.gpu_timeout)->default_value(c.gpu_timeout), "seconds a GPU collective may stall before the job ends with an error")
    ("progress-seconds", po::value(&c.progress_seconds)->default_value(c.progress_seconds), "seconds between progress lines on rank 0")
    ("checkpoint-minutes", po::value(&c.checkpoint_minutes)->default_value(c.checkpoint_minutes), "checkpoint after every measurement and every this many minutes (0 = only on a preemption signal)")
    ("check-only", po::bool_switch(&c.check_only), "check the options and exit without running (exit 0 when valid)");
  // clang-format on
  return all;
}

}  // namespace

ParsedArgs parse_train_args(int argc, const char* const* argv) {
  ParsedArgs parsed;
  Config& c = parsed.config;
  ListOptions lists;
  std::string config_file;
  auto desc = describe_options(c, lists, config_file);
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
  c.widths = parse_int_list(lists.widths, "widths");
  c.channels = parse_int_list(lists.channels, "channels");
  c.measure_steps = parse_int_list(lists.measure_steps, "measure-steps");
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
  static const std::set<std::string> models{"mlp", "cnn", "resnet20", "transformer", "torchscript"};
  need(models.count(c.model) == 1, "--model: unknown model '" + c.model +
                                       "', expected mlp, cnn, resnet20, transformer or torchscript");
  need(c.norm == "none" || c.norm == "group" || c.norm == "batch",
       "--norm: expected none, group or batch, got '" + c.norm + "'");
  need(c.norm_groups > 0, "--norm-groups: must be positive, got " + std::to_string(c.norm_groups));
  need(c.embed_dim > 0 && c.heads > 0 && c.layers >= 0, "--embed-dim/--heads/--layers: must be positive");
  need(c.vocab_size >= 0, "--vocab-size: must be >= 0, got " + std::to_string(c.vocab_size));
  need(c.model != "torchscript" || !c.script.empty(), "--script: the torchscript model needs a module file");
  need(c.dtype == "float32" || c.dtype == "float64", "--dtype: expected float32 or float64, got '" + c.dtype + "'");
  need(c.optimizer == "adam" || c.optimizer == "sgd", "--optimizer: expected adam or sgd, got '" + c.optimizer + "'");
  static const std::set<std::string> methods{"auto", "factor", "materialize", "loop"};
  need(methods.count(c.grad_method) == 1, "--grad-method: expected auto, factor, materialize or loop, got '" + c.grad_method + "'");
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
  need(c.device == "cpu" || c.device == "cuda" || c.device == "auto",
       "--device: expected cpu, cuda or auto, got '" + c.device + "'");
  need(c.k_dtype == "float64" || c.k_dtype == "float32",
       "--k-dtype: expected float64 or float32, got '" + c.k_dtype + "'");
  if (c.store_k != "auto" && c.store_k != "every" && c.store_k != "last" && c.store_k != "none")
    for (auto s : parse_int_list(c.store_k, "--store-k"))
      need(s >= 0, "--store-k: steps must be >= 0, got " + std::to_string(s));
  need(c.panel_mb >= 0, "--panel-mb: must be >= 0 (0 = the default), got " + num(c.panel_mb));
  need(c.gpu_timeout > 0, "--gpu-timeout: must be > 0 seconds, got " + num(c.gpu_timeout));
  need(!c.output.empty(), "--output: must not be empty");
  for (auto s : c.measure_steps) need(s >= 0, "--measure-steps: steps must be >= 0, got " + std::to_string(s));
  if (c.model == "mlp") {
    for (auto w : c.widths) need(w > 0, "--widths: widths must be positive, got " + std::to_string(w));
  } else if (c.model == "cnn") {
    need(!c.channels.empty(), "--channels: need at least one conv layer");
    for (auto w : c.channels) need(w > 0, "--channels: channels must be positive, got " + std::to_string(w));
  }
}

std::string to_ini(const Config& c) {
  std::ostringstream o;
  o << std::setprecision(17);
  o << "data-format = " << c.data_format << "\n"
    << "data-dir = " << c.data_dir << "\n"
    << "num-coarse = " << c.num_coarse << "\n"
    << "synthetic-train-per-class = " << c.synthetic_train_per_class << "\n"
    << "synthetic-val-per-class = " << c.synthetic_val_per_class << "\n"
    << "synthetic-size = " << c.synthetic_size << "\n"
    << "dataset = " << c.dataset << "\n"
    << "num-classes = " << c.num_classes << "\n"
    << "train-limit = " << c.train_limit << "\n"
    << "val-limit = " << c.val_limit << "\n"
    << "model = " << c.model << "\n"
    << "widths = " << join(c.widths) << "\n"
    << "channels = " << join(c.channels) << "\n"
    << "dtype = " << c.dtype << "\n"
    << "norm = " << c.norm << "\n"
    << "norm-groups = " << c.norm_groups << "\n"
    << "vocab-size = " << c.vocab_size << "\n"
    << "embed-dim = " << c.embed_dim << "\n"
    << "heads = " << c.heads << "\n"
    << "layers = " << c.layers << "\n"
    << "script = " << c.script << "\n"
    << "optimizer = " << c.optimizer << "\n"
    << "lr = " << c.lr << "\n"
    << "momentum = " << c.momentum << "\n"
    << "batch-size = " << c.batch_size << "\n"
    << "epochs = " << c.epochs << "\n"
    << "steps = " << c.steps << "\n"
    << "seed = " << c.seed << "\n"
    << "eval-examples = " << c.eval_examples << "\n"
    << "measure-steps = " << join(c.measure_steps) << "\n"
    << "measure-log = " << c.measure_log << "\n"
    << "measure-epochs = " << (c.measure_epochs ? "true" : "false") << "\n"
    << "per-class = " << c.per_class << "\n"
    << "val-per-class = " << c.val_per_class << "\n"
    << "sample-seed = " << c.sample_seed << "\n"
    << "grad-method = " << c.grad_method << "\n"
    << "distance-bins = " << c.distance_bins << "\n"
    << "store-k = " << c.store_k << "\n"
    << "k-dtype = " << c.k_dtype << "\n"
    << "panel-mb = " << num(c.panel_mb) << "\n"
    << "save-params = " << (c.save_params ? "true" : "false") << "\n"
    << "output = " << c.output << "\n"
    << "threads = " << c.threads << "\n"
    << "device = " << c.device << "\n"
    << "gpu-timeout = " << c.gpu_timeout << "\n"
    << "progress-seconds = " << c.progress_seconds << "\n"
    << "checkpoint-minutes = " << c.checkpoint_minutes << "\n";
  return o.str();
}

}  // namespace stiffness
