#include "stiffness/runtime/comm.hpp"

#include "stiffness/runtime/error.hpp"

namespace stiffness {

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i64: return 8;
    case DType::u8: return 1;
  }
  STIFF_THROW("dtype_size: unknown dtype");
}

bool Communicator::all_ok(bool ok) {
  int64_t bad = ok ? 0 : 1;
  allreduce_sum(&bad, 1, DType::i64);
  return bad == 0;
}

}  // namespace stiffness
