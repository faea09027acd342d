// The options that take one of a few names, as enum classes. The names are
// what the command line, the config file, the INI text in the output and the
// log say; the code compares enum values, so a misspelt name fails where it
// is parsed, naming the option and the allowed values.
#pragma once

#include <array>
#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include "stiffness/runtime/comm.hpp"

namespace stiffness {

enum class DataFormat { idx, cifar10, cifar100, hdf5, synthetic };
enum class Model { mlp, cnn, resnet20, transformer, torchscript };
enum class Precision { float32, float64 };  // --dtype and --k-dtype
enum class Norm { none, group, batch };
enum class Optimizer { adam, sgd };
// --grad-method and --device ask; plan_gradients and open_device decide
// (`auto` is resolved there, from the model and the machine).
enum class GradRequest { automatic, factor, materialize, loop };
enum class DeviceRequest { cpu, cuda, automatic };

// The name of each value, in enum order.
template <class E>
struct ChoiceNames;
template <>
struct ChoiceNames<DataFormat> {
  static constexpr std::array<const char*, 5> names{{"idx", "cifar10", "cifar100", "hdf5", "synthetic"}};
};
template <>
struct ChoiceNames<Model> {
  static constexpr std::array<const char*, 5> names{{"mlp", "cnn", "resnet20", "transformer", "torchscript"}};
};
template <>
struct ChoiceNames<Precision> {
  static constexpr std::array<const char*, 2> names{{"float32", "float64"}};
};
template <>
struct ChoiceNames<Norm> {
  static constexpr std::array<const char*, 3> names{{"none", "group", "batch"}};
};
template <>
struct ChoiceNames<Optimizer> {
  static constexpr std::array<const char*, 2> names{{"adam", "sgd"}};
};
template <>
struct ChoiceNames<GradRequest> {
  static constexpr std::array<const char*, 4> names{{"auto", "factor", "materialize", "loop"}};
};
template <>
struct ChoiceNames<DeviceRequest> {
  static constexpr std::array<const char*, 3> names{{"cpu", "cuda", "auto"}};
};

template <class E>
using IfChoice = decltype(ChoiceNames<E>::names);

template <class E, class = IfChoice<E>>
std::string to_string(E e) {
  return ChoiceNames<E>::names.at(static_cast<std::size_t>(e));
}

template <class E, class = IfChoice<E>>
std::ostream& operator<<(std::ostream& o, E e) {
  return o << to_string(e);
}

// Every name of E, in enum order.
template <class E, class = IfChoice<E>>
std::vector<std::string> choice_names() {
  return {ChoiceNames<E>::names.begin(), ChoiceNames<E>::names.end()};
}

// "a, b or c".
std::string list_of_choices(const std::vector<std::string>& names);

// The one-line error for a name that is not a choice of --option:
// "--option: expected a, b or c, got 'text'".
[[noreturn]] void throw_bad_choice(const std::string& option, const std::string& text,
                                   const std::vector<std::string>& allowed);

// The value of E named `text`. `option` (without "--") and `allowed` (the
// names in the order the option lists them; all of E's when empty) make the
// error message.
template <class E, class = IfChoice<E>>
E parse_choice(const std::string& text, const std::string& option, const std::vector<std::string>& allowed = {}) {
  const auto& names = ChoiceNames<E>::names;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (text == names[i]) return static_cast<E>(i);
  throw_bad_choice(option, text, allowed.empty() ? choice_names<E>() : allowed);
}

// The communication type of one element in this precision (dtype_size gives
// its bytes).
inline DType element_type(Precision p) { return p == Precision::float32 ? DType::f32 : DType::f64; }

}  // namespace stiffness
