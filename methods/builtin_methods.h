// The built-in methods, registered once into method_registry() (method.h) by register_builtin_methods().
//
//   prompt_tuning   Lester et al. 2021 / PEFT PROMPT_TUNING: n trainable input embeddings at the
//                   template's {soft:N} slots, or in front (methods/prompt_tuning/prompt_tuning.h)
//   zero_shot       prompt design: the frozen model scored through the verbalizer, nothing trained
//   full_finetune   model tuning: every backbone weight trains (the Lester et al. baseline)
//   linear_head     a trained Linear(d, C) head on the frozen backbone (linear probing)
//   pretrain        full training of the backbone on a language-modelling task (task type lm)
//
// One line per method in builtin_methods.cpp; adding a method adds one line there (see method.h).
#pragma once

namespace ptlab::methods {

/// Declared in method.h; defined in builtin_methods.cpp (once; thread safe; later calls do nothing).
void register_builtin_methods();

}  // namespace ptlab::methods
