#include "framework/io/hdf5_check.h"

#include "framework/core/error.h"

#include <fmt/format.h>

#include <cstring>

namespace ptlab::io {

void h5_init() {
  // Per thread: a thread-safe HDF5 build keeps the error-printing setting per thread.
  thread_local bool done = false;
  if (!done) done = H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr) >= 0;
}

namespace {

// HDF5 messages may hold a ctime() timestamp ("time = Mon Nov 23 17:39:17 2026\n, name = ..."): drop it and
// any other control character, so the whole stack fits on one line.
std::string one_line(std::string text) {
  auto time = text.find("time = ");
  auto end = time == std::string::npos ? time : text.find('\n', time);
  if (end != std::string::npos) text.erase(time, end + 1 - time + (text.compare(end + 1, 2, ", ") == 0 ? 2 : 0));
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return text;
}

herr_t collect_error(unsigned /*n*/, const H5E_error2_t* err, void* client) {
  auto* lines = static_cast<std::vector<std::string>*>(client);
  std::string line =
      fmt::format("{}(): {}", err->func_name ? err->func_name : "?", one_line(err->desc ? err->desc : ""));
  if (lines->empty() || lines->back() != line) lines->push_back(std::move(line));
  return 0;
}

// "/long/path/framework/io/run_log.cpp" -> "framework/io/run_log.cpp".
const char* short_source(const char* file) {
  const char* p = std::strstr(file, "framework/");
  return p ? p : file;
}

}  // namespace

std::string h5_error_stack() {
  std::vector<std::string> lines;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &lines);
  H5Eclear2(H5E_DEFAULT);
  std::string out;
  for (const auto& line : lines) out += (out.empty() ? "" : "; ") + line;
  return out;
}

namespace detail {
void h5_fail(const char* call, const char* file, int line, const std::string& where) {
  std::string stack = h5_error_stack();
  throw Error(fmt::format("HDF5 call {} failed ({}:{}) on '{}': {}", call, short_source(file), line, where,
                          stack.empty() ? "no message from HDF5" : stack));
}
}  // namespace detail

H5Handle& H5Handle::operator=(H5Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    closer_ = other.closer_;
    other.id_ = -1;
  }
  return *this;
}

herr_t H5Handle::reset() {
  herr_t status = 0;
  if (id_ >= 0 && closer_) status = closer_(id_);
  id_ = -1;
  if (status < 0) H5Eclear2(H5E_DEFAULT);
  return status;
}

H5Handle h5_group_create(hid_t loc, const std::string& name, const std::string& where) {
  return {PTLAB_H5(where, H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), H5Gclose};
}

H5Handle h5_group_open(hid_t loc, const std::string& name, const std::string& where) {
  return {PTLAB_H5(where, H5Gopen2(loc, name.c_str(), H5P_DEFAULT)), H5Gclose};
}

H5Handle h5_dataset_open(hid_t loc, const std::string& name, const std::string& where) {
  return {PTLAB_H5(where, H5Dopen2(loc, name.c_str(), H5P_DEFAULT)), H5Dclose};
}

H5Handle h5_string_type(const std::string& where) {
  H5Handle type(PTLAB_H5(where, H5Tcopy(H5T_C_S1)), H5Tclose);
  PTLAB_H5(where, H5Tset_size(type.get(), H5T_VARIABLE));
  PTLAB_H5(where, H5Tset_cset(type.get(), H5T_CSET_UTF8));
  return type;
}

bool h5_exists(hid_t loc, const std::string& name, const std::string& where) {
  // H5Lexists fails (rather than answering false) when an intermediate group is missing: walk the path.
  std::size_t pos = 0;
  while (true) {
    std::size_t slash = name.find('/', pos);
    std::string prefix = name.substr(0, slash);
    if (!prefix.empty() && PTLAB_H5(where, H5Lexists(loc, prefix.c_str(), H5P_DEFAULT)) <= 0) return false;
    if (slash == std::string::npos) return true;
    pos = slash + 1;
  }
}

namespace {

// Creates (replacing) a scalar attribute of `file_type` and writes `data` given in `mem_type`.
void write_scalar_attribute(hid_t obj, const std::string& name, hid_t file_type, hid_t mem_type, const void* data,
                            const std::string& where) {
  std::string at = where + " @" + name;
  if (PTLAB_H5(at, H5Aexists(obj, name.c_str())) > 0) PTLAB_H5(at, H5Adelete(obj, name.c_str()));
  H5Handle space(PTLAB_H5(at, H5Screate(H5S_SCALAR)), H5Sclose);
  H5Handle attr(PTLAB_H5(at, H5Acreate2(obj, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT)),
                H5Aclose);
  PTLAB_H5(at, H5Awrite(attr.get(), mem_type, data));
}

// h5py's representation of numpy bool: an int8 enum {FALSE = 0, TRUE = 1}.
H5Handle bool_type(const std::string& where) {
  H5Handle type(PTLAB_H5(where, H5Tenum_create(H5T_NATIVE_INT8)), H5Tclose);
  int8_t no = 0, yes = 1;
  PTLAB_H5(where, H5Tenum_insert(type.get(), "FALSE", &no));
  PTLAB_H5(where, H5Tenum_insert(type.get(), "TRUE", &yes));
  return type;
}

}  // namespace

void h5_write_attribute(hid_t obj, const std::string& name, int64_t value, const std::string& where) {
  write_scalar_attribute(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value, where);
}

void h5_write_attribute(hid_t obj, const std::string& name, double value, const std::string& where) {
  write_scalar_attribute(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, where);
}

void h5_write_attribute(hid_t obj, const std::string& name, bool value, const std::string& where) {
  H5Handle type = bool_type(where);
  int8_t v = value ? 1 : 0;
  write_scalar_attribute(obj, name, type.get(), type.get(), &v, where);
}

void h5_write_attribute(hid_t obj, const std::string& name, const std::string& value, const std::string& where) {
  H5Handle type = h5_string_type(where);
  const char* p = value.c_str();
  write_scalar_attribute(obj, name, type.get(), type.get(), &p, where);
}

std::optional<std::string> h5_read_string_attribute(hid_t obj, const std::string& name, const std::string& where) {
  std::string at = where + " @" + name;
  if (PTLAB_H5(at, H5Aexists(obj, name.c_str())) <= 0) return std::nullopt;
  H5Handle attr(PTLAB_H5(at, H5Aopen(obj, name.c_str(), H5P_DEFAULT)), H5Aclose);
  H5Handle type(PTLAB_H5(at, H5Aget_type(attr.get())), H5Tclose);
  PTLAB_CHECK(H5Tget_class(type.get()) == H5T_STRING, "'{}': attribute @{} is not a string", where, name);
  if (PTLAB_H5(at, H5Tis_variable_str(type.get())) > 0) {
    H5Handle mem = h5_string_type(at);
    char* p = nullptr;
    PTLAB_H5(at, H5Aread(attr.get(), mem.get(), &p));
    std::string value = p ? p : "";
    H5free_memory(p);
    return value;
  }
  std::size_t size = H5Tget_size(type.get());
  std::string value(size, '\0');
  PTLAB_H5(at, H5Aread(attr.get(), type.get(), value.data()));
  value.resize(std::strlen(value.c_str()));  // fixed-length strings are NUL padded
  return value;
}

std::optional<int64_t> h5_read_int_attribute(hid_t obj, const std::string& name, const std::string& where) {
  std::string at = where + " @" + name;
  if (PTLAB_H5(at, H5Aexists(obj, name.c_str())) <= 0) return std::nullopt;
  H5Handle attr(PTLAB_H5(at, H5Aopen(obj, name.c_str(), H5P_DEFAULT)), H5Aclose);
  H5Handle type(PTLAB_H5(at, H5Aget_type(attr.get())), H5Tclose);
  PTLAB_CHECK(H5Tget_class(type.get()) == H5T_INTEGER, "'{}': attribute @{} is not an integer", where, name);
  int64_t value = 0;
  PTLAB_H5(at, H5Aread(attr.get(), H5T_NATIVE_INT64, &value));
  return value;
}

void h5_write_string_dataset(hid_t loc, const std::string& name, const std::string& value, const std::string& where) {
  H5Handle type = h5_string_type(where);
  H5Handle space(PTLAB_H5(where, H5Screate(H5S_SCALAR)), H5Sclose);
  H5Handle dset(
      PTLAB_H5(where, H5Dcreate2(loc, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)),
      H5Dclose);
  const char* p = value.c_str();
  PTLAB_H5(where, H5Dwrite(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &p));
}

void h5_write_string_array(hid_t loc, const std::string& name, const std::vector<std::string>& values,
                           const std::string& where) {
  H5Handle type = h5_string_type(where);
  hsize_t n = values.size();
  H5Handle space(PTLAB_H5(where, H5Screate_simple(1, &n, nullptr)), H5Sclose);
  H5Handle dset(
      PTLAB_H5(where, H5Dcreate2(loc, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)),
      H5Dclose);
  if (values.empty()) return;
  std::vector<const char*> pointers;
  pointers.reserve(values.size());
  for (const auto& v : values) pointers.push_back(v.c_str());
  PTLAB_H5(where, H5Dwrite(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()));
}

std::string h5_read_string_dataset(hid_t loc, const std::string& name, const std::string& where) {
  H5Handle dset = h5_dataset_open(loc, name, where);
  H5Handle type = h5_string_type(where);
  char* p = nullptr;
  PTLAB_H5(where, H5Dread(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &p));
  std::string value = p ? p : "";
  H5free_memory(p);
  return value;
}

}  // namespace ptlab::io
