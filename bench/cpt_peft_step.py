#!/usr/bin/env python3
"""The reference peer of `ptlab bench cpt`: PEFT CPT train steps against the number of demonstrations k.

Mirrors launchers/bench_cpt_command.cpp: a context of k synthetic demonstrations of 4 + L + 3 + 1 + 1 tokens
(input template type 4j+1, input 4j+2, output template 4j+3, a 1-token label 4j+4, separator 0), random ids
(seed 0), decay weighting 0.95, in front of B queries of the same shape whose label token is the only label
(input_type_mask 1..4, 0); one step = PEFT's forward (projection, [context][query], CPT loss) + backward +
AdamW(lr 1e-3). Median of S steps after W warm-ups, peak RSS (ru_maxrss). One k per process.
Usage: cpt_peft_step.py MODEL_DIR --k K [--batch B] [--demo-input L] [--steps S] [--warmup W] [--threads N] [--attn sdpa|eager]
"""
import argparse, json, os, resource, time, warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")

import torch
from peft import CPTConfig, get_peft_model
from transformers import AutoModelForCausalLM


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--demo-input", type=int, default=12)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--attn", default="sdpa", help="transformers attention implementation (sdpa | eager)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(a.model, attn_implementation=a.attn)
    vocab = model.config.vocab_size
    shape = [1] * 4 + [2] * a.demo_input + [3] * 3 + [4, 0]
    demo = len(shape)
    ids = torch.randint(0, vocab, (a.k * demo,)).tolist()
    types = [0 if t == 0 else t + 4 * j for j in range(a.k) for t in shape]
    config = CPTConfig(task_type="CAUSAL_LM", cpt_token_ids=ids, cpt_mask=[1] * len(ids), cpt_tokens_type_mask=types,
                       opt_weighted_loss_type="decay", opt_loss_decay_factor=0.95)
    model = get_peft_model(model, config)
    model.eval()
    q = torch.randint(0, vocab, (a.batch, demo))
    qtypes = torch.tensor(shape).expand(a.batch, demo).clone()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)

    def step():
        out = model(input_ids=q, attention_mask=torch.ones_like(q), labels=q.clone(), input_type_mask=qtypes.clone())
        out.loss.backward()
        opt.step()
        opt.zero_grad()

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    times.sort()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"model": a.model, "k": a.k, "context_tokens": len(ids), "query_tokens": demo, "batch": a.batch,
                      "threads": torch.get_num_threads(), "step_ms": times[len(times) // 2] * 1e3,
                      "peak_rss_mib": rss}))


if __name__ == "__main__":
    main()
