// Text for the machine-readable outputs of `stiffness summary` and
// `stiffness aggregate`: CSV fields and numbers that read back exactly.
#pragma once

#include <string>

namespace stiffness {

std::string csv_field(const std::string& s);  // RFC 4180: quoted when needed
std::string format_number(double v);          // shortest text that reads back exactly

}  // namespace stiffness
