#include "framework/data/dataset.h"

#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/core/suggest.h"
#include "framework/data/field_map.h"
#include "framework/data/row_reader.h"

#include <algorithm>
#include <optional>

namespace ptlab::data {
namespace {

constexpr std::size_t kSkipReasonsKept = 5;

std::string split_where(const DatasetConfig& config, const SplitConfig& split) {
  return split.source.config_where.empty() ? config.config_where + " split " + split.name : split.source.config_where;
}

/// Data rows of a file within `limit` (bad rows included), for contiguous shards.
int64_t count_rows(const SourceConfig& source, std::optional<int64_t> limit) {
  auto reader = open_row_reader(source);
  RawRow row;
  int64_t n = 0;
  for (;;) {
    if (limit && n >= *limit) break;
    try {
      if (!reader->next(row)) break;
    } catch (const RowError&) {
    }
    ++n;
  }
  return n;
}

/// Reads one file-backed split (see stream_split).
SplitReport stream_file_split(const DatasetConfig& config, const SplitConfig& split, const LabelSpace& labels,
                              const Shard& shard, const ExampleSink& sink) {
  shard.validate();
  SplitReport report;
  report.split = split.name;
  report.file = split.source.path;
  const std::optional<int64_t> limit = config.limit_for(split);
  const bool skip = config.on_bad_row == BadRowPolicy::kSkip;
  const int64_t total = (shard.mode == ShardMode::kContiguous && !shard.whole()) ? count_rows(split.source, limit) : -1;

  auto reader = open_row_reader(split.source);
  const FieldExtractor extractor(config.fields_for(split), *reader);
  RawRow row;
  int64_t in_shard_rows = 0;
  for (;;) {
    if (limit && report.rows_read >= *limit) break;
    const int64_t index = report.rows_read;
    bool got = false;
    try {
      got = reader->next(row);
    } catch (const RowError& e) {
      ++report.rows_read;
      if (!in_shard(index, total, shard)) continue;
      ++in_shard_rows;
      if (!skip) throw;
      ++report.skipped;
      if (report.skip_reasons.size() < kSkipReasonsKept) report.skip_reasons.push_back(e.what());
      continue;
    }
    if (!got) break;
    ++report.rows_read;
    if (!in_shard(index, total, shard)) continue;
    ++in_shard_rows;
    Example ex;
    try {
      extractor.extract(row, ex);
      labels.apply(ex);
    } catch (const RowError& e) {
      if (!skip) throw;
      ++report.skipped;
      if (report.skip_reasons.size() < kSkipReasonsKept) report.skip_reasons.push_back(e.what());
      continue;
    }
    ++report.examples;
    if (!sink(std::move(ex))) break;
  }

  if (report.rows_read == 0) {
    PTLAB_CHECK(!reader->file_was_empty(), "data file '{}' for {} is empty; it needs at least one data row",
                split.source.path, split_where(config, split));
    PTLAB_FAIL("data file '{}' for {} has no data rows{}", split.source.path, split_where(config, split),
               split.source.header && (split.source.format == Format::kTsv || split.source.format == Format::kCsv)
                   ? " (only a header line)"
                   : " (only blank lines)");
  }
  if (report.skipped > 0) {
    PTLAB_CHECK(report.skipped < in_shard_rows, "all {} rows of '{}' ({}) are bad, nothing is left to use; first: {}",
                in_shard_rows, split.source.path, split_where(config, split), report.skip_reasons.front());
    std::string reasons;
    for (const auto& r : report.skip_reasons) reasons += (reasons.empty() ? "" : " | ") + r;
    log_warn("data: skipped {} bad row{} of {} in '{}' (split {}, on_bad_row: skip); the first {}: {}", report.skipped,
             report.skipped == 1 ? "" : "s", in_shard_rows, split.source.path, split.name, report.skip_reasons.size(),
             reasons);
  }
  return report;
}

/// items[i] for i in indices, moved out of `items` (which is left in a valid, unspecified state).
std::vector<Example> move_out(std::vector<Example>& items, const std::vector<int64_t>& indices) {
  std::vector<Example> out;
  out.reserve(indices.size());
  for (int64_t i : indices) out.push_back(std::move(items[std::size_t(i)]));
  return out;
}

std::vector<Example> read_whole(const DatasetConfig& config, const SplitConfig& split, const LabelSpace& labels,
                                SplitReport& report) {
  std::vector<Example> out;
  report = stream_file_split(config, split, labels, Shard{}, [&](Example&& ex) {
    out.push_back(std::move(ex));
    return true;
  });
  return out;
}

}  // namespace

LabelSpace label_space(const DatasetConfig& config) {
  return LabelSpace(config.label_map, config.labels, config.config_where);
}

SplitReport stream_split(const DatasetConfig& config, const std::string& name, const Shard& shard,
                         const ExampleSink& sink) {
  const SplitConfig* split = config.find_split(name);
  const bool shaped = (config.split_from && (config.split_from->source == name || config.split_from->name == name)) ||
                      (config.few_shot.k > 0 && std::count(config.few_shot.splits.begin(), config.few_shot.splits.end(), name));
  if (split && !shaped) return stream_file_split(config, *split, label_space(config), shard, sink);
  Dataset ds = Dataset::load(config, {name}, shard);
  SplitReport report = ds.report(name);
  report.examples = 0;
  for (const Example& ex : ds.split(name)) {
    ++report.examples;
    if (!sink(Example(ex))) break;
  }
  return report;
}

Dataset Dataset::load(const DatasetConfig& config, const std::vector<std::string>& splits, const Shard& shard) {
  shard.validate();
  Dataset ds;
  ds.config_ = config;
  ds.labels_ = data::label_space(config);
  const std::vector<std::string> all = config.split_names();
  const std::vector<std::string> wanted = splits.empty() ? all : splits;
  for (const auto& w : wanted)
    PTLAB_CHECK(std::find(all.begin(), all.end(), w) != all.end(), "no split '{}' in {}{}; splits: {}", w,
                config.config_where, did_you_mean(w, all), join_names(all));
  auto is_wanted = [&](const std::string& n) { return std::find(wanted.begin(), wanted.end(), n) != wanted.end(); };
  const SplitFromConfig* from = config.split_from ? &*config.split_from : nullptr;

  for (const std::string& name : all) {
    const bool feeds_split_from = from && name == from->source && is_wanted(from->name);
    if (!is_wanted(name) && !feeds_split_from) continue;
    if (from && name == from->name) continue;  // made below from its source
    Split s;
    s.name = name;
    s.examples = read_whole(config, *config.find_split(name), ds.labels_, s.report);
    ds.splits_.push_back(std::move(s));
  }

  if (from && (is_wanted(from->name) || is_wanted(from->source))) {
    auto src = std::find_if(ds.splits_.begin(), ds.splits_.end(), [&](const Split& s) { return s.name == from->source; });
    PTLAB_ASSERT(src != ds.splits_.end(), "split_from source {} not loaded", from->source);
    const int64_t n = int64_t(src->examples.size());
    const int64_t count = from->dev_size ? *from->dev_size : held_out_count(n, from->dev_fraction);
    PTLAB_CHECK(count < n, "{}: split_from.dev_size={} leaves nothing of split '{}' ({} rows)", config.config_where, count,
                from->source, n);
    const HeldOut parts = split_off(n, count, from->seed);
    Split dev;
    dev.name = from->name;
    dev.examples = move_out(src->examples, parts.held_out);
    dev.report = src->report;
    dev.report.split = from->name;
    dev.report.note = fmt::format("{} of {} rows held out from split {} (split_from, seed {})", count, n, from->source,
                                  from->seed);
    src->examples = move_out(src->examples, parts.kept);
    src->report.note = fmt::format("{} rows left after holding out {} for split {} (seed {})", n - count, count,
                                   from->name, from->seed);
    // Keep config order: the derived split goes right after its source.
    ds.splits_.insert(src + 1, std::move(dev));
  }

  if (config.few_shot.k > 0) {
    for (Split& s : ds.splits_) {
      if (std::find(config.few_shot.splits.begin(), config.few_shot.splits.end(), s.name) == config.few_shot.splits.end())
        continue;
      const auto picked = few_shot_indices(s.examples, config.few_shot.k, config.few_shot.seed, ds.labels_.names(),
                                           fmt::format("split {} ('{}')", s.name, s.report.file));
      const std::string note = fmt::format("few-shot: {} per class from {} rows, seed {}", config.few_shot.k,
                                           s.examples.size(), config.few_shot.seed);
      s.report.note = s.report.note.empty() ? note : s.report.note + "; " + note;
      s.examples = move_out(s.examples, picked);
    }
  }

  std::vector<Split> kept;
  for (Split& s : ds.splits_) {
    if (!is_wanted(s.name)) continue;
    if (!shard.whole()) s.examples = move_out(s.examples, shard_indices(int64_t(s.examples.size()), shard));
    s.report.examples = int64_t(s.examples.size());
    kept.push_back(std::move(s));
  }
  ds.splits_ = std::move(kept);
  return ds;
}

const Dataset::Split& Dataset::find(const std::string& name) const {
  for (const Split& s : splits_)
    if (s.name == name) return s;
  const auto names = split_names();
  PTLAB_FAIL("split '{}' is not loaded{}; loaded splits: {}", name, did_you_mean(name, names), join_names(names));
}

const std::vector<Example>& Dataset::split(const std::string& name) const { return find(name).examples; }
const SplitReport& Dataset::report(const std::string& name) const { return find(name).report; }

bool Dataset::has_split(const std::string& name) const {
  return std::any_of(splits_.begin(), splits_.end(), [&](const Split& s) { return s.name == name; });
}

std::vector<std::string> Dataset::split_names() const {
  std::vector<std::string> names;
  for (const Split& s : splits_) names.push_back(s.name);
  return names;
}

}  // namespace ptlab::data
