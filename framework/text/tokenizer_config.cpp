#include "framework/text/tokenizer_config.h"

#include "framework/core/error.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ptlab::text {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const char* const kRoles[] = {"bos", "eos", "unk", "pad", "sep", "cls", "mask"};

void read_bool(const json& j, const std::string& file, const char* key, std::optional<bool>& out,
               bool null_is_unset = false) {
  if (!j.contains(key)) return;
  const json& v = j[key];
  if (v.is_null() && null_is_unset) {
    out.reset();
    return;
  }
  PTLAB_CHECK(v.is_boolean(), "{}: \"{}\" must be true or false, not {}", file, key, v.dump());
  out = v.get<bool>();
}

// A special token given as "text", {"content": "text", "lstrip": ...} or null.
std::optional<std::string> token_content(const json& v, const std::string& file, const std::string& key) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return v.get<std::string>();
  PTLAB_CHECK(v.is_object() && v.contains("content") && v["content"].is_string(),
              "{}: \"{}\" must be a string, null or an object with a \"content\" string, not {}", file, key, v.dump());
  return v["content"].get<std::string>();
}

AddedToken token_flags(const json& v, std::string content) {
  AddedToken t;
  t.content = std::move(content);
  if (v.is_object()) {
    t.lstrip = v.value("lstrip", false);
    t.rstrip = v.value("rstrip", false);
    t.single_word = v.value("single_word", false);
    t.normalized = v.value("normalized", false);
    t.special = v.value("special", true);
  } else {
    t.special = true;
  }
  return t;
}

void read_special_tokens(const json& j, const std::string& file, TokenizerConfig& cfg,
                         std::map<std::string, AddedToken>& flags) {
  for (const char* role : kRoles) {
    std::string key = std::string(role) + "_token";
    if (!j.contains(key)) continue;
    auto content = token_content(j[key], file, key);
    cfg.special_tokens[role] = content;
    if (content && j[key].is_object()) flags[*content] = token_flags(j[key], *content);
  }
  if (j.contains("additional_special_tokens")) {
    const json& list = j["additional_special_tokens"];
    PTLAB_CHECK(list.is_array() || list.is_null(), "{}: \"additional_special_tokens\" must be a list, not {}", file,
                list.dump());
    cfg.additional_special_tokens.clear();
    if (list.is_array()) {
      for (std::size_t i = 0; i < list.size(); ++i) {
        std::string key = fmt::format("additional_special_tokens[{}]", i);
        auto content = token_content(list[i], file, key);
        PTLAB_CHECK(content.has_value(), "{}: \"{}\" is null", file, key);
        cfg.additional_special_tokens.push_back(*content);
        if (list[i].is_object()) flags[*content] = token_flags(list[i], *content);
      }
    }
  }
}

}  // namespace

std::optional<std::string> TokenizerConfig::special(const std::string& role) const {
  auto it = special_tokens.find(role);
  return it == special_tokens.end() ? std::nullopt : it->second;
}

json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  PTLAB_CHECK(in.good(), "cannot open {}: {}", path, fs::exists(path) ? "not readable" : "no such file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return json::parse(buffer.str());
  } catch (const json::parse_error& e) {
    PTLAB_FAIL("{} is not valid JSON: {} (byte {})", path, e.what(), e.byte);
  }
}

std::vector<AddedToken> added_tokens_from_json(const json& list, std::string_view where) {
  std::vector<AddedToken> out;
  if (list.is_null()) return out;
  PTLAB_CHECK(list.is_array(), "{} must be a list", where);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json& a = list[i];
    PTLAB_CHECK(a.is_object() && a.contains("id") && a["id"].is_number_integer() && a["id"].get<int>() >= 0 &&
                    a.contains("content") && a["content"].is_string() && !a["content"].get<std::string>().empty(),
                "{}[{}] needs a non-negative integer \"id\" and a non-empty \"content\"", where, i);
    AddedToken t;
    t.id = a["id"].get<int>();
    t.content = a["content"].get<std::string>();
    t.special = a.value("special", false);
    t.lstrip = a.value("lstrip", false);
    t.rstrip = a.value("rstrip", false);
    t.single_word = a.value("single_word", false);
    t.normalized = a.value("normalized", !t.special);
    out.push_back(std::move(t));
  }
  return out;
}

TokenizerConfig read_tokenizer_config(const std::string& dir) {
  TokenizerConfig cfg;
  std::map<std::string, AddedToken> flags;  // special-token flags given as objects, by content

  const std::string config_path = (fs::path(dir) / "tokenizer_config.json").string();
  if (fs::is_regular_file(config_path)) {
    const json j = read_json_file(config_path);
    PTLAB_CHECK(j.is_object(), "{} must hold a JSON object", config_path);
    cfg.files.push_back(config_path);
    if (j.contains("tokenizer_class") && j["tokenizer_class"].is_string())
      cfg.tokenizer_class = j["tokenizer_class"].get<std::string>();
    read_special_tokens(j, config_path, cfg, flags);
    read_bool(j, config_path, "add_bos_token", cfg.add_bos_token);
    read_bool(j, config_path, "add_eos_token", cfg.add_eos_token);
    read_bool(j, config_path, "add_prefix_space", cfg.add_prefix_space);
    read_bool(j, config_path, "legacy", cfg.legacy, true);
    read_bool(j, config_path, "do_lower_case", cfg.do_lower_case);
    read_bool(j, config_path, "do_basic_tokenize", cfg.do_basic_tokenize);
    read_bool(j, config_path, "tokenize_chinese_chars", cfg.tokenize_chinese_chars);
    read_bool(j, config_path, "strip_accents", cfg.strip_accents, true);
    read_bool(j, config_path, "clean_up_tokenization_spaces", cfg.clean_up_tokenization_spaces);
    read_bool(j, config_path, "spaces_between_special_tokens", cfg.spaces_between_special_tokens);
    if (j.contains("extra_ids") && !j["extra_ids"].is_null()) {
      PTLAB_CHECK(j["extra_ids"].is_number_integer() && j["extra_ids"].get<int>() >= 0,
                  "{}: \"extra_ids\" must be a non-negative integer, not {}", config_path, j["extra_ids"].dump());
      cfg.extra_ids = j["extra_ids"].get<int>();
    }
    if (j.contains("never_split") && j["never_split"].is_array()) {
      for (const json& t : j["never_split"])
        if (t.is_string()) cfg.never_split.push_back(t.get<std::string>());
    }
    if (j.contains("added_tokens_decoder")) {
      const json& dec = j["added_tokens_decoder"];
      PTLAB_CHECK(dec.is_object(), "{}: \"added_tokens_decoder\" must be an object of id -> token", config_path);
      for (const auto& [key, value] : dec.items()) {
        int id = -1;
        try {
          std::size_t used = 0;
          id = std::stoi(key, &used);
          if (used != key.size()) id = -1;
        } catch (const std::exception&) {
          id = -1;
        }
        PTLAB_CHECK(id >= 0, "{}: added_tokens_decoder key '{}' is not a token id", config_path, key);
        auto content = token_content(value, config_path, "added_tokens_decoder." + key);
        PTLAB_CHECK(content && !content->empty(), "{}: added_tokens_decoder.{} has no content", config_path, key);
        AddedToken t = token_flags(value, *content);
        if (value.is_object()) t.special = value.value("special", false);
        t.id = id;
        cfg.added_tokens.push_back(std::move(t));
      }
    }
  }

  const std::string map_path = (fs::path(dir) / "special_tokens_map.json").string();
  if (fs::is_regular_file(map_path)) {
    const json j = read_json_file(map_path);
    PTLAB_CHECK(j.is_object(), "{} must hold a JSON object", map_path);
    cfg.files.push_back(map_path);
    read_special_tokens(j, map_path, cfg, flags);
  }

  const std::string added_path = (fs::path(dir) / "added_tokens.json").string();
  if (fs::is_regular_file(added_path)) {
    const json j = read_json_file(added_path);
    PTLAB_CHECK(j.is_object(), "{} must hold a JSON object of token -> id", added_path);
    cfg.files.push_back(added_path);
    for (const auto& [content, id] : j.items()) {
      PTLAB_CHECK(id.is_number_integer() && id.get<int>() >= 0, "{}: id of '{}' must be a non-negative integer, not {}",
                  added_path, content, id.dump());
      bool known = false;
      for (const auto& t : cfg.added_tokens) known = known || t.content == content;
      if (known) continue;
      AddedToken t;
      t.content = content;
      t.normalized = true;
      if (auto it = flags.find(content); it != flags.end()) t = it->second;
      t.id = id.get<int>();
      cfg.added_tokens.push_back(std::move(t));
    }
  }

  // Tokens named as special tokens are special.
  auto is_special_string = [&](const std::string& s) {
    for (const auto& [role, content] : cfg.special_tokens)
      if (content && *content == s) return true;
    for (const auto& a : cfg.additional_special_tokens)
      if (a == s) return true;
    return false;
  };
  for (auto& t : cfg.added_tokens)
    if (is_special_string(t.content)) t.special = true;
  cfg.special_token_flags = std::move(flags);
  return cfg;
}

}  // namespace ptlab::text
