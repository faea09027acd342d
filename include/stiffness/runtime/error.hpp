// One error type for the whole project. It carries the source file and line
// where the problem was detected, so that a one-line message on stderr tells a
// user what went wrong and tells a developer where to look.
#pragma once

#include <stdexcept>
#include <string>

namespace stiffness {

class Error : public std::runtime_error {
 public:
  Error(std::string what, const char* file, int line)
      : std::runtime_error(std::move(what)), file_(file), line_(line) {}
  const char* file() const noexcept { return file_; }
  int line() const noexcept { return line_; }

 private:
  const char* file_;
  int line_;
};

}  // namespace stiffness

// Throw a stiffness::Error with the current file and line.
#define STIFF_THROW(msg) throw ::stiffness::Error((msg), __FILE__, __LINE__)

// Check a condition that depends on user input or the environment.
#define STIFF_CHECK(cond, msg) \
  do {                         \
    if (!(cond)) STIFF_THROW(msg); \
  } while (0)
