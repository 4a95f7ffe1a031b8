#include "framework/io/safetensors.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <set>
#include <unistd.h>

namespace ptlab::io {
namespace {

// The format is little-endian; we copy bytes as they are, so the host must be little-endian too.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the format's own limit (100 MB)

struct DtypeEntry {
  const char* name;
  at::ScalarType type;
};
constexpr DtypeEntry kDtypes[] = {
    {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf},  {"BF16", at::kBFloat16}, {"I64", at::kLong},
    {"I32", at::kInt},    {"I16", at::kShort}, {"I8", at::kChar},   {"U8", at::kByte},       {"BOOL", at::kBool},
};

std::vector<std::string> dtype_names() {
  std::vector<std::string> out;
  for (const auto& d : kDtypes) out.emplace_back(d.name);
  return out;
}

std::string shape_string(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

uint64_t file_size_of(std::ifstream& in) {
  in.seekg(0, std::ios::end);
  auto size = static_cast<uint64_t>(in.tellg());
  in.seekg(0, std::ios::beg);
  return size;
}

// One header entry -> a validated TensorRecord (everything but overlap, checked once all are known).
TensorRecord parse_record(const std::string& path, const std::string& name, const nlohmann::json& entry,
                          uint64_t data_size) {
  const std::string where = fmt::format("safetensors file {}: tensor '{}'", path, name);
  PTLAB_CHECK(entry.is_object(), "{}: header entry must be an object with dtype, shape and data_offsets, got {}",
              where, entry.dump());
  TensorRecord r;
  r.name = name;
  PTLAB_CHECK(entry.contains("dtype") && entry["dtype"].is_string(), "{}: missing or non-string 'dtype'", where);
  r.dtype = entry["dtype"].get<std::string>();
  bool known = std::any_of(std::begin(kDtypes), std::end(kDtypes), [&](const auto& d) { return r.dtype == d.name; });
  PTLAB_CHECK(known, "{}: unknown dtype '{}'; supported dtypes: {}", where, r.dtype, join_names(dtype_names()));

  PTLAB_CHECK(entry.contains("shape") && entry["shape"].is_array(), "{}: missing or non-array 'shape'", where);
  uint64_t count = 1;
  for (const auto& d : entry["shape"]) {
    PTLAB_CHECK(d.is_number_integer() && d.get<int64_t>() >= 0, "{}: shape {} must hold non-negative integers",
                where, entry["shape"].dump());
    auto n = d.get<uint64_t>();
    PTLAB_CHECK(n == 0 || count <= std::numeric_limits<uint64_t>::max() / n, "{}: shape {} is too large", where,
                entry["shape"].dump());
    count *= n;
    r.shape.push_back(static_cast<int64_t>(n));
  }

  const auto& offsets = entry.contains("data_offsets") ? entry["data_offsets"] : nlohmann::json();
  PTLAB_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                  offsets[1].is_number_unsigned(),
              "{}: 'data_offsets' must be [begin, end] with non-negative integers, got {}", where,
              offsets.is_null() ? std::string("nothing") : offsets.dump());
  r.begin = offsets[0].get<uint64_t>();
  r.end = offsets[1].get<uint64_t>();
  PTLAB_CHECK(r.begin <= r.end, "{}: data_offsets [{}, {}] end before they begin", where, r.begin, r.end);
  PTLAB_CHECK(r.end <= data_size,
              "{}: data_offsets [{}, {}] go beyond the end of the data area ({} bytes); the file is truncated or "
              "its header is corrupt",
              where, r.begin, r.end, data_size);
  uint64_t element = at::elementSize(scalar_type_of(r.dtype));
  PTLAB_CHECK(count <= std::numeric_limits<uint64_t>::max() / element, "{}: shape is too large", where);
  PTLAB_CHECK(count * element == r.end - r.begin,
              "{}: shape {} of dtype {} needs {} bytes but data_offsets [{}, {}] hold {} bytes", where,
              shape_string(r.shape), r.dtype, count * element, r.begin, r.end, r.end - r.begin);
  return r;
}

}  // namespace

at::ScalarType scalar_type_of(const std::string& dtype) {
  for (const auto& d : kDtypes)
    if (dtype == d.name) return d.type;
  PTLAB_FAIL("unknown safetensors dtype '{}'; supported dtypes: {}", dtype, join_names(dtype_names()));
}

std::string dtype_name_of(at::ScalarType type) {
  for (const auto& d : kDtypes)
    if (type == d.type) return d.name;
  PTLAB_FAIL("tensors of type {} cannot be stored in safetensors; supported dtypes: {}", c10::toString(type),
             join_names(dtype_names()));
}

SafetensorsFile::SafetensorsFile(std::string path) : path_(std::move(path)) {
  std::ifstream in(path_, std::ios::binary);
  PTLAB_CHECK(in.good(), "cannot open safetensors file {}: it does not exist or is not readable", path_);
  const uint64_t size = file_size_of(in);
  PTLAB_CHECK(size >= 8,
              "safetensors file {} is truncated: it is {} bytes, but every safetensors file starts with an 8-byte "
              "header length",
              path_, size);
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  PTLAB_CHECK(header_len <= size - 8,
              "safetensors file {} is truncated or corrupt: its header length is {} bytes, beyond the end of the "
              "file ({} bytes)",
              path_, header_len, size);
  PTLAB_CHECK(header_len <= kMaxHeaderBytes, "safetensors file {}: header length {} exceeds the format's limit of {}",
              path_, header_len, kMaxHeaderBytes);
  std::string text(header_len, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_len));
  PTLAB_CHECK(static_cast<uint64_t>(in.gcount()) == header_len, "safetensors file {}: cannot read its header", path_);
  data_start_ = 8 + header_len;
  const uint64_t data_size = size - data_start_;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    PTLAB_FAIL("safetensors file {}: the header is not valid JSON ({})", path_, e.what());
  }
  PTLAB_CHECK(header.is_object(), "safetensors file {}: the header must be a JSON object, got {}", path_,
              header.type_name());

  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      PTLAB_CHECK(entry.is_object(), "safetensors file {}: __metadata__ must be an object of strings", path_);
      for (const auto& [key, value] : entry.items()) {
        PTLAB_CHECK(value.is_string(), "safetensors file {}: __metadata__ value of '{}' must be a string, got {}",
                    path_, key, value.dump());
        metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    records_.push_back(parse_record(path_, name, entry, data_size));
  }

  // No two tensors may share bytes (empty tensors occupy nothing).
  std::vector<const TensorRecord*> by_offset;
  for (const auto& r : records_)
    if (r.end > r.begin) by_offset.push_back(&r);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    const auto* a = by_offset[i - 1];
    const auto* b = by_offset[i];
    PTLAB_CHECK(b->begin >= a->end,
                "safetensors file {}: tensors '{}' [{}, {}] and '{}' [{}, {}] have overlapping data_offsets; the "
                "header is corrupt",
                path_, a->name, a->begin, a->end, b->name, b->begin, b->end);
  }
  for (std::size_t i = 0; i < records_.size(); ++i) index_[records_[i].name] = i;
}

bool SafetensorsFile::contains(const std::string& name) const { return index_.count(name) > 0; }

const TensorRecord& SafetensorsFile::record(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) {
    std::vector<std::string> names;
    for (const auto& r : records_) names.push_back(r.name);
    PTLAB_FAIL("safetensors file {} has no tensor '{}'{} ({} tensors in the file)", path_, name,
               did_you_mean(name, names), names.size());
  }
  return records_[it->second];
}

at::Tensor SafetensorsFile::load(const std::string& name) const {
  const auto& r = record(name);
  // tensor: the record's shape and dtype, filled with the bytes [begin, end) of the data area.
  at::Tensor tensor = at::empty(r.shape, at::TensorOptions().dtype(scalar_type_of(r.dtype)));
  const uint64_t bytes = r.end - r.begin;
  if (bytes == 0) return tensor;
  std::ifstream in(path_, std::ios::binary);
  PTLAB_CHECK(in.good(), "cannot open safetensors file {} to read tensor '{}'", path_, name);
  in.seekg(static_cast<std::streamoff>(data_start_ + r.begin));
  in.read(static_cast<char*>(tensor.data_ptr()), static_cast<std::streamsize>(bytes));
  PTLAB_CHECK(static_cast<uint64_t>(in.gcount()) == bytes,
              "safetensors file {}: tensor '{}' is truncated (read {} of {} bytes); did the file change?", path_,
              name, in.gcount(), bytes);
  return tensor;
}

std::map<std::string, at::Tensor> load_safetensors(const std::string& path) {
  SafetensorsFile file(path);
  std::map<std::string, at::Tensor> out;
  for (const auto& r : file.records()) out.emplace(r.name, file.load(r.name));
  return out;
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = meta;
  }
  std::vector<at::Tensor> data;  // contiguous CPU copies, in file order
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    PTLAB_CHECK(!name.empty() && name != "__metadata__", "cannot save a tensor named '{}' to {}", name, path);
    PTLAB_CHECK(seen.insert(name).second, "cannot save {}: tensor name '{}' appears twice", path, name);
    PTLAB_CHECK(tensor.defined(), "cannot save {}: tensor '{}' is undefined", path, name);
    at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
    const std::string dtype = dtype_name_of(t.scalar_type());
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    header[name] = {{"dtype", dtype}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(std::move(t));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data area starts 8-byte aligned, as HF does

  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    PTLAB_CHECK(out.good(), "cannot write {}: cannot create the file (does the directory exist?)", tmp);
    uint64_t n = text.size();
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len_bytes), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& t : data)
      out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
    out.flush();
    if (!out.good()) {
      std::remove(tmp.c_str());
      PTLAB_FAIL("cannot write {}: write failed (disk full?)", tmp);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    PTLAB_FAIL("cannot write {}: renaming the temporary file {} failed", path, tmp);
  }
}

}  // namespace ptlab::io
