#include "tasks/template.h"

#include "framework/core/error.h"
#include "tests/tasks/tasks_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ptlab::tasks {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<int64_t> ids_of(const text::Tokenizer& tok, const std::string& s, bool special = false) {
  std::vector<int> ids = tok.encode(s, special).ids;
  return {ids.begin(), ids.end()};
}

std::vector<int64_t> concat(std::initializer_list<std::vector<int64_t>> parts) {
  std::vector<int64_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<int64_t> slice(const std::vector<int64_t>& v, std::size_t b, std::size_t e) {
  return {v.begin() + static_cast<std::ptrdiff_t>(b), v.begin() + static_cast<std::ptrdiff_t>(e)};
}

data::Example example(std::string a, std::string b = "") {
  data::Example ex;
  ex.text_a = std::move(a);
  ex.text_b = std::move(b);
  ex.source.file = "train.tsv";
  ex.source.line = 7;
  return ex;
}

// The message of the Error `fn` throws (fails the test when it throws nothing).
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

// ---- parsing -------------------------------------------------------------------------------------------

TEST(TemplateParse, LesterPlusLmBff) {
  Template t = Template::parse("{soft:20} {text_a} It was {mask} .", "sst2");
  ASSERT_EQ(t.parts().size(), 5u);
  EXPECT_EQ(t.parts()[0].kind, SlotKind::kSoft);
  EXPECT_EQ(t.parts()[0].soft_count, 20);
  EXPECT_EQ(t.parts()[0].soft_group, 0);
  EXPECT_EQ(t.parts()[1].kind, SlotKind::kField);
  EXPECT_EQ(t.parts()[1].field, TemplateField::kTextA);
  EXPECT_TRUE(t.parts()[1].space_before);
  EXPECT_TRUE(t.parts()[1].shortenable);
  EXPECT_EQ(t.parts()[2].kind, SlotKind::kText);
  EXPECT_EQ(t.parts()[2].text, "It was");  // the separating spaces went to the neighbours
  EXPECT_TRUE(t.parts()[2].space_before);
  EXPECT_EQ(t.parts()[3].kind, SlotKind::kMask);
  EXPECT_TRUE(t.parts()[3].space_before);
  EXPECT_EQ(t.parts()[4].text, ".");
  EXPECT_TRUE(t.parts()[4].space_before);
  EXPECT_EQ(t.parts()[2].column, 20);
  EXPECT_EQ(t.num_soft_tokens(), 20);
  EXPECT_TRUE(t.has_mask());
  EXPECT_EQ(t.mask_spacing(), Spacing::kSpace);
  EXPECT_EQ(t.name(), "sst2");
}

TEST(TemplateParse, PtuningWithTwoSoftGroups) {
  Template t = Template::parse("{text_a} {soft:3} Question: {text_b} ? {soft:3} Answer: {mask}");
  EXPECT_EQ(t.num_soft_groups(), 2);
  EXPECT_THAT(t.soft_group_sizes(), ElementsAre(3, 3));
  EXPECT_EQ(t.num_soft_tokens(), 6);
  EXPECT_TRUE(t.uses(TemplateField::kTextB));
  EXPECT_FALSE(t.uses(TemplateField::kTarget));
  EXPECT_EQ(t.parts()[2].text, "Question:");
  EXPECT_EQ(t.parts()[5].soft_group, 1);
  EXPECT_EQ(t.mask_spacing(), Spacing::kSpace);
}

TEST(TemplateParse, SpecialsAndSoftWithoutSpaces) {
  Template t = Template::parse("{bos}{soft:5}{text_a}{sep}{text_b}{eos}");
  ASSERT_EQ(t.parts().size(), 6u);
  for (const auto& p : t.parts()) EXPECT_FALSE(p.space_before) << p.describe();
  EXPECT_TRUE(t.uses(SpecialToken::kBos));
  EXPECT_TRUE(t.uses(SpecialToken::kSep));
  EXPECT_FALSE(t.uses(SpecialToken::kCls));
  EXPECT_FALSE(t.has_mask());
  EXPECT_EQ(t.parts()[3].describe(), "{sep}");
}

TEST(TemplateParse, FieldsOptionsAndDefaults) {
  Template t = Template::parse(
      "{meta.title} {label} {target} {tokens} {text_a:fixed} {label:shortenable} "
      "{ text_b : fixed , shortenable }");
  const auto& p = t.parts();
  ASSERT_EQ(p.size(), 7u);
  EXPECT_EQ(p[0].field, TemplateField::kMeta);
  EXPECT_EQ(p[0].meta_key, "title");
  EXPECT_TRUE(p[0].shortenable);
  EXPECT_FALSE(p[1].shortenable);  // {label}
  EXPECT_FALSE(p[2].shortenable);  // {target}
  EXPECT_TRUE(p[3].shortenable);   // {tokens}
  EXPECT_FALSE(p[4].shortenable);  // {text_a:fixed}
  EXPECT_TRUE(p[5].shortenable);   // {label:shortenable}
  EXPECT_TRUE(p[6].shortenable);   // the last option wins
  EXPECT_EQ(p[0].describe(), "{meta.title}");
}

TEST(TemplateParse, EscapedBracesAreText) {
  Template t = Template::parse("{{json}}: {text_a} }}{{");
  ASSERT_EQ(t.parts().size(), 3u);
  EXPECT_EQ(t.parts()[0].text, "{json}:");
  EXPECT_EQ(t.parts()[2].text, "}{");
  EXPECT_TRUE(t.parts()[2].space_before);
}

TEST(TemplateParse, NewlinesAreKeptAndOnlyOneSpaceSeparates) {
  Template t = Template::parse("### Instruction:\n{text_a}\n\n### Response:\n");
  ASSERT_EQ(t.parts().size(), 3u);
  EXPECT_EQ(t.parts()[0].text, "### Instruction:\n");
  EXPECT_EQ(t.parts()[2].text, "\n\n### Response:\n");
  EXPECT_FALSE(t.parts()[2].space_before);
  EXPECT_EQ(t.end_spacing(), Spacing::kAttached);

  Template two = Template::parse("{text_a}  It");
  EXPECT_EQ(two.parts()[1].text, " It");  // the second space is literal text
  EXPECT_TRUE(two.parts()[1].space_before);
}

TEST(TemplateParse, MaskSpacing) {
  EXPECT_EQ(Template::parse("Answer:{mask}").mask_spacing(), Spacing::kAttached);
  EXPECT_EQ(Template::parse("{soft:4} {mask}").mask_spacing(), Spacing::kStart);
  EXPECT_EQ(Template::parse("{text_a} {soft:4}{mask}").mask_spacing(), Spacing::kSpace);  // soft is transparent
  EXPECT_EQ(Template::parse("{text_a}{sep} {mask}").mask_spacing(), Spacing::kStart);
  EXPECT_EQ(Template::parse("{text_a} It was ").end_spacing(), Spacing::kSpace);
}

TEST(TemplateParse, UnknownSlotNamesTemplateColumnAndKnownNames) {
  std::string msg = error_of([] { Template::parse("{text_a} {text_c}", "task.template (sst2.yaml)"); });
  EXPECT_THAT(msg, HasSubstr("task.template (sst2.yaml)"));
  EXPECT_THAT(msg, HasSubstr("unknown slot '{text_c}'"));
  EXPECT_THAT(msg, HasSubstr("column 10"));
  EXPECT_THAT(msg, HasSubstr("did you mean text_a"));
  EXPECT_THAT(msg, HasSubstr("known slots: text_a, text_b, label, target, tokens, mask, bos, eos, sep, cls, "
                             "meta.NAME, soft:N"));
}

TEST(TemplateParse, ColumnsCountCharactersNotBytes) {
  std::string msg = error_of([] { Template::parse("情感：{foo}"); });
  EXPECT_THAT(msg, HasSubstr("column 4"));
}

TEST(TemplateParse, SyntaxErrors) {
  EXPECT_THAT(error_of([] { Template::parse("{soft} {text_a}"); }), HasSubstr("needs a count of virtual tokens"));
  EXPECT_THAT(error_of([] { Template::parse("{soft:0}"); }), HasSubstr("{soft:N}"));
  EXPECT_THAT(error_of([] { Template::parse("{soft:x}"); }), HasSubstr("'{soft:x}' needs a count"));
  EXPECT_THAT(error_of([] { Template::parse("{soft:-3}"); }), HasSubstr("needs a count"));
  EXPECT_THAT(error_of([] { Template::parse("{mask:fixed}"); }), HasSubstr("'{mask:fixed}' takes no options"));
  std::string opt = error_of([] { Template::parse("{text_a:shorten}"); });
  EXPECT_THAT(opt, HasSubstr("unknown option 'shorten'"));
  EXPECT_THAT(opt, HasSubstr("did you mean shortenable"));
  EXPECT_THAT(opt, HasSubstr("known options: shortenable, fixed"));
  std::string two = error_of([] { Template::parse("{mask} and {mask}"); });
  EXPECT_THAT(two, HasSubstr("at most one {mask}"));
  EXPECT_THAT(two, HasSubstr("column 1"));
  EXPECT_THAT(error_of([] { Template::parse("{text_a"); }), HasSubstr("'{' is never closed; write '{{'"));
  EXPECT_THAT(error_of([] { Template::parse("a } b"); }), HasSubstr("'}' has no matching '{'; write '}}'"));
  std::string reopen = error_of([] { Template::parse("{text_a {mask}"); });
  EXPECT_THAT(reopen, HasSubstr("is not closed before the '{' at column 9"));
  EXPECT_THAT(error_of([] { Template::parse("{meta.}"); }), HasSubstr("{meta.NAME}"));
  EXPECT_THAT(error_of([] { Template::parse("{}"); }), HasSubstr("unknown slot '{}'"));
  EXPECT_THAT(error_of([] { Template::parse(""); }), HasSubstr("the template is empty"));
  EXPECT_THAT(error_of([] { Template::parse("{tokens} {tokens}"); }), HasSubstr("at most one {tokens}"));
}

// ---- rendering: GPT-2 (byte-level BPE) -------------------------------------------------------------------

TEST(TemplateRender, Gpt2MatchesTheConcatenatedText) {
  PTLAB_SHARED_TOKENIZER(gpt2, testing::kGpt2);
  Template t = Template::parse("{text_a} Question: {text_b}? Answer:");
  data::Example ex = example("The cat sat on the mat.", "Where did the cat sit");
  RenderedExample r = t.render(ex, gpt2, 0);
  EXPECT_EQ(r.input_ids, ids_of(gpt2, "The cat sat on the mat. Question: Where did the cat sit? Answer:"));
  EXPECT_EQ(r.length, static_cast<int64_t>(r.input_ids.size()));
  EXPECT_EQ(r.mask_position, -1);
  EXPECT_FALSE(r.truncated);
  for (int64_t type : r.token_type_ids) EXPECT_EQ(type, 0);
}

TEST(TemplateRender, Gpt2MaskSoftAndLeadingSpaces) {
  PTLAB_SHARED_TOKENIZER(gpt2, testing::kGpt2);
  Template t = Template::parse("{soft:3} {text_a} {soft:2} It was {mask}.");
  RenderedExample r = t.render(example("a gripping film"), gpt2, 0);
  const int64_t ph = Template::placeholder_id(gpt2);
  EXPECT_EQ(ph, 50256);                               // GPT-2 has no pad token: its unk <|endoftext|>
  const auto text = ids_of(gpt2, "a gripping film");  // no leading space after the soft group
  const auto it_was = ids_of(gpt2, " It was");        // a space before words that follow text
  const auto expected =
      concat({{ph, ph, ph}, text, {ph, ph}, it_was, {Template::mask_token_id(gpt2)}, ids_of(gpt2, ".")});
  EXPECT_EQ(r.input_ids, expected);
  ASSERT_EQ(r.soft_positions.size(), 2u);
  EXPECT_THAT(r.soft_positions[0], ElementsAre(0, 1, 2));
  const int64_t s1 = 3 + static_cast<int64_t>(text.size());
  EXPECT_THAT(r.soft_positions[1], ElementsAre(s1, s1 + 1));
  EXPECT_EQ(r.mask_position, s1 + 2 + static_cast<int64_t>(it_was.size()));
  EXPECT_THAT(r.all_soft_positions(), ElementsAre(0, 1, 2, s1, s1 + 1));
  // Without the soft tokens the ids are those of the whole text.
  std::vector<int64_t> no_soft;
  for (std::size_t i = 0; i < r.input_ids.size(); ++i) {
    const auto all = r.all_soft_positions();
    if (std::find(all.begin(), all.end(), static_cast<int64_t>(i)) == all.end() &&
        static_cast<int64_t>(i) != r.mask_position)
      no_soft.push_back(r.input_ids[i]);
  }
  EXPECT_EQ(no_soft, ids_of(gpt2, "a gripping film It was."));
}

TEST(TemplateRender, EmptyFieldKeepsTheSpacing) {
  PTLAB_SHARED_TOKENIZER(gpt2, testing::kGpt2);
  Template t = Template::parse("{text_a} {text_b} It was");
  EXPECT_EQ(t.render(example("Fine", ""), gpt2, 0).input_ids, ids_of(gpt2, "Fine It was"));
  EXPECT_EQ(t.render(example("Fine", "indeed"), gpt2, 0).input_ids, ids_of(gpt2, "Fine indeed It was"));
}

TEST(TemplateRender, MissingSpecialTokenIsAnError) {
  PTLAB_SHARED_TOKENIZER(gpt2, testing::kGpt2);
  Template t = Template::parse("{text_a}{sep}{text_b}", "pair");
  std::string msg = error_of([&] { t.render(example("a", "b"), gpt2, 0); });
  EXPECT_THAT(msg, HasSubstr("template pair: {sep} at column 9 needs a sep token"));
  EXPECT_THAT(msg, HasSubstr("gpt2"));
}

// ---- rendering: BERT (WordPiece) -------------------------------------------------------------------------

TEST(TemplateRender, BertPairMatchesEncodePair) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  Template t = Template::parse("{cls}{text_a}{sep}{text_b}{sep}");
  data::Example ex = example("The premise, with punctuation!", "A hypothesis.");
  RenderedExample r = t.render(ex, bert, 0);
  text::Encoding pair = bert.encode_pair(ex.text_a, ex.text_b, true);
  EXPECT_EQ(r.input_ids, std::vector<int64_t>(pair.ids.begin(), pair.ids.end()));
  EXPECT_EQ(r.token_type_ids, std::vector<int64_t>(pair.type_ids.begin(), pair.type_ids.end()));
}

TEST(TemplateRender, BertMaskPattern) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  Template t = Template::parse("{cls}{text_a} It was {mask}.{sep}");
  RenderedExample r = t.render(example("A gripping, moving film"), bert, 0);
  EXPECT_EQ(r.input_ids, ids_of(bert, "A gripping, moving film It was [MASK].", true));
  EXPECT_EQ(r.input_ids[static_cast<std::size_t>(r.mask_position)], bert.mask_id());
  EXPECT_EQ(Template::placeholder_id(bert), bert.pad_id());
}

TEST(TemplateRender, WordStartsOfTokens) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  Template t = Template::parse("{cls}{tokens}{sep}");
  data::Example ex;
  ex.tokens = {"The", "Fulton", "jury's", "said"};
  RenderedExample r = t.render(ex, bert, 0);
  std::vector<int64_t> expected = {bert.cls_id()};
  std::vector<int64_t> starts;
  for (const auto& w : ex.tokens) {
    starts.push_back(static_cast<int64_t>(expected.size()));
    auto ids = ids_of(bert, w);
    expected.insert(expected.end(), ids.begin(), ids.end());
  }
  expected.push_back(bert.sep_id());
  EXPECT_EQ(r.input_ids, expected);
  EXPECT_EQ(r.word_starts, starts);
  EXPECT_GT(starts[3] - starts[2], 1);  // "jury's" has several sub-tokens

  // Truncated: the words whose first token no longer fits get -1.
  RenderedExample cut = t.render(ex, bert, starts[2] + 1);
  EXPECT_TRUE(cut.truncated);
  EXPECT_EQ(cut.length, starts[2] + 1);
  EXPECT_THAT(cut.word_starts, ElementsAre(starts[0], starts[1], -1, -1));
}

// ---- rendering: Llama 2 (SentencePiece) ------------------------------------------------------------------

TEST(TemplateRender, Llama2MatchesTheConcatenatedText) {
  PTLAB_SHARED_TOKENIZER(llama, testing::kLlama2);
  Template t = Template::parse("{bos}{text_a} It was {mask}.");
  RenderedExample r = t.render(example("A gripping film"), llama, 0);
  ASSERT_GE(r.mask_position, 1);
  EXPECT_EQ(r.input_ids[0], llama.bos_id());
  EXPECT_EQ(slice(r.input_ids, 1, static_cast<std::size_t>(r.mask_position)), ids_of(llama, "A gripping film It was"));
  // "." is attached to the mask: no "▁" in front of it.
  const auto dot = slice(r.input_ids, static_cast<std::size_t>(r.mask_position) + 1, r.input_ids.size());
  ASSERT_EQ(dot.size(), 1u);
  EXPECT_EQ(llama.id_to_token(static_cast<int>(dot[0])), ".");
  EXPECT_EQ(r.input_ids[static_cast<std::size_t>(r.mask_position)], Template::mask_token_id(llama));
}

TEST(TemplateRender, Llama2AttachedPieces) {
  PTLAB_SHARED_TOKENIZER(llama, testing::kLlama2);
  Template t = Template::parse("{text_a}? Answer:{text_b}\n\nQuestion: {text_b}");
  data::Example ex = example("Is it raining", "yes");
  EXPECT_EQ(t.render(ex, llama, 0).input_ids, ids_of(llama, "Is it raining? Answer:yes\n\nQuestion: yes"));
}

TEST(TemplateRender, Llama2SoftAndSpecials) {
  PTLAB_SHARED_TOKENIZER(llama, testing::kLlama2);
  Template t = Template::parse("{bos}{soft:2} {text_a}{eos}");
  RenderedExample r = t.render(example("Hello world"), llama, 0);
  const int64_t ph = Template::placeholder_id(llama);
  EXPECT_EQ(ph, llama.unk_id());  // Llama 2 has no pad token
  EXPECT_EQ(r.input_ids, concat({{llama.bos_id(), ph, ph}, ids_of(llama, "Hello world"), {llama.eos_id()}}));
  EXPECT_THAT(r.soft_positions[0], ElementsAre(1, 2));
}

// ---- truncation, fields, errors -------------------------------------------------------------------------

TEST(TemplateRender, TruncationShortensTheLongestFieldFirst) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  Template t = Template::parse("{cls}{text_a}{sep}{text_b} ? {mask}{sep}");
  data::Example ex = example("one two three four five six seven eight nine ten", "red green blue");
  const auto a = ids_of(bert, ex.text_a), b = ids_of(bert, ex.text_b);
  ASSERT_EQ(a.size(), 10u);
  ASSERT_EQ(b.size(), 3u);
  const int64_t fixed = 5;  // [CLS] [SEP] ? [MASK] [SEP]
  const int64_t full = fixed + 13;
  EXPECT_EQ(t.render(ex, bert, full).length, full);
  EXPECT_FALSE(t.render(ex, bert, full).truncated);

  RenderedExample r = t.render(ex, bert, fixed + 8);  // text_a alone loses 5 tokens
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.length, fixed + 8);
  EXPECT_EQ(slice(r.input_ids, 1, 6), slice(a, 0, 5));
  EXPECT_EQ(slice(r.input_ids, 7, 10), b);

  RenderedExample both = t.render(ex, bert, fixed + 4);  // 3 + 3, then b (later on a tie), then a
  EXPECT_EQ(both.length, fixed + 4);
  EXPECT_EQ(slice(both.input_ids, 1, 3), slice(a, 0, 2));
  EXPECT_EQ(both.input_ids[3], bert.sep_id());
  EXPECT_EQ(slice(both.input_ids, 4, 6), slice(b, 0, 2));
  EXPECT_EQ(both.input_ids[static_cast<std::size_t>(both.mask_position)], bert.mask_id());
  EXPECT_EQ(both.token_type_ids, std::vector<int64_t>({0, 0, 0, 0, 1, 1, 1, 1, 1}));
}

TEST(TemplateRender, FixedPartTooLongIsAnError) {
  PTLAB_SHARED_TOKENIZER(bert, testing::kBert);
  Template t = Template::parse("{soft:10} {text_a:fixed} It was {mask}.", "sst2.template");
  data::Example ex = example("a b c");
  std::string msg = error_of([&] { t.render(ex, bert, 12); });
  EXPECT_THAT(msg, HasSubstr("template sst2.template"));
  EXPECT_THAT(msg, HasSubstr("fixed part is 17 tokens"));  // 10 soft + 3 + "it was" + mask + "."
  EXPECT_THAT(msg, HasSubstr("max_length 12"));
  EXPECT_THAT(msg, HasSubstr("train.tsv:7"));
  // The same with text_a shortenable fits: text_a loses what is needed.
  RenderedExample r = Template::parse("{soft:10} {text_a} It was {mask}.").render(ex, bert, 15);
  EXPECT_EQ(r.length, 15);
}

TEST(TemplateRender, MetaLabelAndTarget) {
  PTLAB_SHARED_TOKENIZER(gpt2, testing::kGpt2);
  data::Example ex = example("body");
  ex.meta["title"] = "Headline";
  ex.label_name = "sports";
  ex.label_id = 2;
  ex.target = "The answer";
  Template t = Template::parse("{meta.title}: {text_a} Topic: {label}\n{target}");
  RenderedExample r = t.render(ex, gpt2, 0);
  EXPECT_EQ(r.input_ids, ids_of(gpt2, "Headline: body Topic: sports\nThe answer"));
  EXPECT_EQ(r.label, 2);  // the dataset's label_id
  const auto target = ids_of(gpt2, "The answer");
  EXPECT_EQ(r.target_ids, target);
  EXPECT_EQ(r.target_end, r.length);
  EXPECT_EQ(r.target_begin, r.length - static_cast<int64_t>(target.size()));

  // Without a {target} slot the target is tokenised as it would continue the template.
  RenderedExample prompt = Template::parse("Q: {text_a} A: ").render(ex, gpt2, 0);
  EXPECT_EQ(prompt.target_ids, ids_of(gpt2, " The answer"));
  EXPECT_EQ(prompt.target_begin, -1);

  std::string meta = error_of([&] { Template::parse("{meta.titl}", "t").render(ex, gpt2, 0); });
  EXPECT_THAT(meta, HasSubstr("no meta field 'titl'"));
  EXPECT_THAT(meta, HasSubstr("did you mean title"));
  EXPECT_THAT(meta, HasSubstr("train.tsv:7"));
  data::Example unlabeled = example("x");
  EXPECT_THAT(error_of([&] { Template::parse("{label}").render(unlabeled, gpt2, 0); }), HasSubstr("has no label"));
}

}  // namespace
}  // namespace ptlab::tasks
