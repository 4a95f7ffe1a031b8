#include "framework/text/post_processor.h"

#include "framework/core/error.h"
#include "framework/text/encoding.h"

#include <nlohmann/json.hpp>

namespace ptlab::text {
namespace {

using json = nlohmann::json;
using Piece = PostProcessor::Piece;

Piece special_piece(const std::vector<std::pair<int, std::string>>& tokens, int type_id) {
  Piece p;
  p.kind = Piece::Kind::kSpecial;
  p.type_id = type_id;
  for (const auto& [id, token] : tokens) {
    p.ids.push_back(id);
    p.tokens.push_back(token);
  }
  return p;
}

Piece sequence_piece(Piece::Kind kind, int type_id) {
  Piece p;
  p.kind = kind;
  p.type_id = type_id;
  return p;
}

// A ["token", id] pair of BertProcessing / RobertaProcessing.
std::pair<int, std::string> token_pair(const json& j, std::string_view where, const char* key) {
  PTLAB_CHECK(j.contains(key) && j[key].is_array() && j[key].size() == 2 && j[key][0].is_string() &&
                  j[key][1].is_number_integer(),
              "{}.{} must be [\"token\", id]", where, key);
  return {j[key][1].get<int>(), j[key][0].get<std::string>()};
}

std::vector<Piece> parse_template(const json& items, const json& specials, std::string_view where, const char* which) {
  std::string at = fmt::format("{}.{}", where, which);
  PTLAB_CHECK(items.is_array(), "{} must be a list of {{\"SpecialToken\": ...}} / {{\"Sequence\": ...}} items", at);
  std::vector<Piece> out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const json& item = items[i];
    std::string item_at = fmt::format("{}[{}]", at, i);
    if (item.contains("Sequence")) {
      const json& s = item["Sequence"];
      std::string id = s.value("id", "A");
      PTLAB_CHECK(id == "A" || id == "B", "{}.Sequence.id is '{}'; expected \"A\" or \"B\"", item_at, id);
      out.push_back(
          sequence_piece(id == "A" ? Piece::Kind::kSequenceA : Piece::Kind::kSequenceB, s.value("type_id", 0)));
    } else if (item.contains("SpecialToken")) {
      const json& s = item["SpecialToken"];
      std::string name = s.value("id", "");
      PTLAB_CHECK(specials.is_object() && specials.contains(name),
                  "{}: special token '{}' is not defined in {}.special_tokens", item_at, name, where);
      const json& def = specials[name];
      PTLAB_CHECK(def.contains("ids") && def["ids"].is_array() && def.contains("tokens") && def["tokens"].is_array() &&
                      def["ids"].size() == def["tokens"].size(),
                  "{}.special_tokens.{} needs lists \"ids\" and \"tokens\" of equal length", where, name);
      std::vector<std::pair<int, std::string>> toks;
      for (std::size_t k = 0; k < def["ids"].size(); ++k)
        toks.emplace_back(def["ids"][k].get<int>(), def["tokens"][k].get<std::string>());
      out.push_back(special_piece(toks, s.value("type_id", 0)));
    } else {
      PTLAB_FAIL("{} is neither {{\"SpecialToken\": ...}} nor {{\"Sequence\": ...}}: {}", item_at, item.dump());
    }
  }
  return out;
}

}  // namespace

PostProcessor::PostProcessor()
    : single_{sequence_piece(Piece::Kind::kSequenceA, 0)},
      pair_{sequence_piece(Piece::Kind::kSequenceA, 0), sequence_piece(Piece::Kind::kSequenceB, 1)} {}

PostProcessor::PostProcessor(std::vector<Piece> single, std::vector<Piece> pair)
    : single_(std::move(single)), pair_(std::move(pair)) {}

PostProcessor PostProcessor::surround(std::vector<std::pair<int, std::string>> prefix,
                                      std::vector<std::pair<int, std::string>> suffix,
                                      std::vector<std::pair<int, std::string>> pair_prefix,
                                      std::vector<std::pair<int, std::string>> pair_suffix, int pair_type_id) {
  std::vector<Piece> single, pair;
  auto add = [](std::vector<Piece>& v, const std::vector<std::pair<int, std::string>>& toks, int type) {
    if (!toks.empty()) v.push_back(special_piece(toks, type));
  };
  add(single, prefix, 0);
  single.push_back(sequence_piece(Piece::Kind::kSequenceA, 0));
  add(single, suffix, 0);
  pair = single;
  add(pair, pair_prefix, pair_type_id);
  pair.push_back(sequence_piece(Piece::Kind::kSequenceB, pair_type_id));
  add(pair, pair_suffix, pair_type_id);
  return PostProcessor(std::move(single), std::move(pair));
}

PostProcessor PostProcessor::from_json(const json& j, std::string_view where) {
  if (j.is_null()) return PostProcessor();
  PTLAB_CHECK(j.is_object() && j.contains("type") && j["type"].is_string(), "{} must be an object with a \"type\"",
              where);
  const std::string type = j["type"].get<std::string>();
  if (type == "ByteLevel") return PostProcessor();  // only trims offsets; ids are unchanged
  if (type == "TemplateProcessing") {
    const json specials = j.value("special_tokens", json::object());
    return PostProcessor(parse_template(j.value("single", json::array()), specials, where, "single"),
                         parse_template(j.value("pair", json::array()), specials, where, "pair"));
  }
  if (type == "BertProcessing") {
    auto cls = token_pair(j, where, "cls"), sep = token_pair(j, where, "sep");
    return surround({cls}, {sep}, {}, {sep}, 1);
  }
  if (type == "RobertaProcessing") {
    auto cls = token_pair(j, where, "cls"), sep = token_pair(j, where, "sep");
    return surround({cls}, {sep}, {sep}, {sep}, 1);
  }
  if (type == "Sequence") {
    PostProcessor result;
    int templates = 0;
    const json& list = j.value("processors", json::array());
    for (std::size_t i = 0; i < list.size(); ++i) {
      std::string type_i = list[i].value("type", "");
      if (type_i == "ByteLevel") continue;
      PTLAB_CHECK(++templates == 1, "{}.processors holds more than one token-adding processor; only one is supported",
                  where);
      result = from_json(list[i], fmt::format("{}.processors[{}]", where, i));
    }
    return result;
  }
  PTLAB_FAIL(
      "{}: post-processor type '{}' is not supported (supported: TemplateProcessing, BertProcessing, "
      "RobertaProcessing, ByteLevel, Sequence)",
      where, type);
}

Encoding PostProcessor::apply(const Encoding& a, const Encoding* b) const {
  const bool offsets = a.offsets.size() == a.ids.size() && (b == nullptr || b->offsets.size() == b->ids.size());
  Encoding out;
  auto append = [&](const Encoding& e, int type_id) {
    out.ids.insert(out.ids.end(), e.ids.begin(), e.ids.end());
    out.tokens.insert(out.tokens.end(), e.tokens.begin(), e.tokens.end());
    out.type_ids.insert(out.type_ids.end(), e.ids.size(), type_id);
    if (offsets) out.offsets.insert(out.offsets.end(), e.offsets.begin(), e.offsets.end());
  };
  for (const Piece& p : b == nullptr ? single_ : pair_) {
    switch (p.kind) {
      case Piece::Kind::kSpecial:
        out.ids.insert(out.ids.end(), p.ids.begin(), p.ids.end());
        out.tokens.insert(out.tokens.end(), p.tokens.begin(), p.tokens.end());
        out.type_ids.insert(out.type_ids.end(), p.ids.size(), p.type_id);
        if (offsets) out.offsets.insert(out.offsets.end(), p.ids.size(), {0, 0});
        break;
      case Piece::Kind::kSequenceA:
        append(a, p.type_id);
        break;
      case Piece::Kind::kSequenceB:
        if (b != nullptr) append(*b, p.type_id);
        break;
    }
  }
  return out;
}

std::size_t PostProcessor::added_count(bool pair) const {
  std::size_t n = 0;
  for (const Piece& p : pair ? pair_ : single_) n += p.ids.size();
  return n;
}

}  // namespace ptlab::text
