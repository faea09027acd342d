// Worked example, P = 4 ranks, blocks B0..B3 (rank r owns B_r), N = 10 so
// the blocks hold 3, 3, 2, 2 examples (block_range gives the first N % P
// ranks one extra). Every step each rank sends the block it holds to r + 1
// and receives from r - 1; the next block is in flight while the current
// tile is computed.
//
//   step 0:  rank0 holds B0  rank1 B1  rank2 B2  rank3 B3   -> tiles (0,0) (1,1) (2,2) (3,3)
//   step 1:  rank0 holds B3  rank1 B0  rank2 B1  rank3 B2   -> tiles (0,3) (1,0) (2,1) (3,2)
//   step 2:  rank0 holds B2  rank1 B3  rank2 B0  rank3 B1   -> the pairs {0,2} and {1,3} are
//            held twice, so each is shared (ring_tile): rank0 computes K[first half of B0, B2]
//            = K[0:1, 6:8], rank2 computes K[B2, second half of B0] = K[6:8, 1:3]; likewise
//            rank1 K[3:4, 8:10] and rank3 K[8:10, 4:6]. No rank idles.
//
// 4 diagonal tiles + 6 off-diagonal block pairs = P(P+1)/2 = 10: each
// unordered pair of examples once, after floor(P/2) = 2 shifts. An
// off-diagonal tile K[r, s] is written to the file together with its
// transpose K[s, r] (K is symmetric). For odd P every step has whole tiles;
// for P = 1 there is no shift.
#include "stiffness/nn/ring.hpp"

#include <chrono>

#include "stiffness/error.hpp"

namespace stiffness {

namespace {

DType comm_dtype(const torch::Tensor& t) {
  if (t.scalar_type() == torch::kFloat32) return DType::f32;
  if (t.scalar_type() == torch::kFloat64) return DType::f64;
  STIFF_THROW("ring: gradient blocks must be float32 or float64");
}

double now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

RingResult ring_gram(Communicator& comm, const GradPlan& plan, const GradBlock& local,
                     int64_t n_total) {
  const int P = comm.size(), r = comm.rank();
  const Range mine = block_range(n_total, P, r);
  STIFF_CHECK(local.n == mine.size(), "ring: local block has the wrong number of examples");
  RingResult res;
  const auto shapes = part_shapes(local);
  torch::Tensor cur = pack(local);  // the block in hand, as one buffer
  const DType dt = comm_dtype(cur);
  GradBlock held = local;

  const int steps = ring_steps(P);
  for (int k = 0; k < steps; ++k) {
    // Double buffering: post the shift that brings the NEXT step's block
    // (from r - 1) and passes ours on (to r + 1) before computing this
    // step's tile, so the transfer overlaps the arithmetic.
    std::unique_ptr<PendingShift> shift;
    torch::Tensor next;
    int64_t n_next = 0;
    if (k + 1 < steps) {
      n_next = block_range(n_total, P, ring_source(P, r, k + 1)).size();
      next = torch::empty({packed_numel(shapes, n_next)}, cur.options());
      shift = comm.start_shift(cur.data_ptr(), cur.numel(), (r + 1) % P, next.data_ptr(),
                               next.numel(), (r - 1 + P) % P, dt);
      res.bytes_sent += cur.numel() * cur.element_size();
    }
    {
      const Tile t = ring_tile(n_total, P, r, k);
      const Range held_range = block_range(n_total, P, t.col);
      const double t0 = now();
      auto tile = gram_tile(plan, slice_block(local, t.rows.begin - mine.begin, t.rows.end - mine.begin),
                            slice_block(held, t.cols.begin - held_range.begin, t.cols.end - held_range.begin),
                            /*symmetric=*/k == 0);
      res.compute_seconds += now() - t0;
      res.tiles.push_back({t.rows, t.cols, tile, k > 0});
    }
    if (shift) {
      const double tw = now();
      shift->wait();
      res.wait_seconds += now() - tw;
      cur = next;
      held = unpack(cur, n_next, shapes);
    }
  }

  // The diagonal tile (step 0) holds |g_i|^2 of this rank's examples; every
  // rank needs all of them for cosines.
  // N numbers: the one place where a GPU rank's ring result meets the host.
  auto kd = res.tiles.front().k.diagonal().to(torch::kCPU).contiguous();
  std::vector<double> my_diag(kd.data_ptr<double>(), kd.data_ptr<double>() + kd.numel());
  std::vector<int64_t> counts(P);
  for (int q = 0; q < P; ++q) counts[q] = block_range(n_total, P, q).size();
  res.diag.resize(n_total);
  comm.allgatherv(my_diag.data(), res.diag.data(), counts, DType::f64);
  return res;
}

}  // namespace stiffness
