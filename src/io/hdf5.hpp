// The HDF5 layer: RAII handles, checked calls, collective block reads and writes of rows.
//
// Nothing outside src/io includes hdf5.h. Files are opened with the MPI-IO driver on a
// communicator; every call that HDF5 defines as collective is made by all ranks of it, and ranks
// with no rows to move take part with an empty selection.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mpi/comm.hpp"

namespace weave::io {

/// Owns an hid_t and closes it with the matching H5*close function.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  ~Handle() { reset(); }
  void reset();
  /// Gives up ownership without closing.
  hid_t release() {
    const hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

/// The innermost message of the current HDF5 error stack (empty if none), then clears the stack.
std::string hdf5_error_detail();

/// What a dataset holds, read from its metadata only.
struct DatasetInfo {
  std::vector<std::int64_t> dims;
  H5T_class_t type_class = H5T_NO_CLASS;
  std::size_t type_size = 0;
  bool is_signed = false;
  std::optional<std::string> dtype_attribute;  ///< the string attribute "dtype", if present

  std::int64_t rows() const { return dims.empty() ? 0 : dims[0]; }
  /// "float32", "int64", "uint16 (dtype=bfloat16)" ...
  std::string describe() const;
};

/// H5T_NATIVE_* for a C++ arithmetic type.
template <typename T>
hid_t native_type();

/// An HDF5 file opened on a communicator (MPI-IO driver). All ranks of comm must take part.
class File {
 public:
  /// Opens read-only. Throws UserError (same on every rank) if the file is missing or not HDF5.
  static File open(const mpi::Comm& comm, const std::string& path);
  /// Opens an existing file for reading and writing (attributes on finished outputs).
  static File open_rw(const mpi::Comm& comm, const std::string& path);
  /// Creates (truncates) a file for writing.
  static File create(const mpi::Comm& comm, const std::string& path);

  const std::string& path() const { return path_; }
  const mpi::Comm& comm() const { return *comm_; }
  hid_t id() const { return file_.get(); }

  bool has_dataset(const std::string& name) const;
  DatasetInfo dataset_info(const std::string& name) const;
  /// Closes the file now (collective); throws if HDF5 reports an error while flushing.
  void close();

 private:
  File(const mpi::Comm& comm, std::string path, Handle file) : comm_(&comm), path_(std::move(path)), file_(std::move(file)) {}
  const mpi::Comm* comm_;
  std::string path_;
  Handle file_;
};

/// Reads rows [row_begin, row_begin + row_count) of a 1-D or 2-D dataset into out (row-major,
/// `cols` values per row; cols = 1 for 1-D), converting to T. Collective over the file's comm:
/// every rank calls it, a rank with row_count = 0 reads nothing.
template <typename T>
void read_rows(const File& file, const std::string& dataset, std::int64_t row_begin, std::int64_t row_count,
               std::int64_t cols, T* out);

/// Same as read_rows, but the in-memory type is given (e.g. an HDF5 float16 type for raw bytes).
void read_rows_raw(const File& file, const std::string& dataset, std::int64_t row_begin, std::int64_t row_count,
                   std::int64_t cols, hid_t mem_type, void* out);

/// Creates a dataset of `file_type` with the given dims (collective). Chunked when chunk_rows > 0.
void create_dataset(const File& file, const std::string& name, hid_t file_type, const std::vector<std::int64_t>& dims,
                    std::int64_t chunk_rows = 0);

/// Writes rows [row_begin, row_begin + row_count) (collective, like read_rows).
template <typename T>
void write_rows(const File& file, const std::string& dataset, std::int64_t row_begin, std::int64_t row_count,
                std::int64_t cols, const T* in);
void write_rows_raw(const File& file, const std::string& dataset, std::int64_t row_begin, std::int64_t row_count,
                    std::int64_t cols, hid_t mem_type, const void* in);

/// Attributes on the root group ("/") or on a dataset. Writing is collective (same value everywhere).
void write_attribute(const File& file, const std::string& object, const std::string& name, const std::string& value);
void write_attribute(const File& file, const std::string& object, const std::string& name, std::int64_t value);
void write_attribute(const File& file, const std::string& object, const std::string& name, double value);
/// Every key of a JSON object as a root/dataset attribute (collective): strings and numbers as
/// themselves, anything else (objects, arrays, booleans) as its JSON text.
void write_json_attributes(const File& file, const std::string& object, const nlohmann::json& attributes);
std::optional<std::string> read_string_attribute(const File& file, const std::string& object, const std::string& name);
std::optional<std::int64_t> read_int_attribute(const File& file, const std::string& object, const std::string& name);
std::optional<double> read_double_attribute(const File& file, const std::string& object, const std::string& name);

/// The HDF5 type of IEEE binary16 (what numpy's float16 is stored as).
hid_t float16_type();

}  // namespace weave::io
