#include "framework/text/normalizer.h"

#include "framework/core/error.h"
#include "framework/text/unicode.h"

#include <nlohmann/json.hpp>

namespace ptlab::text {

Normalizer::Step Normalizer::make_step(Step::Kind kind, std::string a, std::string b) {
  Step s;
  s.kind = kind;
  s.a = std::move(a);
  s.b = std::move(b);
  return s;
}

Normalizer Normalizer::from_json(const nlohmann::json& json, std::string_view where) {
  Normalizer n;
  if (!json.is_null()) n.parse(json, where);
  return n;
}

void Normalizer::parse(const nlohmann::json& j, std::string_view where) {
  PTLAB_CHECK(j.is_object() && j.contains("type") && j["type"].is_string(), "{} must be an object with a \"type\"",
              where);
  const std::string type = j["type"].get<std::string>();
  using K = Step::Kind;
  if (type == "Sequence") {
    const auto& list = j.value("normalizers", nlohmann::json::array());
    for (std::size_t i = 0; i < list.size(); ++i) parse(list[i], fmt::format("{}.normalizers[{}]", where, i));
  } else if (type == "NFC") {
    steps_.push_back(make_step(K::kNFC));
  } else if (type == "NFD") {
    steps_.push_back(make_step(K::kNFD));
  } else if (type == "NFKC") {
    steps_.push_back(make_step(K::kNFKC));
  } else if (type == "NFKD") {
    steps_.push_back(make_step(K::kNFKD));
  } else if (type == "Lowercase") {
    steps_.push_back(make_step(K::kLowercase));
  } else if (type == "Strip") {
    Step s = make_step(K::kStrip);
    s.left = j.value("strip_left", true);
    s.right = j.value("strip_right", true);
    steps_.push_back(s);
  } else if (type == "Prepend") {
    PTLAB_CHECK(j.contains("prepend") && j["prepend"].is_string(), "{}.prepend must be a string", where);
    steps_.push_back(make_step(K::kPrepend, j["prepend"].get<std::string>()));
  } else if (type == "Replace") {
    const auto& pattern = j.value("pattern", nlohmann::json());
    PTLAB_CHECK(pattern.is_object() && pattern.contains("String") && pattern["String"].is_string(),
                "{}.pattern: only {{\"String\": ...}} patterns are supported for Replace normalizers, got {}", where,
                pattern.dump());
    PTLAB_CHECK(j.contains("content") && j["content"].is_string(), "{}.content must be a string", where);
    std::string from = pattern["String"].get<std::string>();
    PTLAB_CHECK(!from.empty(), "{}.pattern.String is empty", where);
    steps_.push_back(make_step(K::kReplace, from, j["content"].get<std::string>()));
  } else {
    PTLAB_FAIL(
        "{}: normalizer type '{}' is not supported (supported: NFC, NFD, NFKC, NFKD, "
        "Lowercase, Strip, Prepend, Replace with a String pattern, Sequence)",
        where, type);
  }
}

std::string Normalizer::apply(std::string_view text) const {
  std::string s(text);
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Step::Kind::kNFC:
        s = normalize(s, NormalForm::kNFC);
        break;
      case Step::Kind::kNFD:
        s = normalize(s, NormalForm::kNFD);
        break;
      case Step::Kind::kNFKC:
        s = normalize(s, NormalForm::kNFKC);
        break;
      case Step::Kind::kNFKD:
        s = normalize(s, NormalForm::kNFKD);
        break;
      case Step::Kind::kLowercase:
        s = python_lower(s);
        break;
      case Step::Kind::kStrip: {
        // python_strip trims both ends; for one end only, strip "x" + s or s + "x" and drop the sentinel.
        if (step.left && step.right) {
          s = std::string(python_strip(s));
        } else if (step.left) {
          std::string t = s + "x";
          s = std::string(python_strip(t));
          s.pop_back();
        } else if (step.right) {
          std::string t = "x" + s;
          s = std::string(python_strip(t)).substr(1);
        }
        break;
      }
      case Step::Kind::kPrepend:
        if (!s.empty()) s = step.a + s;
        break;
      case Step::Kind::kReplace: {
        std::string out;
        std::size_t pos = 0;
        for (std::size_t hit; (hit = s.find(step.a, pos)) != std::string::npos; pos = hit + step.a.size())
          out.append(s, pos, hit - pos).append(step.b);
        out.append(s, pos, std::string::npos);
        s = std::move(out);
        break;
      }
    }
  }
  return s;
}

}  // namespace ptlab::text
