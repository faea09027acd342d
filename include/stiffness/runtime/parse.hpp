// Text values of options, parsed with errors that name the option.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace stiffness {

// Comma-separated integers, e.g. "500,300,100"; `option` names it in errors.
std::vector<int64_t> parse_int_list(const std::string& text, const std::string& option);

}  // namespace stiffness
