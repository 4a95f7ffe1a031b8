#include "methods/builtin_methods.h"

#include "methods/baselines/full_finetune.h"
#include "methods/baselines/linear_head.h"
#include "methods/baselines/pretrain.h"
#include "methods/baselines/zero_shot.h"
#include "methods/cpt/cpt.h"
#include "methods/icl/icl.h"
#include "methods/method.h"
#include "methods/p_tuning/p_tuning.h"
#include "methods/mpt/mpt.h"
#include "methods/p_tuning_v2/p_tuning_v2.h"
#include "methods/prefix_tuning/prefix_tuning.h"
#include "methods/prompt_tuning/prompt_tuning.h"

#include <mutex>

namespace ptlab::methods {

void register_builtin_methods() {
  static std::once_flag once;
  std::call_once(once, [] {
    Registry<MethodEntry>& registry = method_registry();
    registry.add("prompt_tuning", "Lester et al. 2021 / PEFT: n trained input embeddings at the template's soft slots",
                 {[](config::Reader reader, const MethodContext& context) -> std::unique_ptr<Method> {
                   return std::make_unique<PromptTuning>(PromptTuningConfig::decode(reader), context);
                 }});
    registry.add("prefix_tuning",
                 "Li & Liang 2021 / PEFT: P trained key/value positions in front of every attention layer",
                 {[](config::Reader reader, const MethodContext& context) -> std::unique_ptr<Method> {
                   return std::make_unique<PrefixTuning>(PrefixTuningConfig::decode(reader), context);
                 }});
    registry.add("p_tuning",
                 "Liu et al. 2021 / PEFT P_TUNING: an MLP or LSTM prompt encoder's output at the template's soft slots",
                 {[](config::Reader reader, const MethodContext& context) -> std::unique_ptr<Method> {
                   return std::make_unique<PTuning>(PTuningConfig::decode(reader), context);
                 }});
    registry.add(
        "p_tuning_v2",
        "Liu et al. 2022 (THUDM): deep prefix at every layer + a linear head on [CLS]/pooler/last or per token",
        {&PTuningV2::make});
    registry.add("cpt",
                 "Blau et al. 2024 / PEFT: k in-context demonstrations as the prompt, projected offsets on their "
                 "tokens, the labels' loss",
                 {[](config::Reader reader, const MethodContext& context) -> std::unique_ptr<Method> {
                   return std::make_unique<Cpt>(CptConfig::decode(reader), context);
                 }});
    registry.add("mpt",
                 "Wang et al. 2023 / PEFT: a shared prompt times per-task rank-r factors (mixed-task batches, "
                 "prompt distillation from per-task teachers)",
                 {[](config::Reader reader, const MethodContext& context) -> std::unique_ptr<Method> {
                   return std::make_unique<MultitaskPromptTuning>(MptConfig::decode(reader), context);
                 }});
    registry.add("icl",
                 "in-context learning (Brown et al. 2020): k labelled demonstrations in front of every query, "
                 "optional contextual calibration (Zhao et al. 2021); nothing trained",
                 {[](config::Reader reader, const MethodContext& context) -> std::unique_ptr<Method> {
                    return std::make_unique<InContextLearning>(IclConfig::decode(reader), context);
                  },
                  /*needs_train_split=*/true});
    registry.add("zero_shot", "prompt design: the frozen model and the verbalizer, nothing trained", {&ZeroShot::make});
    registry.add("full_finetune", "model tuning: every backbone weight trains", {&FullFinetune::make});
    registry.add("linear_head", "a trained Linear(d, C) head on the frozen backbone (linear probing)",
                 {&LinearHeadMethod::make});
    registry.add("pretrain", "trains every backbone weight on a language-modelling (lm) task", {&Pretrain::make});
  });
}

}  // namespace ptlab::methods
