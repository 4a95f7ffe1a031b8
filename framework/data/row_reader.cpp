#include "framework/data/row_reader.h"

#include "framework/data/delimited_reader.h"
#include "framework/data/json_array_reader.h"
#include "framework/data/line_formats.h"

#include <filesystem>

namespace ptlab::data {

void RowReader::stamp(RawRow& row, int64_t line, std::string pointer) {
  row.source.file = source_.path;
  row.source.line = line;
  row.source.pointer = std::move(pointer);
  row.index = rows_++;
}

std::unique_ptr<RowReader> open_row_reader(const SourceConfig& source) {
  std::error_code ec;
  const auto status = std::filesystem::status(source.path, ec);
  PTLAB_CHECK(std::filesystem::exists(status),
              "data file '{}' not found{}{}; check the path (data paths use ${{paths.shared}}, set by "
              "PTLAB_SHARED or paths.shared=DIR)",
              source.path, source.config_where.empty() ? "" : " for ", source.config_where);
  PTLAB_CHECK(!std::filesystem::is_directory(status), "data file '{}'{}{} is a directory, not a file", source.path,
              source.config_where.empty() ? "" : " for ", source.config_where);
  switch (source.format) {
    case Format::kTsv:
    case Format::kCsv:
      return std::make_unique<DelimitedReader>(source);
    case Format::kPrefixLabel:
      return std::make_unique<PrefixLabelReader>(source);
    case Format::kJsonLines:
      return std::make_unique<JsonLinesReader>(source);
    case Format::kJson:
      return std::make_unique<JsonArrayReader>(source);
    case Format::kText:
      return std::make_unique<TextLineReader>(source);
  }
  PTLAB_ASSERT(false, "unhandled format {}", int(source.format));
}

std::string json_scalar_text(const nlohmann::json& value) {
  if (value.is_string()) return value.get_ref<const std::string&>();
  if (value.is_null()) return {};
  return value.dump();
}

}  // namespace ptlab::data
