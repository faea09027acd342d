// The HDF5 RAII layer: whole datasets written by one rank, the N x N matrix
// that all ranks fill with blocks in collective writes, and plain reads.
#include "h5_detail.hpp"

namespace stiffness::h5 {

using namespace detail;

// =============================== Datasets ===============================

void write_dataset(const File& f, hid_t loc, const std::string& name,
                   const std::vector<hsize_t>& dims, const void* data, DType t, int writer) {
  const hsize_t n = element_count(dims);
  const bool mine = comm_rank(f.comm()) == writer;
  bool ok = writer >= 0 && writer < comm_size(f.comm()) && (!mine || n == 0 || data);
  STIFF_CHECK(all_agree(f.comm(), ok),
              "h5: write_dataset " + describe(loc, name) + ": bad writer rank " + std::to_string(writer) +
                  " or no data on it");
  Handle fspace = make_space(dims);
  Handle ds = create_dataset(loc, name, mem_type(t), fspace.id(), H5P_DEFAULT);
  if (n == 0) return;  // nothing to transfer; the empty dataset exists
  Handle mspace = make_space(dims);
  select_mine(mspace.id(), mine);
  select_mine(fspace.id(), mine);
  Handle dxpl = collective_dxpl();
  // Ranks without data still pass a non-null buffer: HDF5 rejects nullptr.
  const char dummy = 0;
  H5_CHECK(H5Dwrite(ds.id(), mem_type(t), mspace.id(), fspace.id(), dxpl.id(), mine ? data : &dummy) >= 0,
           "h5: cannot write dataset " + describe(loc, name));
}

Matrix Matrix::create(const File& f, hid_t loc, const std::string& name, hsize_t rows, hsize_t cols,
                      DType t, hsize_t chunk) {
  Handle space = make_space({rows, cols});
  // Every element is written by some rank: skip HDF5's fill-value pass, which
  // would otherwise write the whole matrix once more at allocation.
  Handle dcpl = plist(H5P_DATASET_CREATE);
  H5Pset_fill_time(dcpl.id(), H5D_FILL_TIME_NEVER);
  if (chunk > 0 && rows > 0 && cols > 0) {
    const hsize_t dims[2] = {std::min(chunk, rows), std::min(chunk, cols)};
    STIFF_CHECK(H5Pset_chunk(dcpl.id(), 2, dims) >= 0, "h5: H5Pset_chunk failed");
    // Parallel HDF5 allocates every chunk at creation (no fill, no filters).
    STIFF_CHECK(H5Pset_alloc_time(dcpl.id(), H5D_ALLOC_TIME_EARLY) >= 0, "h5: H5Pset_alloc_time failed");
  }
  Matrix m;
  m.ds_ = create_dataset(loc, name, mem_type(t), space.id(), dcpl.id());
  m.comm_ = f.comm();
  m.t_ = t;
  m.rows_ = rows;
  m.cols_ = cols;
  return m;
}

void Matrix::write_blocks(const std::vector<Block2D>& blocks) {
  bool ok = std::all_of(blocks.begin(), blocks.end(), [&](const Block2D& b) { return block_ok(b, rows_, cols_); });
  // One reduction gives every rank the number of collective writes to join
  // and whether any rank passed a bad block (then all throw, none hangs).
  std::array<int64_t, 2> mine{static_cast<int64_t>(blocks.size()), ok ? 0 : 1}, all{};
  MPI_Allreduce(mine.data(), all.data(), 2, MPI_INT64_T, MPI_MAX, comm_);
  STIFF_CHECK(all[1] == 0, "h5: write_blocks " + describe(ds_.id(), "") + ": a block lies outside the " +
                               std::to_string(rows_) + "x" + std::to_string(cols_) + " matrix or has no data");
  Handle dxpl = collective_dxpl();
  for (int64_t s = 0; s < all[0]; ++s) {
    write_slot(s < static_cast<int64_t>(blocks.size()) ? &blocks[s] : nullptr, dxpl.id());
  }
}

// One collective H5Dwrite: this rank's block `b`, or an empty selection.
void Matrix::write_slot(const Block2D* b, hid_t dxpl) {
  if (b && (b->rows == 0 || b->cols == 0)) b = nullptr;
  Handle fspace(H5Dget_space(ds_.id()));
  Handle mspace = make_space({b ? b->rows : 1, b ? b->cols : 1});
  if (b) {
    const hsize_t start[2] = {b->row0, b->col0}, count[2] = {b->rows, b->cols};
    STIFF_CHECK(H5Sselect_hyperslab(fspace.id(), H5S_SELECT_SET, start, nullptr, count, nullptr) >= 0,
                "h5: hyperslab selection failed");
  } else {
    select_mine(fspace.id(), false);
    select_mine(mspace.id(), false);
  }
  const double dummy = 0;
  H5_CHECK(H5Dwrite(ds_.id(), mem_type(t_), mspace.id(), fspace.id(), dxpl, b ? b->data : &dummy) >= 0,
           "h5: cannot write a block of " + describe(ds_.id(), ""));
  uint32_t local = 0, global = 0;
  H5_CHECK(H5Pget_mpio_no_collective_cause(dxpl, &local, &global) >= 0,
           "h5: H5Pget_mpio_no_collective_cause failed");
  last_cause_ = global;
  STIFF_CHECK(global == 0, "h5: write to " + describe(ds_.id(), "") +
                               " was not collective (H5D_MPIO no-collective cause " + std::to_string(global) + ")");
}

std::vector<double> read_f64(hid_t loc, const std::string& name, std::vector<hsize_t>* dims) {
  return read_all<double>(loc, name, H5T_NATIVE_DOUBLE, dims);
}

std::vector<float> read_f32(hid_t loc, const std::string& name, std::vector<hsize_t>* dims) {
  return read_all<float>(loc, name, H5T_NATIVE_FLOAT, dims);
}

std::vector<int64_t> read_i64(hid_t loc, const std::string& name, std::vector<hsize_t>* dims) {
  return read_all<int64_t>(loc, name, H5T_NATIVE_INT64, dims);
}

std::vector<std::string> list(hid_t loc) {
  std::vector<std::string> names;
  auto add = [](hid_t, const char* n, const H5L_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(n);
    return 0;
  };
  H5_CHECK(H5Literate(loc, H5_INDEX_NAME, H5_ITER_INC, nullptr, add, &names) >= 0,
           "h5: cannot list " + describe(loc, ""));
  return names;
}

}  // namespace stiffness::h5
