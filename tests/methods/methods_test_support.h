// Test support for tests/methods: the real tiny models and tokenizers of ../shared (loaded once per
// process; tests skip when ../shared is absent), tasks and methods built from YAML snippets, and the
// message of a ptlab::Error.
#pragma once

#include "framework/config/origins.h"
#include "framework/config/reader.h"
#include "framework/core/error.h"
#include "framework/models/backbone.h"
#include "framework/models/loader.h"
#include "framework/text/sentencepiece_library.h"
#include "framework/text/tokenizer.h"
#include "methods/method.h"
#include "tasks/task.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

namespace ptlab::methods::testing {

inline std::string shared_path(const std::string& relative) { return std::string(PTLAB_SHARED_DIR) + "/" + relative; }

/// The HF model directory of a golden family ("gpt2", "llama", "t5", "bert", "gpt_neox") or of
/// "stories260K" (../shared/models/stories260K).
inline std::string model_dir(const std::string& family) {
  return family == "stories260K" ? shared_path("models/stories260K") : shared_path("golden/models/" + family);
}

/// A loaded model and its tokenizer, kept for the whole test process (read-only use, except tests that
/// unfreeze it must freeze it again).
struct SharedModel {
  std::shared_ptr<models::Backbone> backbone;
  std::unique_ptr<text::Tokenizer> tokenizer;
};

/// The model in `dir` (a path under ../shared), or nullptr when it is absent or needs SentencePiece
/// that this build lacks.
inline SharedModel* shared_model(const std::string& dir) {
  static std::map<std::string, std::unique_ptr<SharedModel>> cache;
  auto it = cache.find(dir);
  if (it != cache.end()) return it->second.get();
  std::unique_ptr<SharedModel> model;
  const bool sentencepiece =
      std::filesystem::exists(dir + "/tokenizer.model") || std::filesystem::exists(dir + "/spiece.model");
  if (std::filesystem::exists(dir + "/config.json") && (!sentencepiece || text::sentencepiece_supported())) {
    model = std::make_unique<SharedModel>();
    model->backbone = models::load_backbone(dir);
    model->tokenizer = text::load_tokenizer(dir);
  }
  return cache.emplace(dir, std::move(model)).first->second.get();
}

/// A task of `backbone`'s kind from a `task:` YAML mapping.
inline std::unique_ptr<tasks::Task> make_task(const std::string& yaml, const text::Tokenizer& tokenizer,
                                              const models::BackboneInfo& backbone) {
  static config::Origins origins;  // Readers keep a pointer to it
  YAML::Node node = YAML::Load(yaml);
  origins.set_subtree("task", node, "configs/task/test.yaml");
  tasks::TaskConfig config = tasks::TaskConfig::decode(config::Reader(node, "task", origins), origins, "test");
  return tasks::make_task(config, tokenizer, backbone);
}

/// The method of a `method:` YAML mapping (origin "configs/method/test.yaml").
inline std::unique_ptr<Method> make_method_from(const std::string& yaml, const MethodContext& context) {
  static config::Origins origins;
  YAML::Node node = YAML::Load(yaml);
  origins.set_subtree("method", node, "configs/method/test.yaml");
  return make_method(config::Reader(node, "method", origins), context);
}

/// The message of the ptlab::Error `fn` throws (a test failure when it throws none).
template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ptlab::Error thrown";
  return "";
}

/// A model, its tokenizer and a task built for it, bundled as a MethodContext.
struct Fixture {
  SharedModel* model = nullptr;
  std::unique_ptr<tasks::Task> task;
  std::unique_ptr<MethodContext> context;

  models::Backbone& backbone() const { return *model->backbone; }
  const text::Tokenizer& tokenizer() const { return *model->tokenizer; }
};

/// The model `family` with a task from `task_yaml` and seed `seed`; model == nullptr when ../shared is absent.
inline Fixture fixture(const std::string& family, const std::string& task_yaml, uint64_t seed = 0) {
  Fixture f;
  f.model = shared_model(model_dir(family));
  if (f.model == nullptr) return f;
  f.task = make_task(task_yaml, *f.model->tokenizer, f.model->backbone->info());
  f.context = std::make_unique<MethodContext>(MethodContext{*f.model->backbone, *f.model->tokenizer, *f.task, seed});
  return f;
}

inline constexpr const char* kLmTask = "{type: lm, template: '{text_a}', max_length: 0}";
inline constexpr const char* kSentimentTask =
    "{type: classification, template: '{text_a} It was {mask}.', "
    "verbalizer: {label_words: {negative: [bad], positive: [good]}}}";

}  // namespace ptlab::methods::testing

/// Declares `Fixture var` for model `family` and task `task_yaml`, or skips the test.
#define PTLAB_METHOD_FIXTURE(var, family, task_yaml)                                              \
  ::ptlab::methods::testing::Fixture var = ::ptlab::methods::testing::fixture(family, task_yaml); \
  if (var.model == nullptr)                                                                       \
  GTEST_SKIP() << "../shared not found (or SentencePiece unavailable): " << ::ptlab::methods::testing::model_dir(family)
