#include "methods/ppt/ppt.h"

#include "framework/core/error.h"

namespace ptlab::methods::ppt {
namespace {

YAML::Node mapping_or_empty(const YAML::Node& method, const std::string& key, const std::string& where) {
  const YAML::Node node = method[key];
  if (!node.IsDefined() || node.IsNull()) return YAML::Node(YAML::NodeType::Map);
  PTLAB_CHECK(node.IsMap(), "{}.{}: expected a mapping of keys to set, got '{}'", where, key,
              node.IsScalar() ? node.Scalar() : std::string("a list"));
  return YAML::Clone(node);
}

}  // namespace

PptConfig PptConfig::decode(const YAML::Node& method, const config::Origins& origins, const std::string& where) {
  PptConfig c;
  c.where = where;
  config::Reader r(method, where, origins);
  r.has("name");
  c.format = parse_format(r.get<std::string>("format", format_name(c.format)), c.at("format"));
  c.corpus = r.get<std::optional<std::string>>("corpus", std::nullopt).value_or("");
  c.corpus_limit = r.get<int64_t>("corpus_limit", c.corpus_limit);
  c.block_sentences = r.get<int64_t>("block_sentences", c.block_sentences);
  c.train_examples = r.get<int64_t>("train_examples", c.train_examples);
  c.dev_examples = r.get<int64_t>("dev_examples", c.dev_examples);
  c.options = r.get<int64_t>("options", c.options);
  c.min_options = r.get<int64_t>("min_options", c.min_options);
  c.max_options = r.get<int64_t>("max_options", c.max_options);
  c.labeler = r.get<std::optional<std::string>>("labeler", std::nullopt);
  c.min_confidence = r.get<double>("min_confidence", c.min_confidence);
  c.template_text = r.get<std::optional<std::string>>("template", std::nullopt);
  if (r.has("verbalizer") && method["verbalizer"] && !method["verbalizer"].IsNull()) {
    PTLAB_CHECK(method["verbalizer"].IsMap(), "{}: expected a verbalizer mapping ({{mode: auto, label_words: {{...}}}})",
                c.at("verbalizer"));
    c.verbalizer = YAML::Clone(method["verbalizer"]);
  }
  c.max_length = r.get<int64_t>("max_length", c.max_length);
  c.seed = static_cast<uint64_t>(r.get<int64_t>("seed", 0));
  c.length = r.get<int64_t>("length", c.length);
  c.init = r.get<std::string>("init", c.init);
  r.has("pretrain_method");
  r.has("pretrain_trainer");
  r.has("transfer_method");
  c.pretrain_method = mapping_or_empty(method, "pretrain_method", where);
  c.pretrain_trainer = mapping_or_empty(method, "pretrain_trainer", where);
  c.transfer_method = mapping_or_empty(method, "transfer_method", where);
  c.pretrained = r.get<std::optional<std::string>>("pretrained", std::nullopt);
  c.stop_after = r.get<std::optional<std::string>>("stop_after", std::nullopt);
  c.cache_dir = r.get<std::optional<std::string>>("cache_dir", std::nullopt);
  r.finish();

  PTLAB_CHECK(c.train_examples >= 1, "{}: must be >= 1, got {}", c.at("train_examples"), c.train_examples);
  PTLAB_CHECK(c.dev_examples >= 0, "{}: must be >= 0, got {}", c.at("dev_examples"), c.dev_examples);
  PTLAB_CHECK(c.corpus_limit >= 0, "{}: must be >= 0 (0 = the whole corpus), got {}", c.at("corpus_limit"),
              c.corpus_limit);
  PTLAB_CHECK(c.block_sentences >= 1, "{}: must be >= 1 (sentences per pseudo-document), got {}",
              c.at("block_sentences"), c.block_sentences);
  PTLAB_CHECK(c.length >= 1, "{}: the prompt needs >= 1 virtual token, got {}", c.at("length"), c.length);
  PTLAB_CHECK(c.max_length >= 1, "{}: must be >= 1, got {}", c.at("max_length"), c.max_length);
  if (c.format == Format::kNss) {
    PTLAB_CHECK(c.options >= 2 && c.options <= 26,
                "{}: next-sentence selection needs 2..26 options (the answer and >= 1 distractor, lettered A..Z), "
                "got {}",
                c.at("options"), c.options);
  }
  if (c.format == Format::kUnified) {
    PTLAB_CHECK(c.min_options >= 2 && c.min_options <= 26, "{}: must be in 2..26, got {}", c.at("min_options"),
                c.min_options);
    PTLAB_CHECK(c.max_options >= c.min_options && c.max_options <= 26, "{}: must be in min_options ({})..26, got {}",
                c.at("max_options"), c.min_options, c.max_options);
  }
  PTLAB_CHECK(c.min_confidence >= 0.0 && c.min_confidence <= 1.0, "{}: a probability in [0, 1], got {}",
              c.at("min_confidence"), c.min_confidence);
  const bool needs_corpus = !c.pretrained;
  if (c.format == Format::kCls && needs_corpus) {
    PTLAB_CHECK(c.labeler && !c.labeler->empty(),
                "{}: format cls labels the corpus with a trained classifier: set method.labeler to its run directory "
                "(e.g. outputs/sst5/prompt_tuning/stories260K/seed0)",
                c.at("labeler"));
  }
  PTLAB_CHECK(!c.labeler || c.format == Format::kCls, "{}: a labeler is used by format cls only (format is {})",
              c.at("labeler"), format_name(c.format));
  PTLAB_CHECK(!needs_corpus || !c.corpus.empty(), "{}: no corpus file (a text file, one sentence per line)",
              c.at("corpus"));
  PTLAB_CHECK(!c.stop_after || *c.stop_after == "pretrain",
              "{}: the only stage to stop after is 'pretrain' (or null: run the downstream transfer), got '{}'",
              c.at("stop_after"), *c.stop_after);
  PTLAB_CHECK(!(c.stop_after && c.pretrained), "{}: stop_after: pretrain with a given pretrained prompt does nothing",
              c.at("stop_after"));
  return c;
}

std::string default_template(Format format) {
  switch (format) {
    case Format::kNsp: return "{text_a} {text_b} Is the second sentence the next one? {mask}";
    case Format::kNss: return "{text_a} Which sentence comes next? {text_b} Answer: {mask}";
    case Format::kUnified: return "{text_a} Question: which sentence comes next? Options: {text_b} Answer: {mask}";
    case Format::kCls: return "";
  }
  return "";
}

YAML::Node default_verbalizer(Format format, int64_t max_options) {
  if (format == Format::kCls) return YAML::Node();
  YAML::Node v(YAML::NodeType::Map);
  v["mode"] = "auto";
  YAML::Node words(YAML::NodeType::Map);
  if (format == Format::kNsp) {
    // PPT's sentence-pair verbalizer: yes / maybe / no.
    words["next"].push_back("yes");
    words["same_document"].push_back("maybe");
    words["other_document"].push_back("no");
  } else {
    for (const std::string& letter : format_labels(format, max_options)) words[letter].push_back(letter);
    // A small SentencePiece vocabulary splits " A" into "▁" + "A": every letter would share its first token.
    v["reduction"] = "mean";
  }
  v["label_words"] = words;
  return v;
}

YAML::Node pretraining_task(const PptConfig& c, const std::string& data_dir, const YAML::Node& labeler_task,
                            const std::vector<std::string>& labels) {
  YAML::Node task(YAML::NodeType::Map);
  const bool cls = c.format == Format::kCls;
  const int64_t max_options = c.format == Format::kNss ? c.options : c.max_options;
  task["type"] = cls ? (labeler_task["type"] ? labeler_task["type"].Scalar() : std::string("classification"))
                     : std::string(c.format == Format::kNsp ? "pair_classification" : "classification");
  task["max_length"] = c.max_length;
  std::string tmpl = c.template_text.value_or(default_template(c.format));
  if (cls && !c.template_text) {
    // The labeler's own prompt: its chosen template.
    const YAML::Node name = labeler_task["template_name"];
    if (name && !name.IsNull() && labeler_task["templates"] && labeler_task["templates"][name.Scalar()])
      tmpl = labeler_task["templates"][name.Scalar()].Scalar();
    else if (labeler_task["template"])
      tmpl = labeler_task["template"].Scalar();
  }
  PTLAB_CHECK(!tmpl.empty(), "{}: no template for the pre-training task (set method.template)", c.at("template"));
  task["template"] = tmpl;
  YAML::Node verbalizer = c.verbalizer.IsDefined() && !c.verbalizer.IsNull() ? YAML::Clone(c.verbalizer)
                                                                             : default_verbalizer(c.format, max_options);
  if (cls && (!verbalizer.IsDefined() || verbalizer.IsNull())) {
    const YAML::Node name = labeler_task["verbalizer_name"];
    if (name && !name.IsNull() && labeler_task["verbalizers"] && labeler_task["verbalizers"][name.Scalar()])
      verbalizer = YAML::Clone(labeler_task["verbalizers"][name.Scalar()]);
    else if (labeler_task["verbalizer"])
      verbalizer = YAML::Clone(labeler_task["verbalizer"]);
  }
  PTLAB_CHECK(verbalizer.IsDefined() && !verbalizer.IsNull(), "{}: no verbalizer for the pre-training task",
              c.at("verbalizer"));
  task["verbalizer"] = verbalizer;
  YAML::Node data(YAML::NodeType::Map);
  YAML::Node splits(YAML::NodeType::Map);
  splits["train"]["path"] = data_dir + "/train.jsonl";
  if (c.dev_examples > 0) splits["dev"]["path"] = data_dir + "/dev.jsonl";
  data["splits"] = splits;
  YAML::Node fields(YAML::NodeType::Map);
  fields["text_a"] = "text_a";
  if (c.format != Format::kCls) fields["text_b"] = "text_b";
  fields["label"] = "label";
  if (c.format == Format::kUnified) fields["meta.task"] = "task";
  data["fields"] = fields;
  for (const std::string& label : labels) data["labels"].push_back(label);
  data["train_split"] = "train";
  data["dev_split"] = c.dev_examples > 0 ? YAML::Node("dev") : YAML::Node(YAML::NodeType::Null);
  data["test_split"] = YAML::Node(YAML::NodeType::Null);
  task["data"] = data;
  if (c.format == Format::kUnified) {
    // Each example scores over its own K options only.
    for (int64_t k = c.min_options; k <= c.max_options; ++k) {
      const std::string name = fmt::format("options{}", k);
      task["task_names"].push_back(name);
      for (int64_t i = 0; i < k; ++i) task["task_classes"][name].push_back(option_letter(i));
    }
  }
  return task;
}

}  // namespace ptlab::methods::ppt
