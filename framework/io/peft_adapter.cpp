#include "framework/io/peft_adapter.h"

#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "framework/io/peft_files.h"
#include "framework/io/safetensors.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <sstream>

namespace ptlab::io {
namespace {

using peft_files::ConfigReader;
using peft_files::kConfigFile;
using peft_files::kWeightsFile;
constexpr const char* kPromptTensor = "prompt_embeddings";

const std::vector<std::string> kTaskTypes = {"SEQ_CLS",   "SEQ_2_SEQ_LM", "CAUSAL_LM",
                                             "TOKEN_CLS", "QUESTION_ANS", "FEATURE_EXTRACTION"};
const std::vector<std::string> kInitModes = {"RANDOM", "TEXT", "SAMPLE_VOCAB"};
const std::vector<std::string> kFamilies = {"llama", "gpt2", "gpt_neox", "bert", "t5"};

bool is_one_of(const std::string& value, const std::vector<std::string>& options) {
  return std::find(options.begin(), options.end(), value) != options.end();
}

// " (did you mean X?)": a case-insensitive match first (PEFT's names are case-sensitive), else by edit distance.
std::string option_hint(const std::string& value, const std::vector<std::string>& options) {
  for (const auto& o : options)
    if (o.size() == value.size() && std::equal(o.begin(), o.end(), value.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      return fmt::format(" (did you mean {}? names are case-sensitive)", o);
  return did_you_mean(value, options);
}

// ---- Python's json.dumps(indent=2, sort_keys=True), written here because no library reproduces Python's
// ---- float repr and ensure_ascii escaping byte for byte.

// Python's float repr: the shortest digits that round-trip, fixed notation for exponents -4..15, else
// d[.ddd]e±XX; integral values keep ".0"; json spells non-finite values NaN / Infinity / -Infinity.
std::string python_float_repr(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v == 0.0) return std::signbit(v) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), std::fabs(v), std::chars_format::scientific);  // "d.ddde±XX"
  PTLAB_ASSERT(res.ec == std::errc(), "to_chars failed for {}", v);
  const std::string sci(buf, res.ptr);
  const auto e_pos = sci.find('e');
  std::string digits;
  for (std::size_t i = 0; i < e_pos; ++i)
    if (sci[i] != '.') digits += sci[i];
  const int exponent = std::stoi(sci.substr(e_pos + 1));
  std::string out = v < 0 ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
  } else if (exponent < 0) {
    out += "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
  } else if (static_cast<std::size_t>(exponent) + 1 >= digits.size()) {
    out += digits + std::string(static_cast<std::size_t>(exponent) + 1 - digits.size(), '0') + ".0";
  } else {
    out += digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
  }
  return out;
}

// A JSON string literal with ensure_ascii=True: ", \, \b \f \n \r \t escaped by name, every other byte
// outside ' '..'~' as \u00xx, code points above U+FFFF as a surrogate pair (lower-case hex, as Python).
std::string python_string_literal(const std::string& s) {
  std::string out = "\"";
  auto escape = [&out](uint32_t unit) { out += fmt::format("\\u{:04x}", unit); };
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20 || c == 0x7f)
            escape(c);
          else
            out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // Decode one UTF-8 sequence (strict: no overlong forms, no surrogates, at most U+10FFFF).
    const int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    uint32_t cp = len == 4 ? c & 0x07u : len == 3 ? c & 0x0fu : c & 0x1fu;
    bool ok = len > 0 && i + len <= s.size() && c <= 0xf4;
    for (int k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      ok = (cc & 0xc0) == 0x80;
      cp = (cp << 6) | (cc & 0x3fu);
    }
    const uint32_t min_cp = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    ok = ok && cp >= min_cp && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    PTLAB_CHECK(ok, "cannot write JSON: the string \"{}\" is not valid UTF-8 (bad byte 0x{:02x} at offset {})", s, c,
                i);
    if (cp > 0xffff) {
      escape(0xd800 + ((cp - 0x10000) >> 10));
      escape(0xdc00 + ((cp - 0x10000) & 0x3ff));
    } else {
      escape(cp);
    }
    i += static_cast<std::size_t>(len);
  }
  return out + "\"";
}

void python_dump(const nlohmann::json& j, int depth, std::string& out) {
  const std::string inner(static_cast<std::size_t>(2 * (depth + 1)), ' ');
  const std::string outer(static_cast<std::size_t>(2 * depth), ' ');
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      out += "null";
      return;
    case nlohmann::json::value_t::boolean:
      out += j.get<bool>() ? "true" : "false";
      return;
    case nlohmann::json::value_t::number_integer:
      out += std::to_string(j.get<int64_t>());
      return;
    case nlohmann::json::value_t::number_unsigned:
      out += std::to_string(j.get<uint64_t>());
      return;
    case nlohmann::json::value_t::number_float:
      out += python_float_repr(j.get<double>());
      return;
    case nlohmann::json::value_t::string:
      out += python_string_literal(j.get_ref<const std::string&>());
      return;
    case nlohmann::json::value_t::array: {
      if (j.empty()) {
        out += "[]";
        return;
      }
      out += "[\n";
      for (std::size_t i = 0; i < j.size(); ++i) {
        out += (i ? ",\n" : "") + inner;
        python_dump(j[i], depth + 1, out);
      }
      out += "\n" + outer + "]";
      return;
    }
    case nlohmann::json::value_t::object: {
      if (j.empty()) {
        out += "{}";
        return;
      }
      // nlohmann::json keeps object keys in a std::map: byte order of UTF-8 = code point order = Python's sort.
      out += "{\n";
      bool first = true;
      for (const auto& [key, value] : j.items()) {
        out += (first ? "" : ",\n") + inner + python_string_literal(key) + ": ";
        python_dump(value, depth + 1, out);
        first = false;
      }
      out += "\n" + outer + "}";
      return;
    }
    default:
      PTLAB_ASSERT(false, "cannot write a JSON value of type {}", j.type_name());
  }
}

// ---- adapter_config.json <-> PeftPromptConfig

nlohmann::json optional_string(const std::optional<std::string>& s) { return s ? nlohmann::json(*s) : nullptr; }

nlohmann::json config_to_json(const PeftPromptConfig& c) {
  nlohmann::json j = {
      {"auto_mapping", c.auto_mapping},
      {"base_model_name_or_path", c.base_model_name_or_path},
      {"inference_mode", c.inference_mode},
      {"num_attention_heads", c.num_attention_heads},
      {"num_layers", c.num_layers},
      {"num_transformer_submodules", c.num_transformer_submodules},
      {"num_virtual_tokens", c.num_virtual_tokens},
      {"peft_type", "PROMPT_TUNING"},
      {"prompt_tuning_init", c.prompt_tuning_init},
      {"prompt_tuning_init_text", optional_string(c.prompt_tuning_init_text)},
      {"revision", optional_string(c.revision)},
      {"task_type", c.task_type},
      {"token_dim", c.token_dim},
      {"tokenizer_kwargs", c.tokenizer_kwargs},
      {"tokenizer_name_or_path", optional_string(c.tokenizer_name_or_path)},
  };
  if (c.modules_to_save) j["modules_to_save"] = *c.modules_to_save;
  for (const auto& [key, value] : c.other_fields) {
    PTLAB_CHECK(!j.contains(key),
                "cannot export PEFT adapter: other_fields repeats '{}', which PeftPromptConfig models; set the "
                "typed field instead",
                key);
    j[key] = value;
  }
  return j;
}

// Typed access to one adapter_config.json; every error names the file and the key.
PeftPromptConfig config_from_json(const nlohmann::json& json, const std::string& path) {
  PTLAB_CHECK(json.is_object(), "{}: expected a JSON object, got {}", path, json.type_name());
  ConfigReader r(json, path);
  PTLAB_CHECK(r.has("peft_type"), "{}: no 'peft_type'; this is not a PEFT adapter config", path);
  const std::string peft_type = r.string("peft_type");
  PTLAB_CHECK(peft_type == "PROMPT_TUNING",
              "{}: peft_type is {}; only PROMPT_TUNING adapters import here (P_TUNING and projected prefix "
              "adapters hold an encoder's output, PREFIX_TUNING per-layer key/value rows, not prompt embeddings)",
              path, peft_type);
  PeftPromptConfig c;
  PTLAB_CHECK(r.has("task_type"), "{}: 'task_type' is missing or null; prompt tuning needs one of {}", path,
              join_names(kTaskTypes));
  c.task_type = r.string("task_type");
  PTLAB_CHECK(is_one_of(c.task_type, kTaskTypes), "{}: unknown task_type '{}'{}; PEFT's task types: {}", path,
              c.task_type, option_hint(c.task_type, kTaskTypes), join_names(kTaskTypes));
  c.base_model_name_or_path = r.optional_string("base_model_name_or_path").value_or("");
  c.revision = r.optional_string("revision");
  c.inference_mode = r.boolean("inference_mode", true);
  c.num_virtual_tokens = r.integer("num_virtual_tokens");
  c.token_dim = r.integer("token_dim");
  c.num_transformer_submodules = r.integer("num_transformer_submodules", peft_num_transformer_submodules(c.task_type));
  c.num_attention_heads = r.integer("num_attention_heads", 0);
  c.num_layers = r.integer("num_layers", 0);
  PTLAB_CHECK(c.num_virtual_tokens > 0 && c.token_dim > 0 && c.num_transformer_submodules > 0,
              "{}: num_virtual_tokens ({}), token_dim ({}) and num_transformer_submodules ({}) must be positive", path,
              c.num_virtual_tokens, c.token_dim, c.num_transformer_submodules);
  c.prompt_tuning_init = r.optional_string("prompt_tuning_init").value_or("RANDOM");  // PEFT's default
  PTLAB_CHECK(is_one_of(c.prompt_tuning_init, kInitModes), "{}: unknown prompt_tuning_init '{}'{}; expected one of {}",
              path, c.prompt_tuning_init, option_hint(c.prompt_tuning_init, kInitModes), join_names(kInitModes));
  c.prompt_tuning_init_text = r.optional_string("prompt_tuning_init_text");
  c.tokenizer_name_or_path = r.optional_string("tokenizer_name_or_path");
  c.tokenizer_kwargs = r.object_or_null("tokenizer_kwargs");
  c.auto_mapping = r.object_or_null("auto_mapping");
  if (r.has("modules_to_save")) {
    const auto& v = r.raw("modules_to_save");
    bool ok = v.is_array() && std::all_of(v.begin(), v.end(), [](const auto& e) { return e.is_string(); });
    PTLAB_CHECK(ok, "{}: 'modules_to_save' must be null or a list of module names, got {}", path, v.dump());
    c.modules_to_save = v.get<std::vector<std::string>>();
  }
  c.other_fields = r.unread();  // includes a null modules_to_save, so it is written back as it was
  return c;
}

// The checks an adapter passes before anything is written (import makes the same ones, naming the file).
void check_exportable(const PeftPromptAdapter& a) {
  const auto& c = a.config;
  PTLAB_CHECK(is_one_of(c.task_type, kTaskTypes),
              "cannot export PEFT adapter: unknown task_type '{}'{}; expected one of {}", c.task_type,
              option_hint(c.task_type, kTaskTypes), join_names(kTaskTypes));
  PTLAB_CHECK(is_one_of(c.prompt_tuning_init, kInitModes),
              "cannot export PEFT adapter: unknown prompt_tuning_init '{}'{}; expected one of {}", c.prompt_tuning_init,
              option_hint(c.prompt_tuning_init, kInitModes), join_names(kInitModes));
  PTLAB_CHECK(c.prompt_tuning_init != "TEXT" || (c.prompt_tuning_init_text && c.tokenizer_name_or_path),
              "cannot export PEFT adapter: prompt_tuning_init TEXT needs prompt_tuning_init_text and "
              "tokenizer_name_or_path (PEFT requires both to rebuild the init)");
  PTLAB_CHECK(c.num_virtual_tokens > 0 && c.token_dim > 0 && c.num_transformer_submodules > 0,
              "cannot export PEFT adapter: num_virtual_tokens ({}), token_dim ({}) and num_transformer_submodules "
              "({}) must be positive",
              c.num_virtual_tokens, c.token_dim, c.num_transformer_submodules);
  PTLAB_CHECK(c.num_attention_heads >= 0 && c.num_layers >= 0,
              "cannot export PEFT adapter: num_attention_heads ({}) and num_layers ({}) must not be negative",
              c.num_attention_heads, c.num_layers);
  PTLAB_CHECK(c.tokenizer_kwargs.is_null() || c.tokenizer_kwargs.is_object(),
              "cannot export PEFT adapter: tokenizer_kwargs must be null or an object, got {}",
              c.tokenizer_kwargs.dump());
  PTLAB_CHECK(c.auto_mapping.is_null() || c.auto_mapping.is_object(),
              "cannot export PEFT adapter: auto_mapping must be null or an object, got {}", c.auto_mapping.dump());

  const int64_t rows = c.num_virtual_tokens * c.num_transformer_submodules;
  const auto& p = a.prompt_embeddings;
  PTLAB_CHECK(p.defined(), "cannot export PEFT adapter: prompt_embeddings is undefined; expected [{}, {}]", rows,
              c.token_dim);
  PTLAB_CHECK(at::isFloatingType(p.scalar_type()),
              "cannot export PEFT adapter: prompt_embeddings has dtype {}; "
              "expected a floating-point tensor (it is written as float32)",
              c10::toString(p.scalar_type()));
  PTLAB_CHECK(p.dim() == 2 && p.size(0) == rows && p.size(1) == c.token_dim,
              "cannot export PEFT adapter: prompt_embeddings has shape {} but the config says num_virtual_tokens "
              "{} x num_transformer_submodules {} rows of token_dim {}: expected [{}, {}]",
              fmt::format("[{}]", fmt::join(p.sizes(), ", ")), c.num_virtual_tokens, c.num_transformer_submodules,
              c.token_dim, rows, c.token_dim);
  for (const auto& [name, t] : a.extra) {
    PTLAB_CHECK(name != kPromptTensor, "cannot export PEFT adapter: extra must not hold '{}' (set prompt_embeddings)",
                name);
    PTLAB_CHECK(t.defined(), "cannot export PEFT adapter: extra tensor '{}' is undefined", name);
  }
}

std::string readme_text(const PeftPromptConfig& c) {
  return fmt::format(
      "---\nlibrary_name: peft\nbase_model: {}\n---\n\n"
      "# Prompt-tuning adapter\n\n"
      "Produced by ptlab {}, not by PEFT itself: {} virtual tokens x {} transformer submodule(s) of dimension {}, "
      "task type {}, init {}.\n\n"
      "Load it with Hugging Face PEFT:\n\n"
      "    from peft import PeftModel\n"
      "    model = PeftModel.from_pretrained(base_model, \"path/to/this/directory\")\n",
      c.base_model_name_or_path, PTLAB_VERSION, c.num_virtual_tokens, c.num_transformer_submodules, c.token_dim,
      c.task_type, c.prompt_tuning_init);
}

}  // namespace

std::string python_json_dumps(const nlohmann::json& value) {
  std::string out;
  python_dump(value, 0, out);
  return out;
}

void export_peft_prompt_adapter(const std::string& dir, const PeftPromptAdapter& adapter) {
  check_exportable(adapter);
  // prompt_embeddings: [n*S, d] float32, as PEFT saves it; extras keep their dtype.
  std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {kPromptTensor, adapter.prompt_embeddings.detach().to(at::kCPU, at::kFloat)}};
  for (const auto& [name, t] : adapter.extra) tensors.emplace_back(name, t.detach().to(at::kCPU));
  peft_files::write_files(dir, std::move(tensors), config_to_json(adapter.config), readme_text(adapter.config),
                          "PEFT adapter");
}

PeftPromptAdapter import_peft_prompt_adapter(const std::string& dir) {
  const std::string config_path = (std::filesystem::path(dir) / kConfigFile).string();
  PeftPromptAdapter adapter;
  adapter.config = config_from_json(peft_files::read_config(dir), config_path);
  const auto& c = adapter.config;
  const std::string weights_path = peft_files::weights_path(dir);
  SafetensorsFile file(weights_path);
  std::vector<std::string> names;
  for (const auto& r : file.records()) names.push_back(r.name);
  PTLAB_CHECK(file.contains(kPromptTensor),
              "{} has no tensor '{}' (it holds: {}); a prompt-tuning adapter stores "
              "its virtual token embeddings there",
              weights_path, kPromptTensor, names.empty() ? std::string("nothing") : join_names(names));
  const auto& rec = file.record(kPromptTensor);
  const at::ScalarType type = scalar_type_of(rec.dtype);
  PTLAB_CHECK(at::isFloatingType(type), "{}: '{}' has dtype {}; expected floating point (F32, F16, BF16 or F64)",
              weights_path, kPromptTensor, rec.dtype);
  const int64_t rows = c.num_virtual_tokens * c.num_transformer_submodules;
  PTLAB_CHECK(rec.shape == std::vector<int64_t>({rows, c.token_dim}),
              "{}: '{}' has shape [{}] but {} says num_virtual_tokens {} x num_transformer_submodules {} rows of "
              "token_dim {}: expected [{}, {}]",
              weights_path, kPromptTensor, fmt::join(rec.shape, ", "), kConfigFile, c.num_virtual_tokens,
              c.num_transformer_submodules, c.token_dim, rows, c.token_dim);
  adapter.prompt_embeddings = file.load(kPromptTensor).to(at::kFloat);  // [n*S, d]
  for (const auto& name : names)
    if (name != kPromptTensor) adapter.extra.emplace(name, file.load(name));
  return adapter;
}

std::string peft_task_type(const std::string& backbone_family, bool sequence_classification) {
  PTLAB_CHECK(is_one_of(backbone_family, kFamilies), "no PEFT task type for backbone family '{}'{}; known families: {}",
              backbone_family, option_hint(backbone_family, kFamilies), join_names(kFamilies));
  if (sequence_classification) return "SEQ_CLS";
  if (backbone_family == "t5") return "SEQ_2_SEQ_LM";
  if (backbone_family == "bert") return "FEATURE_EXTRACTION";
  return "CAUSAL_LM";
}

int64_t peft_num_transformer_submodules(const std::string& task_type) { return task_type == "SEQ_2_SEQ_LM" ? 2 : 1; }

}  // namespace ptlab::io
