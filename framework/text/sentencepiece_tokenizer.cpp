#include "framework/text/sentencepiece_tokenizer.h"

#include "framework/core/error.h"
#include "framework/text/sentencepiece_library.h"
#include "framework/text/unicode.h"

#include <sentencepiece_processor.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ptlab::text {
namespace {

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // "▁" U+2581

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::unique_ptr<sentencepiece::SentencePieceProcessor> load_processor(const std::string& path,
                                                                      const std::string& serialized) {
  auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  auto status = sp->LoadFromSerializedProto(serialized);
  const bool gguf = path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0;
  PTLAB_CHECK(status.ok(), "cannot load the SentencePiece model {}: {} ({})", path, status.ToString(),
              gguf ? "built from its tokenizer.ggml.* metadata" : "is it a SentencePiece .model file?");
  return sp;
}

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer() = default;
SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::from_model_file(const std::string& path,
                                                                                const TokenizerConfig& config) {
  std::ifstream in(path, std::ios::binary);
  PTLAB_CHECK(in.good(), "cannot open {}", path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string serialized = buffer.str();
  PTLAB_CHECK(!serialized.empty(), "{} is empty: a SentencePiece model needs its pieces (empty vocabulary)", path);
  return from_serialized_model(serialized, path, config);
}

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::from_serialized_model(const std::string& serialized,
                                                                                      const std::string& path,
                                                                                      const TokenizerConfig& config) {
  PTLAB_CHECK(!serialized.empty(), "{}: a SentencePiece model needs its pieces (empty vocabulary)", path);
  load_sentencepiece_library();

  std::unique_ptr<SentencePieceTokenizer> tok(new SentencePieceTokenizer());
  tok->sp_ = load_processor(path, serialized);
  PTLAB_CHECK(tok->sp_->GetPieceSize() > 0, "{} has no pieces (empty vocabulary)", path);

  const std::string& cls = config.tokenizer_class;
  const bool t5 = starts_with(cls, "T5") || starts_with(cls, "MT5") || starts_with(cls, "UMT5") ||
                  (cls.empty() && std::filesystem::path(path).filename() == "spiece.model");
  tok->flavor_ = t5 ? Flavor::kT5 : Flavor::kLlama;
  tok->legacy_ = config.legacy.value_or(true);
  tok->add_prefix_space_ = config.add_prefix_space.value_or(true);
  tok->spaces_between_special_ = config.spaces_between_special_tokens.value_or(true);
  tok->clean_up_ = config.clean_up_tokenization_spaces.value_or(t5);
  tok->add_bos_ = !t5 && config.add_bos_token.value_or(true);
  tok->add_eos_ = !t5 && config.add_eos_token.value_or(false);
  if (!tok->legacy_) {
    // transformers turns the model's add_dummy_prefix off for legacy=false. Appending a serialized
    // ModelProto{normalizer_spec (field 3) {add_dummy_prefix (field 3) = false}} merges into the model,
    // which is what its protobuf MergeFrom does.
    tok->sp_no_dummy_ = load_processor(path, serialized + std::string("\x1A\x02\x18\x00", 4));
  }

  TokenizerConfig cfg = config;
  std::map<std::string, std::string> defaults;
  if (t5) {
    defaults = {{"eos", "</s>"}, {"unk", "<unk>"}, {"pad", "<pad>"}};
    // T5Tokenizer's extra ids, unless the side files define them.
    const int extra = config.extra_ids.value_or(100);
    bool named = false;
    for (const auto& s : cfg.additional_special_tokens) named = named || s.find("<extra_id_") != std::string::npos;
    const int pieces = tok->sp_->GetPieceSize();
    for (int i = 0; i < extra; ++i) {
      const std::string name = fmt::format("<extra_id_{}>", i);
      if (!named) cfg.additional_special_tokens.push_back(name);
      bool known = false;
      for (const auto& t : cfg.added_tokens) known = known || t.content == name;
      if (known) continue;
      AddedToken t;
      t.content = name;
      t.id = pieces - 1 + extra - i;
      t.special = t.lstrip = t.rstrip = true;
      cfg.added_tokens.push_back(t);
    }
  } else {
    defaults = {{"bos", "<s>"}, {"eos", "</s>"}, {"unk", "<unk>"}};
  }
  SentencePieceTokenizer* raw = tok.get();
  tok->register_tokens(
      cfg, defaults, [raw](const std::string& s) { return raw->piece_id(s); }, tok->sp_->GetPieceSize());
  // The strings of the special-token roles (transformers' all_special_tokens), as register_tokens chose them.
  auto role_string = [&](const char* role) -> std::string {
    if (cfg.has_special(role)) return cfg.special(role).value_or("");
    auto it = defaults.find(role);
    return it == defaults.end() ? "" : it->second;
  };
  tok->unk_token_ = role_string("unk");
  for (const char* role : {"bos", "eos", "unk", "pad", "sep", "cls", "mask"})
    if (!role_string(role).empty()) tok->all_special_tokens_.insert(role_string(role));
  for (const auto& s : cfg.additional_special_tokens) {
    tok->all_special_tokens_.insert(s);
    tok->additional_special_.insert(s);
  }

  if (!t5) {
    std::vector<std::pair<int, std::string>> bos, eos;
    const SpecialTokenIds& ids = tok->special_ids_;
    if (tok->add_bos_ && ids.bos >= 0) bos.emplace_back(ids.bos, tok->id_to_token(ids.bos));
    if (tok->add_eos_ && ids.eos >= 0) eos.emplace_back(ids.eos, tok->id_to_token(ids.eos));
    tok->post_processor_ = PostProcessor::surround(bos, eos, bos, eos, 1);
  }
  return tok;
}

int SentencePieceTokenizer::piece_count() const { return sp_->GetPieceSize(); }

int SentencePieceTokenizer::piece_id(const std::string& piece) const {
  const int id = sp_->PieceToId(piece);
  return id >= 0 && id < sp_->GetPieceSize() && sp_->IdToPiece(id) == piece ? id : -1;
}

int SentencePieceTokenizer::token_to_id(std::string_view token) const {
  if (const AddedToken* t = added_.find(token)) return t->id;
  return piece_id(std::string(token));
}

std::string SentencePieceTokenizer::id_to_token(int id) const {
  if (const AddedToken* t = added_.find(id)) return t->content;
  PTLAB_CHECK(id >= 0 && id < sp_->GetPieceSize(), "token id {} is not in the vocabulary of {} (ids 0..{})", id,
              source_, vocab_size() - 1);
  return sp_->IdToPiece(id);
}

int SentencePieceTokenizer::vocab_size() const { return std::max(sp_->GetPieceSize(), added_.max_id() + 1); }

void SentencePieceTokenizer::encode_chunk(const sentencepiece::SentencePieceProcessor& sp, std::string_view chunk,
                                          std::size_t base, Encoding& out) const {
  sentencepiece::ImmutableSentencePieceText spt;
  auto status = sp.Encode(chunk, spt.mutable_proto());
  PTLAB_CHECK(status.ok(), "SentencePiece could not encode the text: {}", status.ToString());
  for (const auto& piece : spt.pieces()) {
    out.ids.push_back(static_cast<int>(piece.id()));
    out.offsets.emplace_back(base + piece.begin(), base + piece.end());
  }
}

Encoding SentencePieceTokenizer::encode_text(std::string_view text) const {
  Encoding out;
  if (legacy_ || text.empty()) {
    for (const auto& seg : added_.split(text)) {
      if (seg.token != nullptr) {
        out.ids.push_back(seg.token->id);
        out.offsets.emplace_back(seg.begin, seg.end);
      } else {
        encode_chunk(*sp_, text.substr(seg.begin, seg.end - seg.begin), seg.begin, out);
      }
    }
  } else {
    // transformers' non-legacy tokenize(): "▁" becomes a space, one "▁" goes in front, and a chunk
    // starting with a space is encoded behind the unknown token (then that token's pieces are dropped) so
    // that the model cannot treat its space as the start of the text.
    std::string work = replace_all(std::string(text), kSpaceSymbol, " ");
    if (add_prefix_space_) work = std::string(kSpaceSymbol) + work;
    Encoding probe;
    encode_chunk(*sp_no_dummy_, unk_token_, 0, probe);
    const std::size_t unk_length = probe.ids.size();
    for (const auto& seg : added_.split(work)) {
      if (seg.token != nullptr) {
        out.ids.push_back(seg.token->id);
        continue;
      }
      std::string_view chunk = std::string_view(work).substr(seg.begin, seg.end - seg.begin);
      Encoding piece;
      if (starts_with(chunk, kSpaceSymbol) || starts_with(chunk, " ")) {
        encode_chunk(*sp_no_dummy_, unk_token_ + std::string(chunk), 0, piece);
        if (piece.ids.size() >= unk_length) piece.ids.erase(piece.ids.begin(), piece.ids.begin() + unk_length);
      } else {
        encode_chunk(*sp_no_dummy_, chunk, 0, piece);
      }
      out.ids.insert(out.ids.end(), piece.ids.begin(), piece.ids.end());
    }
    if (out.ids.size() > 1 && id_to_token(out.ids[0]) == kSpaceSymbol &&
        all_special_tokens_.count(id_to_token(out.ids[1])))
      out.ids.erase(out.ids.begin());
    out.offsets.clear();
  }
  out.tokens.reserve(out.ids.size());
  for (int id : out.ids) out.tokens.push_back(id_to_token(id));
  return out;
}

Encoding SentencePieceTokenizer::add_special_tokens(const Encoding& a, const Encoding* b) const {
  if (flavor_ == Flavor::kLlama) return post_processor_.apply(a, b);
  // T5Tokenizer: </s> after each sequence unless it already ends with one; token type ids all 0.
  const int eos = special_ids_.eos;
  auto with_eos = [&](const Encoding& e) {
    Encoding r = e;
    if (eos >= 0 && (r.ids.empty() || r.ids.back() != eos)) {
      r.ids.push_back(eos);
      r.tokens.push_back(id_to_token(eos));
      if (r.offsets.size() + 1 == r.ids.size()) r.offsets.emplace_back(0, 0);
    }
    return r;
  };
  const Encoding a_eos = with_eos(a);
  Encoding out;
  if (b == nullptr) {
    out = PostProcessor().apply(a_eos, nullptr);
  } else {
    const Encoding b_eos = with_eos(*b);
    out = PostProcessor().apply(a_eos, &b_eos);
  }
  out.type_ids.assign(out.ids.size(), 0);
  return out;
}

std::string SentencePieceTokenizer::decode_pieces(const std::vector<std::string>& pieces) const {
  if (pieces.empty()) return "";
  std::string text;
  auto status = sp_->Decode(pieces, &text);
  PTLAB_CHECK(status.ok(), "SentencePiece could not decode: {}", status.ToString());
  return text;
}

std::string SentencePieceTokenizer::tokens_to_string(std::vector<std::string> tokens) const {
  // LlamaTokenizer / T5Tokenizer.convert_tokens_to_string.
  if (add_prefix_space_ && starts_with(tokens[0], kSpaceSymbol)) tokens[0] = tokens[0].substr(kSpaceSymbol.size());
  std::string out;
  std::vector<std::string> current;
  bool prev_special = false;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string& token = tokens[i];
    if (all_special_tokens_.count(token)) {
      const bool space = flavor_ == Flavor::kT5 ? !prev_special : !prev_special && i != 0 && legacy_;
      if (space) out += ' ';
      out += decode_pieces(current) + token;
      prev_special = true;
      current.clear();
    } else {
      if (flavor_ == Flavor::kLlama && prev_special && i == 1 && add_prefix_space_ && !starts_with(token, kSpaceSymbol))
        out += ' ';
      current.push_back(token);
      prev_special = false;
    }
  }
  out += decode_pieces(current);
  return flavor_ == Flavor::kT5 ? std::string(python_strip(out)) : out;
}

std::string SentencePieceTokenizer::decode_ids(const std::vector<int>& ids, bool skip_special_tokens,
                                               bool clean_up) const {
  // PreTrainedTokenizer._decode: "legacy" added tokens (not special, or extra special tokens beyond the
  // model's pieces, like T5's extra ids) are separate words; the runs between them are converted together.
  std::vector<std::string> sub_texts, run;
  for (int id : ids) {
    if (skip_special_tokens && is_special(id)) continue;
    std::string token = id_to_token(id);
    const AddedToken* added = added_.find(id);
    const bool legacy =
        added != nullptr && (!added->special || (additional_special_.count(token) && id >= piece_count()));
    if (legacy) {
      if (!run.empty()) {
        std::string s = tokens_to_string(std::move(run));
        if (!s.empty()) sub_texts.push_back(std::move(s));
        run.clear();
      }
      sub_texts.push_back(std::move(token));
    } else {
      run.push_back(std::move(token));
    }
  }
  if (!run.empty()) sub_texts.push_back(tokens_to_string(std::move(run)));
  return join_decoded_runs(sub_texts, spaces_between_special_, clean_up);
}

}  // namespace ptlab::text
