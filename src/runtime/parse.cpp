#include "stiffness/runtime/parse.hpp"

#include <sstream>

#include "stiffness/runtime/error.hpp"

namespace stiffness {

std::vector<int64_t> parse_int_list(const std::string& text, const std::string& option) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto b = item.find_first_not_of(" \t");
    const auto e = item.find_last_not_of(" \t");
    if (b == std::string::npos) continue;
    item = item.substr(b, e - b + 1);
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    STIFF_CHECK(used == item.size() && used > 0,
                "--" + option + ": expected comma-separated integers, got '" + text + "'");
    out.push_back(v);
  }
  return out;
}

}  // namespace stiffness
