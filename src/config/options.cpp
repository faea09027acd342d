#include "stiffness/config/options.hpp"

#include <boost/program_options.hpp>
#include <iomanip>
#include <sstream>

#include "stiffness/runtime/parse.hpp"

namespace po = boost::program_options;

namespace stiffness {

namespace {

std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

template <class T>
Option base(const char* name, T Config::*m, const char* help, Affects affects) {
  Option o;
  o.name = name;
  o.help = help;
  o.affects = affects;
  o.same = [m](const Config& a, const Config& b) { return a.*m == b.*m; };
  return o;
}

// Integers, reals and plain text, read by boost. Reals are written with 17
// significant digits (they round-trip) unless `digits` says otherwise.
template <class T>
Option value(const char* name, T Config::*m, const char* help, Affects affects = Affects::results,
             int digits = 17) {
  Option o = base(name, m, help, affects);
  o.text = [m, digits](const Config& c) {
    std::ostringstream s;
    s << std::setprecision(digits) << c.*m;
    return s.str();
  };
  o.value = [m](Config& c, std::string&) -> po::value_semantic* {
    return po::value(&(c.*m))->default_value(c.*m);
  };
  return o;
}

// true/false with a value (--save-params false).
Option flag(const char* name, bool Config::*m, const char* help) {
  Option o = base(name, m, help, Affects::results);
  o.text = [m](const Config& c) { return std::string(c.*m ? "true" : "false"); };
  o.value = [m](Config& c, std::string&) -> po::value_semantic* {
    return po::value(&(c.*m))->default_value(c.*m);
  };
  return o;
}

// A switch without a value (--overwrite), not written by to_ini.
Option switch_option(const char* name, bool Config::*m, const char* help) {
  Option o = flag(name, m, help);
  o.affects = Affects::run_only;
  o.in_ini = false;
  o.value = [m](Config& c, std::string&) -> po::value_semantic* { return po::bool_switch(&(c.*m)); };
  return o;
}

// Comma-separated integers ("500,300,100").
Option list(const char* name, std::vector<int64_t> Config::*m, const char* help) {
  Option o = base(name, m, help, Affects::results);
  o.text = [m](const Config& c) { return join(c.*m); };
  o.value = [m](Config& c, std::string& raw) -> po::value_semantic* {
    return po::value(&raw)->default_value(join(c.*m));
  };
  const std::string key = name;
  o.from_raw = [m, key](Config& c, const std::string& raw) { c.*m = parse_int_list(raw, key); };
  return o;
}

// One of E's names; `allowed` in the order help and errors list them.
template <class E>
Option choice(const char* name, E Config::*m, const char* help, Affects affects = Affects::results,
              std::vector<std::string> allowed = choice_names<E>()) {
  Option o = base(name, m, help, affects);
  o.choices = allowed;
  o.text = [m](const Config& c) { return to_string(c.*m); };
  o.value = [m](Config& c, std::string& raw) -> po::value_semantic* {
    return po::value(&raw)->default_value(to_string(c.*m));
  };
  const std::string key = name;
  o.from_raw = [m, key, allowed](Config& c, const std::string& raw) { c.*m = parse_choice<E>(raw, key, allowed); };
  return o;
}

Option store_k_option(const char* name, StoreK Config::*m, const char* help) {
  Option o = base(name, m, help, Affects::results);
  o.text = [m](const Config& c) { return to_string(c.*m); };
  o.value = [m](Config& c, std::string& raw) -> po::value_semantic* {
    return po::value(&raw)->default_value(to_string(c.*m));
  };
  o.from_raw = [m](Config& c, const std::string& raw) { c.*m = parse_store_k(raw); };
  return o;
}

Option with_short(char short_name, Option o) {
  o.short_name = short_name;
  return o;
}

std::vector<Option> make_table() {
  constexpr auto run_only = Affects::run_only;
  // clang-format off
  std::vector<Option> t{
    // data
    choice("data-format", &Config::data_format, "idx | cifar10 | cifar100 | hdf5 | synthetic"),
    value("data-dir", &Config::data_dir, "data folder (idx: train-*, t10k-* IDX files, .gz or raw; cifar10/cifar100: the binary version) or HDF5 file"),
    value("num-coarse", &Config::num_coarse, "synthetic data: number of super-classes (0 = none)"),
    value("synthetic-train-per-class", &Config::synthetic_train_per_class, "synthetic data: training examples per class"),
    value("synthetic-val-per-class", &Config::synthetic_val_per_class, "synthetic data: validation examples per class"),
    value("synthetic-size", &Config::synthetic_size, "synthetic data: image side"),
    value("dataset", &Config::dataset, "dataset name recorded in the output"),
    value("num-classes", &Config::num_classes, "number of classes; labels must be in [0, n) (0 = from the data)"),
    value("train-limit", &Config::train_limit, "use only the first n training examples (0 = all)"),
    value("val-limit", &Config::val_limit, "use only the first n validation examples (0 = all)"),
    // model
    choice("model", &Config::model, "mlp | cnn | resnet20 | transformer | torchscript"),
    list("widths", &Config::widths, "mlp hidden widths, comma-separated"),
    list("channels", &Config::channels, "cnn conv channels (3x3 conv + 2x2 max-pool each)"),
    choice("dtype", &Config::dtype, "float32 | float64"),
    choice("norm", &Config::norm, "resnet20 normalisation: none (paper) | group | batch (measured with running statistics)"),
    value("norm-groups", &Config::norm_groups, "GroupNorm groups"),
    value("vocab-size", &Config::vocab_size, "transformer: number of token ids"),
    value("embed-dim", &Config::embed_dim, "transformer: model width"),
    value("heads", &Config::heads, "transformer: attention heads"),
    value("layers", &Config::layers, "transformer: encoder blocks"),
    value("script", &Config::script, "torchscript: module file saved with torch.jit.save (measured with the per-example loop)"),
    // training
    choice("optimizer", &Config::optimizer, "adam | sgd (with momentum)"),
    value("lr", &Config::lr, "constant learning rate (> 0)"),
    value("momentum", &Config::momentum, "SGD momentum in [0, 1)"),
    value("batch-size", &Config::batch_size, "global batch size, split over ranks"),
    value("epochs", &Config::epochs, "training length in epochs (ignored when --steps > 0)"),
    value("steps", &Config::steps, "training length in optimiser steps (0 = use --epochs)"),
    value("seed", &Config::seed, "seed for initialisation and data order"),
    value("eval-examples", &Config::eval_examples, "train/val examples used for loss and accuracy at each measurement"),
    // measurement
    list("measure-steps", &Config::measure_steps, "steps to measure at, comma-separated (0 = initialisation, always included)"),
    value("measure-log", &Config::measure_log, "additional log-spaced measurement steps in [1, last step]"),
    flag("measure-epochs", &Config::measure_epochs, "also measure at every epoch end (true/false)"),
    value("per-class", &Config::per_class, "training examples per class in the measured sample"),
    value("val-per-class", &Config::val_per_class, "validation examples per class in the measured sample"),
    value("sample-seed", &Config::sample_seed, "seed choosing the measured sample"),
    choice("grad-method", &Config::grad_method, "auto | factor | materialize | loop"),
    value("distance-bins", &Config::distance_bins, "bins of stiffness against input distance over [0, 2] (0 = off)"),
    store_k_option("store-k", &Config::store_k, "measurements that write K: every | last | none | steps (comma list) | auto (every while N <= 10000, else last)"),
    choice("k-dtype", &Config::k_dtype, "stored precision of K: float64 | float32", Affects::results, {"float64", "float32"}),
    // Written with 6 significant digits, the form the files have always held.
    value("panel-mb", &Config::panel_mb, "MB of K per rank at a time (row panels); 0 = 1/8 of node memory per rank, in [64, 256]", run_only, 6),
    flag("save-params", &Config::save_params, "store the model parameters at every measurement (true/false)"),
    // output and run; the output is in the resume check as the checkpoint
    // beside it belongs to that file
    with_short('o', value("output", &Config::output, "output HDF5 file (written as <output>.partial until complete)")),
    switch_option("overwrite", &Config::overwrite, "replace an existing output file"),
    value("threads", &Config::threads, "threads per rank (0 = cores / ranks on the node)", run_only),
    choice("device", &Config::device, "cpu | cuda (one GPU per rank, NCCL) | auto (cuda when possible)", run_only),
    value("gpu-timeout", &Config::gpu_timeout, "seconds a GPU collective may stall before the job ends with an error", run_only),
    value("progress-seconds", &Config::progress_seconds, "seconds between progress lines on rank 0", run_only),
    value("checkpoint-minutes", &Config::checkpoint_minutes, "checkpoint after every measurement and every this many minutes (0 = only on a preemption signal)", run_only),
    switch_option("check-only", &Config::check_only, "check the options and exit without running (exit 0 when valid)"),
  };
  // clang-format on
  return t;
}

}  // namespace

const std::vector<Option>& option_table() {
  static const std::vector<Option> table = make_table();
  return table;
}

}  // namespace stiffness
