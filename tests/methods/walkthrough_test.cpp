// docs/adding-a-method.md, compiled and run: the walkthrough's method (tests/methods/walkthrough/) is
// registered, built from its YAML, trained a few steps and saved like any method; and every code block of
// the document is checked against these files, so the walkthrough shows code that builds.
#include "tests/methods/walkthrough/text_offset.h"

#include "tasks/batch.h"
#include "tasks/objective.h"
#include "tests/methods/methods_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/optim/adam.h>

#include <fstream>
#include <mutex>
#include <sstream>

namespace ptlab::methods::walkthrough {
namespace {

using ::testing::HasSubstr;

// The registration line: a built-in method has it in register_builtin_methods() (methods/builtin_methods.cpp).
void register_text_offset() {
  static std::once_flag once;
  std::call_once(once, [] {
    method_registry().add("text_offset", "a hand-written prompt plus one trained offset vector",
                          {[](config::Reader reader, const MethodContext& context) -> std::unique_ptr<Method> {
                            return std::make_unique<TextOffset>(TextOffsetConfig::decode(reader), context);
                          }});
  });
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::string kDir = std::string(PTLAB_SOURCE_DIR) + "/tests/methods/walkthrough/";

std::unique_ptr<Method> build(const testing::Fixture& f, const std::string& yaml) {
  register_builtin_methods();
  register_text_offset();
  return testing::make_method_from(yaml, *f.context);
}

tasks::Batch batch_of(const testing::Fixture& f, const Method& method, const tasks::Objective& objective) {
  std::vector<tasks::RenderedExample> rendered;
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"a good film", "positive"}, {"the plot was rather dull and slow", "negative"}, {"fun", "positive"}};
  for (const auto& [text, label] : rows) {
    data::Example e;
    e.text_a = text;
    e.label_name = label;
    tasks::RenderedExample r = f.task->encode(e, tasks::Purpose::kTrain);
    tasks::prepend_soft_tokens(r, method.front_soft_tokens(f.task->prompt()),
                               tasks::Template::placeholder_id(f.tokenizer()));
    rendered.push_back(std::move(r));
  }
  return objective.collate(rendered);
}

TEST(Walkthrough, TextOffsetBuildsFromItsYamlTrainsAndSaves) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kSentimentTask);
  auto method = build(f, read_text(kDir + "text_offset.yaml"));
  auto& offset = dynamic_cast<TextOffset&>(*method);
  EXPECT_EQ(method->name(), "text_offset");
  const NamedTensors trainable = method->trainable_parameters();
  ASSERT_EQ(trainable.size(), 1u);  // the words are a buffer: only the offset trains
  EXPECT_EQ(trainable[0].first, "offset");
  EXPECT_EQ(trainable[0].second.numel(), f.backbone().info().hidden_size);

  tasks::Objective objective(*f.task, f.backbone().info());
  const tasks::Batch batch = batch_of(f, *method, objective);
  auto loss_of = [&] {
    models::BackboneInput in = method->prompt(batch);
    objective.request(batch, in);
    return objective.loss(f.backbone().forward(in), batch);
  };
  // Trains: the offset gets the gradient (the backbone none) and Adam lowers the loss.
  torch::optim::Adam adam({offset.offset()}, torch::optim::AdamOptions(0.05));
  const double first = loss_of().item<double>();
  for (int step = 0; step < 5; ++step) {
    adam.zero_grad();
    loss_of().backward();
    for (const auto& p : f.backbone().parameters()) EXPECT_FALSE(p.grad().defined());
    adam.step();
  }
  const double last = loss_of().item<double>();
  EXPECT_LT(last, first);

  // Saves and loads: prompt.safetensors holds the offset; a fresh method loading it scores the same.
  auto fresh = build(f, read_text(kDir + "text_offset.yaml"));
  fresh->import_state(method->export_state(), "walkthrough");
  EXPECT_TRUE(at::equal(dynamic_cast<TextOffset&>(*fresh).offset(), offset.offset()));
  {
    at::NoGradGuard no_grad;
    models::BackboneInput in = fresh->prompt(batch);
    objective.request(batch, in);
    EXPECT_NEAR(objective.loss(f.backbone().forward(in), batch).item<double>(), last, 1e-6);
  }
}

TEST(Walkthrough, TextOffsetBadInputs) {
  PTLAB_METHOD_FIXTURE(f, "gpt2", testing::kSentimentTask);
  EXPECT_THAT(testing::error_of([&] { build(f, "{name: text_offset}"); }), HasSubstr("method.text"));
  EXPECT_THAT(testing::error_of([&] { build(f, "{name: text_offset, text: ''}"); }),
              HasSubstr("method.text: the prompt needs words, got an empty string"));
  EXPECT_THAT(testing::error_of([&] { build(f, "{name: text_offset, text: hi, lenght: 3}"); }),
              HasSubstr("unknown key 'method.lenght'"));
}

// Every ```cpp block of docs/adding-a-method.md appears verbatim in the walkthrough's code, every ```yaml
// block in its YAML or configs/method files, so the document cannot show code that does not build.
TEST(Walkthrough, EveryCodeBlockOfTheDocumentIsCompiledCode) {
  const std::string doc = read_text(std::string(PTLAB_SOURCE_DIR) + "/docs/adding-a-method.md");
  const std::string code = read_text(kDir + "text_offset.h") + read_text(kDir + "text_offset.cpp") +
                           read_text(std::string(PTLAB_SOURCE_DIR) + "/tests/methods/walkthrough_test.cpp") +
                           read_text(std::string(PTLAB_SOURCE_DIR) + "/methods/CMakeLists.txt") +
                           read_text(std::string(PTLAB_SOURCE_DIR) + "/tests/methods/CMakeLists.txt");
  const std::string yaml = read_text(kDir + "text_offset.yaml");
  int blocks = 0;
  std::size_t at = 0;
  while ((at = doc.find("```", at)) != std::string::npos) {
    const std::size_t eol = doc.find('\n', at);
    const std::string lang = doc.substr(at + 3, eol - at - 3);
    const std::size_t end = doc.find("```", eol);
    ASSERT_NE(end, std::string::npos) << "an unclosed code block";
    const std::string body = doc.substr(eol + 1, end - eol - 1);
    if (lang == "cpp" || lang == "cmake") {
      EXPECT_NE(code.find(body), std::string::npos) << "a " << lang << " block of the document is not in the code:\n"
                                                    << body;
      ++blocks;
    } else if (lang == "yaml") {
      EXPECT_NE(yaml.find(body), std::string::npos) << "a yaml block is not in text_offset.yaml:\n" << body;
      ++blocks;
    }
    at = end + 3;
  }
  EXPECT_GE(blocks, 5);
}

}  // namespace
}  // namespace ptlab::methods::walkthrough
