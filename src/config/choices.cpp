#include "stiffness/config/choices.hpp"

#include "stiffness/runtime/error.hpp"

namespace stiffness {

std::string list_of_choices(const std::vector<std::string>& names) {
  std::string s;
  for (std::size_t i = 0; i < names.size(); ++i)
    s += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return s;
}

void throw_bad_choice(const std::string& option, const std::string& text, const std::vector<std::string>& allowed) {
  STIFF_THROW("--" + option + ": expected " + list_of_choices(allowed) + ", got '" + text + "'");
}

}  // namespace stiffness
