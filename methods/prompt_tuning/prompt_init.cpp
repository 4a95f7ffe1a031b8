#include "methods/prompt_tuning/prompt_init.h"

#include <algorithm>

#include "framework/core/error.h"
#include "framework/core/suggest.h"
#include "framework/io/peft_adapter.h"
#include "framework/io/safetensors.h"

#include <filesystem>

namespace ptlab::methods {
namespace {

std::string shape_text(at::IntArrayRef shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// Rows 0..n-1 of a stored PEFT table [n * S, d] (or a ptlab [n, d] one) as [n, d] float32, or an Error.
at::Tensor take_rows(const at::Tensor& stored, int64_t n, int64_t d, bool encoder_decoder, const std::string& what,
                     const std::string& where) {
  const bool rows_ok = stored.dim() == 2 && (stored.size(0) == n || (encoder_decoder && stored.size(0) == 2 * n));
  PTLAB_CHECK(
      rows_ok && stored.size(1) == d && stored.is_floating_point(),
      "{}: {} holds a prompt of shape {}, but this prompt is [{}, {}] ({} virtual tokens x hidden size {}{}); "
      "set the length to match or pick a file made for this model",
      where, what, shape_text(stored.sizes()), n, d, n, d,
      encoder_decoder ? fmt::format("; PEFT's [{}, {}] for encoder-decoder models is accepted too", 2 * n, d) : "");
  return stored.narrow(0, 0, n).to(at::kFloat).contiguous();  // [n, d]
}

}  // namespace

at::Tensor uniform_prompt(int64_t n, int64_t d, double range, at::Generator& generator) {
  PTLAB_ASSERT(n >= 1 && d >= 1 && range > 0, "uniform_prompt({}, {}, {})", n, d, range);
  return at::empty({n, d}, at::kFloat).uniform_(-range, range, generator);  // [n, d]
}

at::Tensor normal_prompt(int64_t n, int64_t d, double std, at::Generator& generator) {
  PTLAB_ASSERT(n >= 1 && d >= 1 && std > 0, "normal_prompt({}, {}, {})", n, d, std);
  return at::empty({n, d}, at::kFloat).normal_(0.0, std, generator);  // [n, d]
}

at::Tensor sampled_vocab_ids(int64_t n, int64_t vocab, int64_t top_k, at::Generator& generator,
                             const std::string& where) {
  PTLAB_CHECK(top_k >= 0, "{}: sample_top_k must be >= 0 (0 = the whole vocabulary), got {}", where, top_k);
  // A k beyond the vocabulary (the paper's 5,000 on a 512-token model) samples the whole vocabulary.
  const int64_t population = top_k == 0 ? vocab : std::min(top_k, vocab);
  if (n <= population)  // without replacement: n distinct rows
    return at::randperm(population, generator, at::TensorOptions().dtype(at::kLong)).narrow(0, 0, n).contiguous();
  return at::randint(population, {n}, generator, at::TensorOptions().dtype(at::kLong));  // [n]
}

at::Tensor sampled_vocab_prompt(const at::Tensor& word_embeddings, int64_t n, int64_t top_k, at::Generator& generator,
                                const std::string& where) {
  const at::Tensor ids = sampled_vocab_ids(n, word_embeddings.size(0), top_k, generator, where);     // [n]
  return word_embeddings.detach().index_select(0, ids.to(word_embeddings.device())).to(at::kFloat);  // [n, d]
}

std::vector<int64_t> text_init_ids(const text::Tokenizer& tokenizer, const std::string& text, int64_t n,
                                   const std::string& where) {
  PTLAB_ASSERT(n >= 1, "text_init_ids for {} tokens", n);
  const text::Encoding encoding = tokenizer.encode(text, /*add_special_tokens=*/true);
  PTLAB_CHECK(!encoding.ids.empty(), "{}: '{}' gives no tokens with the tokenizer of {}; give some words", where, text,
              tokenizer.source());
  std::vector<int64_t> ids;
  ids.reserve(n);
  for (int64_t i = 0; i < n; ++i) ids.push_back(encoding.ids[i % encoding.ids.size()]);  // cut, or repeat cyclically
  return ids;
}

at::Tensor embedding_rows(const at::Tensor& word_embeddings, const std::vector<int64_t>& ids,
                          const std::string& where) {
  const int64_t vocab = word_embeddings.size(0);
  for (int64_t id : ids)
    PTLAB_CHECK(id >= 0 && id < vocab,
                "{}: token id {} is outside the model's {} embedding rows (tokenizer and model "
                "do not match)",
                where, id, vocab);
  const at::Tensor index = at::tensor(ids, at::kLong).to(word_embeddings.device());  // [n]
  return word_embeddings.detach().index_select(0, index).to(at::kFloat);             // [n, d]
}

at::Tensor class_label_prompt(const at::Tensor& word_embeddings, const tasks::Verbalizer& verbalizer, int64_t n,
                              int64_t top_k, at::Generator& generator, const std::string& where) {
  const at::Tensor labels = verbalizer.class_label_embeddings(word_embeddings.detach());  // [C, d] float32
  const int64_t classes = labels.size(0);
  PTLAB_CHECK(classes <= n,
              "{}: class_label init puts one class per virtual token, but the task has {} classes and the "
              "prompt only {} tokens; use a length of at least {}",
              where, classes, n, classes);
  if (classes == n) return labels;
  const at::Tensor rest = sampled_vocab_prompt(word_embeddings, n - classes, top_k, generator, where);  // [n-C, d]
  return at::cat({labels.to(rest.device()), rest}, 0);                                                  // [n, d]
}

at::Tensor file_prompt(const std::string& path, int64_t n, int64_t d, bool encoder_decoder, const std::string& where) {
  namespace fs = std::filesystem;
  std::error_code ec;
  PTLAB_CHECK(fs::exists(path, ec),
              "{}: '{}' does not exist; give a ptlab prompt.safetensors or a PEFT adapter "
              "directory",
              where, path);
  if (fs::is_directory(path, ec)) {
    io::PeftPromptAdapter adapter;
    try {
      adapter = io::import_peft_prompt_adapter(path);
    } catch (const Error& e) {
      PTLAB_FAIL("{}: {}", where, e.what());
    }
    return take_rows(adapter.prompt_embeddings, n, d, encoder_decoder,
                     fmt::format("the PEFT adapter {} ({} virtual tokens x {} submodules)", path,
                                 adapter.config.num_virtual_tokens, adapter.config.num_transformer_submodules),
                     where);
  }
  io::SafetensorsFile file = [&] {
    try {
      return io::SafetensorsFile(path);
    } catch (const Error& e) {
      PTLAB_FAIL("{}: {}", where, e.what());
    }
  }();
  for (const char* name : {"prompt", "prompt_embeddings"}) {
    if (file.contains(name))
      return take_rows(file.load(name), n, d, encoder_decoder && std::string(name) == "prompt_embeddings",
                       fmt::format("tensor '{}' of {}", name, path), where);
  }
  std::vector<std::string> names;
  for (const auto& record : file.records()) names.push_back(record.name);
  PTLAB_FAIL(
      "{}: {} has no tensor 'prompt' (a ptlab prompt file) nor 'prompt_embeddings' (a PEFT adapter); it holds: {}",
      where, path, names.empty() ? std::string("nothing") : join_names(names));
}

}  // namespace ptlab::methods
