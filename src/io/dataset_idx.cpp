// IDX files (the MNIST family): gzip-compressed or raw.
//
// zlib's gz* functions read gzip-compressed and raw files alike (a file
// without the gzip magic is passed through unchanged), so one code path serves
// both `train-images-idx3-ubyte.gz` and an uncompressed copy.
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "dataset_detail.hpp"
#include "stiffness/io/dataset.hpp"
#include "stiffness/runtime/error.hpp"

namespace stiffness {

namespace {

// Owns a gzFile and closes it on every exit path, including exceptions.
class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path) {
    errno = 0;
    f_ = gzopen(path.c_str(), "rb");
    if (f_ == nullptr) {
      const std::string why = errno != 0 ? std::strerror(errno) : "out of memory";
      STIFF_THROW(path + ": cannot open: " + why);
    }
    gzbuffer(f_, 1 << 17);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;
  ~GzFile() { gzclose(f_); }

  // Reads up to `len` bytes; returns how many were read (fewer only at the end
  // of the data). A truncated gzip stream counts as the end of the data, so
  // that the caller reports it as truncation with the byte counts; any other
  // decompression or I/O error throws.
  int64_t read(uint8_t* buf, int64_t len) {
    int64_t total = 0;
    while (total < len && !eof_) {
      const unsigned chunk = static_cast<unsigned>(std::min<int64_t>(len - total, 1 << 30));
      const int got = gzread(f_, buf + total, chunk);
      if (got < 0) {
        int code = Z_OK;
        const char* msg = gzerror(f_, &code);
        if (code == Z_BUF_ERROR) {  // "unexpected end of file": stream cut short
          eof_ = true;
          break;
        }
        const std::string why = code == Z_ERRNO ? std::strerror(errno) : (msg ? msg : "unknown");
        STIFF_THROW(path_ + ": read error: " + why);
      }
      if (got == 0) {
        // gzread returns 0 at the end of the data, but also after a truncated
        // gzip stream has set Z_BUF_ERROR; both mean "no more bytes".
        eof_ = true;
        break;
      }
      total += got;
    }
    return total;
  }

 private:
  std::string path_;
  gzFile f_ = nullptr;
  bool eof_ = false;
};

std::string hex_byte(uint8_t b) {
  static const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[b >> 4] + digits[b & 15];
}

// `<dir>/<name>.gz` if it exists, else `<dir>/<name>`; throws naming both.
std::string find_idx_file(const std::string& dir, const std::string& name, const std::string& what) {
  const std::filesystem::path base = dir.empty() ? std::filesystem::path(name)
                                                 : std::filesystem::path(dir) / name;
  const std::string gz = base.string() + ".gz";
  const std::string raw = base.string();
  std::error_code ec;
  if (std::filesystem::exists(gz, ec)) return gz;
  if (std::filesystem::exists(raw, ec)) return raw;
  STIFF_THROW(what + " file not found: tried " + gz + " and " + raw);
}

}  // namespace


IdxArray read_idx(const std::string& path, int expect_ndim) {
  STIFF_CHECK(expect_ndim >= 1 && expect_ndim <= 255,
              path + ": bad expected number of dimensions " + std::to_string(expect_ndim));
  GzFile f(path);

  uint8_t magic[4];
  const int64_t got_magic = f.read(magic, 4);
  STIFF_CHECK(got_magic == 4, path + ": truncated: expected a 4-byte IDX header, found " +
                                  std::to_string(got_magic) + " bytes");
  STIFF_CHECK(magic[0] == 0 && magic[1] == 0,
              path + ": bad magic: expected an IDX file starting with 0x00 0x00, found " +
                  hex_byte(magic[0]) + " " + hex_byte(magic[1]));
  STIFF_CHECK(magic[2] == 0x08, path + ": bad magic: expected data type 0x08 (unsigned byte), found " +
                                    hex_byte(magic[2]));
  const int ndim = magic[3];
  STIFF_CHECK(ndim == expect_ndim, path + ": expected " + std::to_string(expect_ndim) +
                                       " dimensions, found " + std::to_string(ndim));

  IdxArray out;
  std::vector<uint8_t> header(4 * static_cast<size_t>(ndim));
  const int64_t got_header = f.read(header.data(), static_cast<int64_t>(header.size()));
  STIFF_CHECK(got_header == static_cast<int64_t>(header.size()),
              path + ": truncated: expected " + std::to_string(header.size()) +
                  " bytes of dimension sizes, found " + std::to_string(got_header));
  int64_t total = 1;
  for (int i = 0; i < ndim; ++i) {
    const uint8_t* b = &header[4 * static_cast<size_t>(i)];
    const int64_t d = (int64_t{b[0]} << 24) | (int64_t{b[1]} << 16) | (int64_t{b[2]} << 8) | b[3];
    out.dims.push_back(d);
    STIFF_CHECK(d > 0, path + ": dimension " + std::to_string(i) + " is 0: expected a positive size");
    // Each d < 2^32 and total <= 2^32 before this product, so no overflow.
    total *= d;
    STIFF_CHECK(total <= detail::kMaxPayloadBytes, path + ": absurd dimensions " + detail::shape_string(out.dims) +
                                               (i + 1 < ndim ? "..." : "") +
                                               ": expected at most " +
                                               std::to_string(detail::kMaxPayloadBytes) + " data bytes");
  }

  const std::string kind = ndim == 1 ? "label" : "pixel";
  out.data.resize(static_cast<size_t>(total));
  const int64_t got = f.read(out.data.data(), total);
  STIFF_CHECK(got == total, path + ": truncated: expected " + std::to_string(total) + " " + kind +
                                " bytes (" + detail::shape_string(out.dims) + "), found " + std::to_string(got));

  // Anything after the payload means the header does not describe the file.
  int64_t extra = 0;
  std::vector<uint8_t> scratch(1 << 16);
  for (int64_t n; (n = f.read(scratch.data(), static_cast<int64_t>(scratch.size()))) > 0;) extra += n;
  STIFF_CHECK(extra == 0, path + ": " + std::to_string(extra) + " extra bytes: expected exactly " +
                              std::to_string(total) + " " + kind + " bytes (" + detail::shape_string(out.dims) +
                              ") after the header");
  return out;
}

ImageSet load_mnist(const std::string& dir, const std::string& prefix, int64_t num_classes) {
  STIFF_CHECK(num_classes > 0 && num_classes <= 256,
              "load_mnist: number of classes must be in [1, 256], got " + std::to_string(num_classes));
  const std::string img_path = find_idx_file(dir, prefix + "-images-idx3-ubyte", prefix + " images");
  const std::string lbl_path = find_idx_file(dir, prefix + "-labels-idx1-ubyte", prefix + " labels");

  IdxArray images = read_idx(img_path, 3);
  IdxArray labels = read_idx(lbl_path, 1);
  STIFF_CHECK(images.dims[0] == labels.dims[0],
              lbl_path + ": count mismatch: expected " + std::to_string(images.dims[0]) +
                  " labels (one per image in " + img_path + "), found " + std::to_string(labels.dims[0]));

  ImageSet set;
  set.n = images.dims[0];
  set.channels = 1;
  set.height = images.dims[1];
  set.width = images.dims[2];
  set.num_classes = num_classes;
  set.source = img_path + ", " + lbl_path;

  set.labels.resize(labels.data.size());
  for (size_t i = 0; i < labels.data.size(); ++i) {
    const int64_t y = labels.data[i];
    STIFF_CHECK(y < num_classes, lbl_path + ": label out of range at index " + std::to_string(i) +
                                     ": expected [0, " + std::to_string(num_classes) + "), found " +
                                     std::to_string(y));
    set.labels[i] = y;
  }
  labels = {};

  float scale[256];
  for (int v = 0; v < 256; ++v) scale[v] = static_cast<float>(v) / 255.0f;
  set.pixels.resize(images.data.size());
  for (size_t i = 0; i < images.data.size(); ++i) set.pixels[i] = scale[images.data[i]];
  return set;
}

}  // namespace stiffness
