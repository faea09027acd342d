// Running the `stiffness train` parser from a test.
#pragma once

#include <string>
#include <vector>

#include "stiffness/config/config.hpp"
#include "stiffness/runtime/error.hpp"

namespace stiffness::test_support {

inline ParsedArgs parse(std::vector<std::string> args) {
  args.insert(args.begin(), "train");
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  return parse_train_args(static_cast<int>(argv.size()), argv.data());
}

// The message of the error parsing and validating `args` throw ("" if none).
inline std::string error_of(std::vector<std::string> args) {
  try {
    validate(parse(args).config);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace stiffness::test_support
