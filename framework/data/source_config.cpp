#include "framework/data/source_config.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"

#include <filesystem>

namespace ptlab::data {
namespace {

const std::vector<std::string>& format_names() {
  static const std::vector<std::string> names = {"tsv", "csv", "prefix_label", "jsonl", "json", "text"};
  return names;
}

}  // namespace

Format parse_format(const std::string& text, const std::string& where) {
  const auto& names = format_names();
  for (std::size_t i = 0; i < names.size(); ++i)
    if (text == names[i]) return Format(i);
  PTLAB_FAIL("{}: unknown format '{}'{}; formats: {}", where, text, did_you_mean(text, names), join_names(names));
}

std::string format_name(Format format) { return format_names().at(std::size_t(format)); }

Format format_from_extension(const std::string& path, const std::string& where) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".tsv") return Format::kTsv;
  if (ext == ".csv") return Format::kCsv;
  if (ext == ".jsonl") return Format::kJsonLines;
  if (ext == ".json") return Format::kJson;
  if (ext == ".txt") return Format::kText;
  PTLAB_FAIL("{}: cannot tell the format of '{}' from its extension; set format: to one of {}", where, path,
             join_names(format_names()));
}

SourceConfig SourceConfig::with_defaults(std::string path, Format format) {
  SourceConfig s;
  s.path = std::move(path);
  s.format = format;
  s.delimiter = format == Format::kCsv ? ',' : '\t';
  s.quote = format == Format::kCsv ? '"' : 0;
  s.header = true;
  return s;
}

}  // namespace ptlab::data
