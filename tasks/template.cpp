#include "tasks/template.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "framework/text/utf8.h"

#include <algorithm>
#include <cctype>
#include <optional>

namespace ptlab::tasks {

namespace {

constexpr int64_t kMaxSoftGroup = 100000;

struct SlotName {
  const char* name;
  SlotKind kind;
  TemplateField field;
  SpecialToken special;
};

const std::vector<SlotName>& slot_names() {
  static const std::vector<SlotName> names = {
      {"text_a", SlotKind::kField, TemplateField::kTextA, SpecialToken::kBos},
      {"text_b", SlotKind::kField, TemplateField::kTextB, SpecialToken::kBos},
      {"label", SlotKind::kField, TemplateField::kLabel, SpecialToken::kBos},
      {"target", SlotKind::kField, TemplateField::kTarget, SpecialToken::kBos},
      {"tokens", SlotKind::kField, TemplateField::kTokens, SpecialToken::kBos},
      {"mask", SlotKind::kMask, TemplateField::kTextA, SpecialToken::kBos},
      {"bos", SlotKind::kSpecial, TemplateField::kTextA, SpecialToken::kBos},
      {"eos", SlotKind::kSpecial, TemplateField::kTextA, SpecialToken::kEos},
      {"sep", SlotKind::kSpecial, TemplateField::kTextA, SpecialToken::kSep},
      {"cls", SlotKind::kSpecial, TemplateField::kTextA, SpecialToken::kCls},
  };
  return names;
}

const char* field_name(TemplateField field) {
  switch (field) {
    case TemplateField::kTextA:
      return "text_a";
    case TemplateField::kTextB:
      return "text_b";
    case TemplateField::kMeta:
      return "meta";
    case TemplateField::kLabel:
      return "label";
    case TemplateField::kTarget:
      return "target";
    case TemplateField::kTokens:
      return "tokens";
  }
  return "?";
}

const char* special_name(SpecialToken special) {
  switch (special) {
    case SpecialToken::kBos:
      return "bos";
    case SpecialToken::kEos:
      return "eos";
    case SpecialToken::kSep:
      return "sep";
    case SpecialToken::kCls:
      return "cls";
  }
  return "?";
}

bool default_shortenable(TemplateField field) {
  return field == TemplateField::kTextA || field == TemplateField::kTextB || field == TemplateField::kMeta ||
         field == TemplateField::kTokens;
}

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::optional<int64_t> parse_count(const std::string& s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  return std::stoll(s);
}

// Spacing of a word that comes after a stretch with (prev_word, space) state.
Spacing spacing_of(bool prev_word, bool space) {
  if (!prev_word) return Spacing::kStart;
  return space ? Spacing::kSpace : Spacing::kAttached;
}

int special_id(const text::Tokenizer& tokenizer, SpecialToken special) {
  switch (special) {
    case SpecialToken::kBos:
      return tokenizer.bos_id();
    case SpecialToken::kEos:
      return tokenizer.eos_id();
    case SpecialToken::kSep:
      return tokenizer.sep_id();
    case SpecialToken::kCls:
      return tokenizer.cls_id();
  }
  return -1;
}

std::string describe_example(const data::Example& example) {
  std::string where = example.source.describe();
  if (example.index >= 0) where += fmt::format(" (row {})", example.index);
  return where.empty() ? std::string("<example>") : where;
}

class Parser {
 public:
  Parser(std::string_view text, const std::string& name) : text_(text), name_(name) {}

  std::vector<TemplatePart> run() {
    std::size_t i = 0;
    while (i < text_.size()) {
      const char c = text_[i];
      if (c == '{' && i + 1 < text_.size() && text_[i + 1] == '{') {
        start_text(i);
        buffer_ += '{';
        i += 2;
      } else if (c == '}' && i + 1 < text_.size() && text_[i + 1] == '}') {
        start_text(i);
        buffer_ += '}';
        i += 2;
      } else if (c == '}') {
        fail(i, "'}' has no matching '{'; write '}}' for a literal brace");
      } else if (c == '{') {
        std::size_t close = text_.find('}', i + 1);
        std::size_t reopen = text_.find('{', i + 1);
        if (close == std::string_view::npos) fail(i, "'{' is never closed; write '{{' for a literal brace");
        if (reopen < close)
          fail(i, fmt::format("'{{' is not closed before the '{{' at column {}; write '{{{{' for a literal brace",
                              column(reopen)));
        flush_text();
        add_slot(i, text_.substr(i + 1, close - i - 1));
        i = close + 1;
      } else {
        start_text(i);
        buffer_ += c;
        ++i;
      }
    }
    flush_text();
    trailing_space_ = pending_space_;
    return std::move(parts_);
  }

  bool trailing_space() const { return trailing_space_; }

 private:
  int column(std::size_t byte) const { return static_cast<int>(text::count_code_points(text_.substr(0, byte))) + 1; }

  [[noreturn]] void fail(std::size_t byte, const std::string& what) const {
    PTLAB_FAIL("template {}: {} (column {} of \"{}\")", name_, what, column(byte), std::string(text_));
  }

  void start_text(std::size_t byte) {
    if (buffer_.empty()) buffer_start_ = byte;
  }

  // Ends a stretch of hard text: one separating space at either end goes to the neighbouring part.
  void flush_text() {
    if (buffer_.empty()) return;
    std::string text = std::move(buffer_);
    buffer_.clear();
    bool leading = false;
    if (text.front() == ' ') {
      leading = true;
      text.erase(0, 1);
    }
    bool trailing = false;
    if (!text.empty() && text.back() == ' ') {
      trailing = true;
      text.pop_back();
    }
    if (text.empty()) {  // only spaces between two slots: one separator
      pending_space_ = true;
      return;
    }
    TemplatePart part;
    part.kind = SlotKind::kText;
    part.text = std::move(text);
    part.space_before = pending_space_ || leading;
    part.column = column(buffer_start_) + (leading ? 1 : 0);
    parts_.push_back(std::move(part));
    pending_space_ = trailing;
  }

  void add_slot(std::size_t byte, std::string_view raw) {
    const std::string content = trim(raw);
    const std::size_t colon = content.find(':');
    const std::string name = trim(content.substr(0, colon));
    const std::string arg = colon == std::string::npos ? std::string() : trim(content.substr(colon + 1));
    const bool has_arg = colon != std::string::npos;

    TemplatePart part;
    part.column = column(byte);
    part.space_before = pending_space_;
    pending_space_ = false;

    if (name == "soft") {
      std::optional<int64_t> count = has_arg ? parse_count(arg) : std::nullopt;
      if (!count || *count < 1 || *count > kMaxSoftGroup)
        fail(byte, fmt::format("'{{{}}}' needs a count of virtual tokens between 1 and {}: write {{soft:N}}", content,
                               kMaxSoftGroup));
      part.kind = SlotKind::kSoft;
      part.soft_count = *count;
      parts_.push_back(std::move(part));
      return;
    }
    if (name.rfind("meta.", 0) == 0) {
      part.kind = SlotKind::kField;
      part.field = TemplateField::kMeta;
      part.meta_key = name.substr(5);
      if (part.meta_key.empty()) fail(byte, "'{meta.}' needs a field name: {meta.NAME}");
    } else {
      const auto& names = slot_names();
      auto it = std::find_if(names.begin(), names.end(), [&](const SlotName& s) { return name == s.name; });
      if (it == names.end()) {
        std::vector<std::string> known = Template::known_slots();
        std::vector<std::string> plain;
        for (const auto& s : names) plain.emplace_back(s.name);
        plain.emplace_back("soft");
        plain.emplace_back("meta");
        fail(byte, fmt::format("unknown slot '{{{}}}'{}; known slots: {}", content, did_you_mean(name, plain),
                               join_names(known)));
      }
      part.kind = it->kind;
      part.field = it->field;
      part.special = it->special;
    }
    if (part.kind == SlotKind::kField) {
      part.shortenable = default_shortenable(part.field);
      if (has_arg) parse_options(byte, content, arg, part);
    } else if (has_arg) {
      fail(byte, fmt::format("'{{{}}}' takes no options; only fields take them ({{text_a:shortenable}})", content));
    }
    if (part.kind == SlotKind::kMask || (part.kind == SlotKind::kField && part.field == TemplateField::kTokens)) {
      for (const auto& other : parts_)
        if (other.kind == part.kind && other.field == part.field)
          fail(byte, fmt::format("a template has at most one {}; another one is at column {}", part.describe(),
                                 other.column));
    }
    parts_.push_back(std::move(part));
  }

  void parse_options(std::size_t byte, const std::string& content, const std::string& options, TemplatePart& part) {
    static const std::vector<std::string> known = {"shortenable", "fixed"};
    std::size_t start = 0;
    while (start <= options.size()) {
      std::size_t comma = options.find(',', start);
      if (comma == std::string::npos) comma = options.size();
      const std::string option = trim(options.substr(start, comma - start));
      if (option == "shortenable") {
        part.shortenable = true;
      } else if (option == "fixed") {
        part.shortenable = false;
      } else {
        fail(byte, fmt::format("unknown option '{}' in '{{{}}}'{}; known options: {}", option, content,
                               did_you_mean(option, known), join_names(known)));
      }
      start = comma + 1;
    }
  }

  std::string_view text_;
  const std::string& name_;
  std::vector<TemplatePart> parts_;
  std::string buffer_;
  std::size_t buffer_start_ = 0;
  bool pending_space_ = false;
  bool trailing_space_ = false;
};

// The tokens of one part while rendering.
struct Piece {
  std::vector<int> ids;
  bool shortenable = false;
  std::vector<int64_t> word_offsets;  // {tokens}: offset of each word's first token in ids (-1: none)
};

}  // namespace

std::vector<int64_t> RenderedExample::all_soft_positions() const {
  std::vector<int64_t> out;
  for (const auto& group : soft_positions) out.insert(out.end(), group.begin(), group.end());
  return out;
}

std::string TemplatePart::describe() const {
  switch (kind) {
    case SlotKind::kText:
      return fmt::format("hard text '{}'", text);
    case SlotKind::kField:
      return field == TemplateField::kMeta ? fmt::format("{{meta.{}}}", meta_key)
                                           : fmt::format("{{{}}}", field_name(field));
    case SlotKind::kSoft:
      return fmt::format("{{soft:{}}}", soft_count);
    case SlotKind::kMask:
      return "{mask}";
    case SlotKind::kSpecial:
      return fmt::format("{{{}}}", special_name(special));
  }
  return "?";
}

std::vector<std::string> Template::known_slots() {
  std::vector<std::string> out;
  for (const auto& s : slot_names()) out.emplace_back(s.name);
  out.emplace_back("meta.NAME");
  out.emplace_back("soft:N");
  return out;
}

Template Template::parse(std::string_view text, std::string name) {
  Template out;
  out.name_ = std::move(name);
  out.text_ = std::string(text);
  text::check_utf8(text, "template " + out.name_);
  Parser parser(out.text_, out.name_);
  out.parts_ = parser.run();
  out.trailing_space_ = parser.trailing_space();
  for (std::size_t i = 0; i < out.parts_.size(); ++i) {
    TemplatePart& part = out.parts_[i];
    if (part.kind == SlotKind::kSoft) {
      part.soft_group = static_cast<int>(out.soft_sizes_.size());
      out.soft_sizes_.push_back(part.soft_count);
    } else if (part.kind == SlotKind::kMask) {
      out.mask_part_ = static_cast<int>(i);
    }
  }
  PTLAB_CHECK(!out.parts_.empty(), "template {}: the template is empty; write at least one slot or some text",
              out.name_);
  return out;
}

int64_t Template::num_soft_tokens() const {
  int64_t total = 0;
  for (int64_t n : soft_sizes_) total += n;
  return total;
}

bool Template::uses(TemplateField field) const {
  return std::any_of(parts_.begin(), parts_.end(),
                     [&](const TemplatePart& p) { return p.kind == SlotKind::kField && p.field == field; });
}

bool Template::uses(SpecialToken special) const {
  return std::any_of(parts_.begin(), parts_.end(),
                     [&](const TemplatePart& p) { return p.kind == SlotKind::kSpecial && p.special == special; });
}

Spacing Template::spacing_before(std::size_t part_index) const {
  bool prev_word = false, space = false;
  for (std::size_t i = 0; i < part_index && i < parts_.size(); ++i) {
    const TemplatePart& part = parts_[i];
    if (part.kind == SlotKind::kSoft) {
      space = space || part.space_before;
    } else if (part.kind == SlotKind::kSpecial) {
      prev_word = space = false;
    } else {
      prev_word = true;
      space = false;
    }
  }
  if (part_index < parts_.size()) {
    space = space || parts_[part_index].space_before;
  } else {
    space = space || trailing_space_;
  }
  return spacing_of(prev_word, space);
}

Spacing Template::mask_spacing() const {
  return mask_part_ < 0 ? spacing_before(parts_.size()) : spacing_before(static_cast<std::size_t>(mask_part_));
}

Spacing Template::end_spacing() const { return spacing_before(parts_.size()); }

int64_t Template::placeholder_id(const text::Tokenizer& tokenizer) {
  for (int id : {tokenizer.pad_id(), tokenizer.unk_id(), tokenizer.eos_id()})
    if (id >= 0) return id;
  return 0;
}

int64_t Template::mask_token_id(const text::Tokenizer& tokenizer) {
  if (tokenizer.mask_id() >= 0) return tokenizer.mask_id();
  const int sentinel = tokenizer.token_to_id("<extra_id_0>");
  if (sentinel >= 0) return sentinel;
  return placeholder_id(tokenizer);
}

RenderedExample Template::render(const data::Example& example, const text::Tokenizer& tokenizer,
                                 int64_t max_length) const {
  const int64_t placeholder = placeholder_id(tokenizer);
  std::vector<Piece> pieces(parts_.size());
  bool prev_word = false, space = false;

  for (std::size_t i = 0; i < parts_.size(); ++i) {
    const TemplatePart& part = parts_[i];
    Piece& piece = pieces[i];
    switch (part.kind) {
      case SlotKind::kSoft:
        piece.ids.assign(static_cast<std::size_t>(part.soft_count), static_cast<int>(placeholder));
        space = space || part.space_before;
        break;
      case SlotKind::kMask:
        piece.ids = {static_cast<int>(mask_token_id(tokenizer))};
        prev_word = true;
        space = false;
        break;
      case SlotKind::kSpecial: {
        const int id = special_id(tokenizer, part.special);
        PTLAB_CHECK(id >= 0, "template {}: {} at column {} needs a {} token, but the tokenizer from {} has none", name_,
                    part.describe(), part.column, special_name(part.special), tokenizer.source());
        piece.ids = {id};
        prev_word = space = false;
        break;
      }
      case SlotKind::kText:
        piece.ids = encode_piece(tokenizer, part.text, spacing_of(prev_word, space || part.space_before));
        prev_word = true;
        space = false;
        break;
      case SlotKind::kField: {
        piece.shortenable = part.shortenable;
        const Spacing spacing = spacing_of(prev_word, space || part.space_before);
        if (part.field == TemplateField::kTokens) {
          if (example.tokens.empty()) {
            space = space || part.space_before;
            break;
          }
          for (std::size_t w = 0; w < example.tokens.size(); ++w) {
            std::vector<int> ids = encode_piece(tokenizer, example.tokens[w], w == 0 ? spacing : Spacing::kSpace);
            piece.word_offsets.push_back(ids.empty() ? -1 : static_cast<int64_t>(piece.ids.size()));
            piece.ids.insert(piece.ids.end(), ids.begin(), ids.end());
          }
          prev_word = true;
          space = false;
          break;
        }
        std::string_view value;
        switch (part.field) {
          case TemplateField::kTextA:
            value = example.text_a;
            break;
          case TemplateField::kTextB:
            value = example.text_b;
            break;
          case TemplateField::kTarget:
            value = example.target;
            break;
          case TemplateField::kLabel:
            PTLAB_CHECK(example.has_label(),
                        "template {}: {{label}} at column {} needs a labeled example, but {} has no label", name_,
                        part.column, describe_example(example));
            value = example.label_name;
            break;
          case TemplateField::kMeta: {
            auto it = example.meta.find(part.meta_key);
            if (it == example.meta.end()) {
              std::vector<std::string> keys;
              for (const auto& [k, v] : example.meta) keys.push_back(k);
              PTLAB_FAIL(
                  "template {}: {} at column {} but example {} has no meta field '{}'{}; its meta fields: {} "
                  "(map one with data.fields.meta.{})",
                  name_, part.describe(), part.column, describe_example(example), part.meta_key,
                  did_you_mean(part.meta_key, keys), keys.empty() ? "none" : join_names(keys), part.meta_key);
            }
            value = it->second;
            break;
          }
          case TemplateField::kTokens:
            break;
        }
        if (value.empty()) {  // an empty field vanishes; its space still separates what follows
          space = space || part.space_before;
          break;
        }
        piece.ids = encode_piece(tokenizer, value, spacing);
        prev_word = true;
        space = false;
        break;
      }
    }
  }

  // Truncation: the longest shortenable piece loses its last token until everything fits.
  int64_t total = 0, fixed = 0;
  for (const Piece& p : pieces) {
    total += static_cast<int64_t>(p.ids.size());
    if (!p.shortenable) fixed += static_cast<int64_t>(p.ids.size());
  }
  RenderedExample out;
  if (max_length > 0 && total > max_length) {
    PTLAB_CHECK(fixed <= max_length,
                "template {}: its fixed part is {} tokens for example {} (hard text, special and soft tokens, the "
                "mask and fixed fields), more than max_length {}; shorten the template, mark fields shortenable or "
                "raise max_length",
                name_, fixed, describe_example(example), max_length);
    out.truncated = true;
    while (total > max_length) {
      Piece* longest = nullptr;
      for (Piece& p : pieces)
        if (p.shortenable && !p.ids.empty() && (longest == nullptr || p.ids.size() >= longest->ids.size()))
          longest = &p;
      PTLAB_ASSERT(longest != nullptr, "nothing left to shorten ({} > {})", total, max_length);
      longest->ids.pop_back();
      --total;
    }
  }

  // Assembly.
  out.input_ids.reserve(static_cast<std::size_t>(total));
  out.soft_positions.resize(soft_sizes_.size());
  int segment = 0;
  for (std::size_t i = 0; i < parts_.size(); ++i) {
    const TemplatePart& part = parts_[i];
    const Piece& piece = pieces[i];
    const auto begin = static_cast<int64_t>(out.input_ids.size());
    if (part.kind == SlotKind::kSoft) {
      for (std::size_t k = 0; k < piece.ids.size(); ++k)
        out.soft_positions[static_cast<std::size_t>(part.soft_group)].push_back(begin + static_cast<int64_t>(k));
    } else if (part.kind == SlotKind::kMask) {
      out.mask_position = begin;
    } else if (part.kind == SlotKind::kSpecial && part.special == SpecialToken::kCls && out.cls_position < 0) {
      out.cls_position = begin;
    } else if (part.kind == SlotKind::kField && part.field == TemplateField::kTarget) {
      out.target_begin = begin;
      out.target_end = begin + static_cast<int64_t>(piece.ids.size());
      out.target_ids.assign(piece.ids.begin(), piece.ids.end());
    } else if (part.kind == SlotKind::kField && part.field == TemplateField::kTokens) {
      for (int64_t offset : piece.word_offsets)
        out.word_starts.push_back(offset >= 0 && offset < static_cast<int64_t>(piece.ids.size()) ? begin + offset : -1);
      if (piece.word_offsets.empty()) out.word_starts.assign(example.tokens.size(), -1);
    }
    for (int id : piece.ids) {
      out.input_ids.push_back(id);
      out.token_type_ids.push_back(segment);
    }
    if (part.kind == SlotKind::kSpecial && part.special == SpecialToken::kSep) segment = 1;
  }
  if (!uses(TemplateField::kTarget) && !example.target.empty()) {
    std::vector<int> ids = encode_piece(tokenizer, example.target, end_spacing());
    out.target_ids.assign(ids.begin(), ids.end());
  }
  out.length = static_cast<int64_t>(out.input_ids.size());
  out.label = example.label_id;
  return out;
}

}  // namespace ptlab::tasks
