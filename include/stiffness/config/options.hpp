// The option table of `stiffness train`: every option of Config once, with
// its name, its member, its help text, whether it changes results and, for a
// choice, the allowed values. The parser and --help (boost::program_options),
// to_ini, the resume check and the choice checks are all made from it; the
// defaults are Config's initialisers.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "stiffness/config/config.hpp"

namespace boost {
namespace program_options {
class value_semantic;
}
}  // namespace boost

namespace stiffness {

struct Option {
  std::string name;  // the config-file key; --name on the command line
  char short_name = 0;
  std::string help;
  Affects affects = Affects::results;
  // Written by to_ini. The switches --overwrite and --check-only are not:
  // they say what to do with the output path, not what the run is.
  bool in_ini = true;
  // A choice's names in the order its help and errors list them; empty for
  // other options.
  std::vector<std::string> choices;
  // The value as to_ini writes it.
  std::function<std::string(const Config&)> text;
  // Whether two configs hold the same value.
  std::function<bool(const Config&, const Config&)> same;
  // How boost reads it: numbers, flags and plain text straight into the
  // member of `c`; choices and lists into `raw`, which `from_raw` then parses
  // (its errors name the option). `from_raw` is empty for the former.
  std::function<boost::program_options::value_semantic*(Config& c, std::string& raw)> value;
  std::function<void(Config&, const std::string&)> from_raw;
};

// In to_ini's order.
const std::vector<Option>& option_table();

}  // namespace stiffness
