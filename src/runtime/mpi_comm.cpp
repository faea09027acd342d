#include "stiffness/runtime/mpi_comm.hpp"

#include <algorithm>
#include <string>

#include "stiffness/runtime/error.hpp"

namespace stiffness {

namespace {

MPI_Datatype to_mpi(DType t) {
  switch (t) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i64: return MPI_INT64_T;
    case DType::u8: return MPI_UINT8_T;
  }
  STIFF_THROW("to_mpi: unknown dtype");
}

// MPI counts are int: large ring blocks are sent as MPI_BYTE-sized chunks of
// a contiguous type so that counts above 2^31 elements still work.
constexpr std::size_t kMaxCount = 1u << 30;

class MpiShift final : public PendingShift {
 public:
  std::vector<MPI_Request> reqs;
  void wait() override {
    if (reqs.empty()) return;
    STIFF_MPI(MPI_Waitall(static_cast<int>(reqs.size()), reqs.data(), MPI_STATUSES_IGNORE));
    reqs.clear();
  }
  ~MpiShift() override {
    if (!reqs.empty()) MPI_Waitall(static_cast<int>(reqs.size()), reqs.data(), MPI_STATUSES_IGNORE);
  }
};

}  // namespace

void mpi_check(int rc, const char* what, const char* file, int line) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw Error(std::string("MPI call failed: ") + what + ": " + std::string(msg, len), file, line);
}

MpiSession::MpiSession(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    STIFF_MPI(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
  }
  // Errors come back as codes that mpi_check turns into exceptions.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

MpiSession::~MpiSession() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

MpiComm::MpiComm(MPI_Comm parent) {
  STIFF_MPI(MPI_Comm_dup(parent, &comm_));
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  STIFF_MPI(MPI_Comm_rank(comm_, &rank_));
  STIFF_MPI(MPI_Comm_size(comm_, &size_));
}

MpiComm::~MpiComm() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (comm_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm_);
}

MpiComm::MpiComm(MpiComm&& o) noexcept : comm_(o.comm_), rank_(o.rank_), size_(o.size_) {
  o.comm_ = MPI_COMM_NULL;
}

MpiComm& MpiComm::operator=(MpiComm&& o) noexcept {
  if (this != &o) {
    if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
    comm_ = o.comm_;
    rank_ = o.rank_;
    size_ = o.size_;
    o.comm_ = MPI_COMM_NULL;
  }
  return *this;
}

void MpiComm::allreduce_sum(void* data, std::size_t count, DType t) {
  auto* p = static_cast<char*>(data);
  for (std::size_t off = 0; off < count; off += kMaxCount) {
    const int n = static_cast<int>(std::min(kMaxCount, count - off));
    STIFF_MPI(MPI_Allreduce(MPI_IN_PLACE, p + off * dtype_size(t), n, to_mpi(t), MPI_SUM, comm_));
  }
}

void MpiComm::allreduce_max(void* data, std::size_t count, DType t) {
  auto* p = static_cast<char*>(data);
  for (std::size_t off = 0; off < count; off += kMaxCount) {
    const int n = static_cast<int>(std::min(kMaxCount, count - off));
    STIFF_MPI(MPI_Allreduce(MPI_IN_PLACE, p + off * dtype_size(t), n, to_mpi(t), MPI_MAX, comm_));
  }
}

void MpiComm::broadcast(void* data, std::size_t count, DType t, int root) {
  auto* p = static_cast<char*>(data);
  for (std::size_t off = 0; off < count; off += kMaxCount) {
    const int n = static_cast<int>(std::min(kMaxCount, count - off));
    STIFF_MPI(MPI_Bcast(p + off * dtype_size(t), n, to_mpi(t), root, comm_));
  }
}

void MpiComm::allgatherv(const void* in, void* out, const std::vector<int64_t>& counts, DType t) {
  STIFF_CHECK(static_cast<int>(counts.size()) == size_, "allgatherv: one count per rank expected");
  std::vector<int> c(size_), d(size_);
  int64_t off = 0;
  for (int r = 0; r < size_; ++r) {
    STIFF_CHECK(counts[r] < (int64_t{1} << 31) && off < (int64_t{1} << 31),
                "allgatherv: message too large");
    c[r] = static_cast<int>(counts[r]);
    d[r] = static_cast<int>(off);
    off += counts[r];
  }
  STIFF_MPI(MPI_Allgatherv(in, c[rank_], to_mpi(t), out, c.data(), d.data(), to_mpi(t), comm_));
}

std::unique_ptr<PendingShift> MpiComm::start_shift(const void* send, std::size_t send_count,
                                                   int dest, void* recv, std::size_t recv_count,
                                                   int src, DType t) {
  auto shift = std::make_unique<MpiShift>();
  const std::size_t es = dtype_size(t);
  int tag = 0;
  for (std::size_t off = 0; off < recv_count; off += kMaxCount, ++tag) {
    const int n = static_cast<int>(std::min(kMaxCount, recv_count - off));
    MPI_Request r;
    STIFF_MPI(MPI_Irecv(static_cast<char*>(recv) + off * es, n, to_mpi(t), src, tag, comm_, &r));
    shift->reqs.push_back(r);
  }
  tag = 0;
  for (std::size_t off = 0; off < send_count; off += kMaxCount, ++tag) {
    const int n = static_cast<int>(std::min(kMaxCount, send_count - off));
    MPI_Request r;
    STIFF_MPI(MPI_Isend(static_cast<const char*>(send) + off * es, n, to_mpi(t), dest, tag, comm_,
                        &r));
    shift->reqs.push_back(r);
  }
  return shift;
}

void MpiComm::barrier() { STIFF_MPI(MPI_Barrier(comm_)); }

int node_local_size(MPI_Comm comm) {
  MPI_Comm local;
  STIFF_MPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local));
  int n = 1;
  MPI_Comm_size(local, &n);
  MPI_Comm_free(&local);
  return n;
}

int node_local_rank(MPI_Comm comm) {
  MPI_Comm local;
  STIFF_MPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local));
  int r = 0;
  MPI_Comm_rank(local, &r);
  MPI_Comm_free(&local);
  return r;
}

}  // namespace stiffness
