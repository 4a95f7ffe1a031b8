// `ptlab train [overrides...]` and `ptlab eval [--split S] [--from PATH] [overrides...]`: one trial from
// the composed config (launchers/trial.h). Under `mpirun -np N` every rank runs the same command and
// the trial trains data-parallel; a rank that fails aborts the whole job with its message.
#include "framework/config/compose.h"
#include "framework/config/reader.h"
#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/core/suggest.h"
#include "framework/dist/communicator.h"
#include "launchers/trial.h"
#include "launchers/command.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace ptlab::launchers {
namespace {

constexpr const char* kTrainHelp =
    "usage: ptlab train [--config-dir DIR] [overrides...]\n"
    "       mpirun -np N ptlab train [overrides...]      (data parallel over N ranks)\n"
    "\n"
    "Trains one trial: model=..., task=..., method=..., trainer.*; writes config.yaml, overrides.yaml,\n"
    "metrics.h5, metrics.jsonl, summary.json, prompt.safetensors (and a PEFT adapter / the model where the\n"
    "method has one) and checkpoint.safetensors to run.dir (default outputs/<task>/<method>/<model>/seed<seed>).\n"
    "SIGTERM / SIGUSR1 write a checkpoint and stop cleanly; trainer.resume=true continues from it.\n"
    "Methods that train nothing (zero_shot) are evaluated on the dev and test splits.\n"
    "\n"
    "examples:\n"
    "  ptlab train method=prompt_tuning task=sst2 model=stories260K trainer.max_steps=200\n"
    "  ptlab train method=prompt_tuning method.init=class_label method.length=20 trainer.optimizer.name=adafactor\n"
    "  ptlab train method=full_finetune task=sst2 trainer.optimizer.lr=1e-4\n";

constexpr const char* kEvalHelp =
    "usage: ptlab eval [--split NAME] [--from PATH] [--config-dir DIR] [overrides...]\n"
    "\n"
    "Evaluates the configured method on one split (default: the task's test split, else dev) and prints the\n"
    "task's metrics. --from loads the method's state first: a run directory, its prompt.safetensors, or a\n"
    "PEFT prompt-tuning adapter directory (adapter_config.json + adapter_model.safetensors).\n"
    "\n"
    "examples:\n"
    "  ptlab eval method=prompt_tuning task=sst2 --from outputs/sst2/prompt_tuning/stories260K/seed0\n"
    "  ptlab eval method=zero_shot task=sst2 --split dev\n";

struct Parsed {
  config::ComposeOptions options{config::default_config_dir()};
  std::vector<std::string> overrides;
  std::string split;
  std::string from;
};

Parsed parse(const std::vector<std::string>& args, const char* command, bool eval) {
  Parsed p;
  std::vector<std::string> flags = {"--config-dir", "--help"};
  if (eval) flags.insert(flags.end(), {"--split", "--from"});
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* flag) {
      PTLAB_CHECK(i + 1 < args.size(), "ptlab {}: {} needs a value", command, flag);
      return args[++i];
    };
    if (a == "--config-dir") {
      p.options.config_dir = value("--config-dir");
    } else if (eval && a == "--split") {
      p.split = value("--split");
    } else if (eval && a == "--from") {
      p.from = value("--from");
    } else if (a.size() > 1 && a[0] == '-') {
      PTLAB_FAIL("ptlab {}: unknown option '{}'{}; options: {}", command, a, did_you_mean(a, flags), join_names(flags));
    } else {
      p.overrides.push_back(a);
    }
  }
  return p;
}

// Runs `body` with the communicator of runtime.backend; a failure on any rank of a multi-rank job ends the
// job (MPI_Abort) after printing the message, so no rank waits forever in a collective.
template <class Body>
int with_communicator(const config::Composed& composed, Body body) {
  std::string backend = "auto";
  if (composed.root["runtime"] && composed.root["runtime"]["backend"]) {
    backend = composed.root["runtime"]["backend"].as<std::string>();
  }
  auto comm = dist::make_communicator(backend);
  set_log_rank(comm->rank(), comm->size());
  if (comm->size() == 1) return body(*comm);
  try {
    return body(*comm);
  } catch (const std::exception& e) {
    log_error("{}", e.what());
    comm->abort(dynamic_cast<const Error*>(&e) ? 2 : 1);
    return 1;  // not reached: abort ends the job
  }
}

void print_values(const std::string& split, const std::map<std::string, double>& values) {
  std::string line;
  for (const auto& [k, v] : values) {
    if (k.rfind("confusion_matrix", 0) == 0) continue;
    line += fmt::format("  {} {:.4f}", k, v);
  }
  std::printf("%s:%s\n", split.c_str(), line.c_str());
}

int run_train(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    std::fputs(kTrainHelp, stdout);
    return 0;
  }
  Parsed p = parse(args, "train", false);
  config::Composed composed = config::compose(p.options, p.overrides);
  return with_communicator(composed, [&](dist::Communicator& comm) {
    auto outcome = run_training(composed, comm);
    if (comm.rank() == 0) {
      std::printf("run %s: %s\n", outcome.run_dir.c_str(), outcome.result.status.c_str());
      for (const auto& [split, values] : outcome.splits) print_values(split, values);
    }
    return 0;
  });
}

int run_eval(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    std::fputs(kEvalHelp, stdout);
    return 0;
  }
  Parsed p = parse(args, "eval", true);
  config::Composed composed = config::compose(p.options, p.overrides);
  return with_communicator(composed, [&](dist::Communicator& comm) {
    auto outcome = run_evaluation(composed, comm, p.split, p.from);
    if (comm.rank() == 0) {
      for (const auto& [split, values] : outcome.splits) print_values(split, values);
    }
    return 0;
  });
}

}  // namespace

void add_train_command(CommandRegistry& registry) {
  registry.add("train", "train one trial (data parallel under mpirun): train [overrides...]", Command{kTrainHelp, run_train});
  registry.add("eval", "evaluate a method or a saved prompt on a split: eval [--split S] [--from PATH] [overrides...]",
               Command{kEvalHelp, run_eval});
}

}  // namespace ptlab::launchers
