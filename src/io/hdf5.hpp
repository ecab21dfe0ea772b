// The HDF5 layer: RAII handles, checked calls, collective block reads and writes of rows.
//
// Nothing outside src/io includes hdf5.h, and this header does not either: it speaks C++ types
// (io/hdf5_handle.hpp holds the HDF5 ids for the layer's own code). Files are opened with the MPI-IO driver on a
// communicator; every call that HDF5 defines as collective is made by all ranks of it, and ranks
// with no rows to move take part with an empty selection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mpi/comm.hpp"

namespace weave::io {

/// The kind of values a dataset stores.
enum class TypeClass { kInteger, kFloat, kString, kOther };

/// What a dataset is created to store, little-endian as numpy writes it (values are converted from
/// the in-memory type on writing).
enum class StoredType { kUint8, kUint16, kInt32, kInt64, kFloat16, kFloat32 };

/// What a dataset holds, read from its metadata only.
struct DatasetInfo {
  std::vector<std::int64_t> dims;
  TypeClass type_class = TypeClass::kOther;
  int hdf5_class = -1;  ///< HDF5's own class number, to name a kOther type
  std::size_t type_size = 0;
  bool is_signed = false;
  std::optional<std::string> dtype_attribute;  ///< the string attribute "dtype", if present

  std::int64_t rows() const { return dims.empty() ? 0 : dims[0]; }
  /// "float32", "int64", "uint16 (dtype=bfloat16)" ...
  std::string describe() const;
};

/// Whether `path` is an HDF5 file (its signature; no error printed). Local, not collective.
bool is_hdf5(const std::string& path);

/// An HDF5 file opened on a communicator (MPI-IO driver). All ranks of comm must take part.
class File {
 public:
  /// Opens read-only. Throws UserError (same on every rank) if the file is missing or not HDF5.
  static File open(const mpi::Comm& comm, const std::string& path);
  /// Opens an existing file for reading and writing (attributes on finished outputs).
  static File open_rw(const mpi::Comm& comm, const std::string& path);
  /// Creates (truncates) a file for writing.
  static File create(const mpi::Comm& comm, const std::string& path);

  File(File&& other) noexcept;
  File& operator=(File&&) = delete;
  File(const File&) = delete;
  ~File();

  const std::string& path() const { return path_; }
  const mpi::Comm& comm() const { return *comm_; }

  bool has_dataset(const std::string& name) const;
  DatasetInfo dataset_info(const std::string& name) const;
  /// The collective-buffering buffer (bytes) the MPI-IO layer reports for this open file (its
  /// "cb_buffer_size" hint), if it reports one: what mpi::FileHints asked for, or the MPI's own.
  std::optional<std::int64_t> collective_buffer_bytes() const;
  /// Closes the file now (collective); throws if HDF5 reports an error while flushing.
  void close();

 private:
  friend struct FileId;  // hdf5.cpp: the HDF5 id behind a File
  File(const mpi::Comm& comm, std::string path, std::int64_t id) : comm_(&comm), path_(std::move(path)), id_(id) {}
  const mpi::Comm* comm_;
  std::string path_;
  std::int64_t id_ = -1;  ///< the file's hid_t (closed with the File)
};

/// Reads rows [row_begin, row_begin + row_count) of a 1-D or 2-D dataset into out (row-major,
/// `cols` values per row; cols = 1 for 1-D), converting to T. Collective over the file's comm:
/// every rank calls it, a rank with row_count = 0 reads nothing.
template <typename T>
void read_rows(const File& file, const std::string& dataset, std::int64_t row_begin, std::int64_t row_count,
               std::int64_t cols, T* out);

/// Same as read_rows, into IEEE binary16 bits (numpy's float16) whatever the stored float type.
void read_float16_rows(const File& file, const std::string& dataset, std::int64_t row_begin, std::int64_t row_count,
                       std::int64_t cols, std::uint16_t* out);

/// Consecutive rows [begin, begin + count) of a dataset.
struct RowRun {
  std::int64_t begin = 0;
  std::int64_t count = 0;
};

/// Reads the union of `runs` (ascending, disjoint) into out, the runs' rows one after another, as
/// read_rows would read each (collective in the same way; a rank without runs reads nothing). One
/// call reads rows scattered over a dataset: the file system sees one request list, not a read per run.
template <typename T>
void read_row_runs(const File& file, const std::string& dataset, const std::vector<RowRun>& runs, std::int64_t cols,
                   T* out);
/// Same as read_row_runs, into IEEE binary16 bits (numpy's float16) whatever the stored float type.
void read_float16_row_runs(const File& file, const std::string& dataset, const std::vector<RowRun>& runs,
                           std::int64_t cols, std::uint16_t* out);

/// Creates a dataset of `type` with the given dims (collective). Chunked when chunk_rows > 0.
void create_dataset(const File& file, const std::string& name, StoredType type, const std::vector<std::int64_t>& dims,
                    std::int64_t chunk_rows = 0);

/// Writes rows [row_begin, row_begin + row_count) (collective, like read_rows).
template <typename T>
void write_rows(const File& file, const std::string& dataset, std::int64_t row_begin, std::int64_t row_count,
                std::int64_t cols, const T* in);
/// Same as write_rows, from IEEE binary16 bits (numpy's float16).
void write_float16_rows(const File& file, const std::string& dataset, std::int64_t row_begin, std::int64_t row_count,
                        std::int64_t cols, const std::uint16_t* in);

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

}  // namespace weave::io
