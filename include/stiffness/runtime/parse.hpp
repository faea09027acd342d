// Text values of options, parsed with errors that name the option.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace stiffness {

// Comma-separated integers, e.g. "500,300,100"; `option` names it in errors.
std::vector<int64_t> parse_int_list(const std::string& text, const std::string& option);

// `key = value` lines of an INI text; blank lines and '#' / ';' comments are
// skipped, surrounding blanks trimmed. A later key replaces an earlier one.
std::map<std::string, std::string> parse_ini_text(const std::string& text);

}  // namespace stiffness
