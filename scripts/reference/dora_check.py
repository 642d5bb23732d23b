#!/usr/bin/env python3
"""mlxft's DoRA adapters judged by PEFT and mlx-lm: both load what `mlxft train` wrote with
lora.kind dora and give the same per-example loss as mlxft; PEFT's gradients of the same adapter
are kept for CI.

Run by hand (CI keeps the C++ side and small goldens, tests/parity/dora_parity_test.cpp), in the
reference venv (torch, transformers, peft 0.21, mlx-lm):
    .venv-ref/bin/python scripts/reference/dora_check.py --mlxft build/mlxft \
        --v3-tokenizer PATH/tokenizer.model.v3 [--work DIR] [--golden tests/golden/dora]

It makes the tiny random Mistral (`mlxft model init --preset tiny --seed 3`, the model the C++ export
tests rebuild, with its LM head scaled by 15 so that the loss can move), trains a DoRA adapter on it with `mlxft train` (rank 4 on all seven projections, a few
steps at a high learning rate so that B and the magnitudes move away from their initial values),
and for a few texts (the examples) checks:
  PEFT:    transformers + PEFT (PeftModel.from_pretrained of final_model/peft, float64) per-example
           mean next-token loss vs mlxft's (`mlxft model logits --adapter`): relative difference
           < 1e-4 for each example; and the adapter matters (the base's losses differ).
  mlx-lm:  mlx_lm's load_model + load_adapters of final_model/mlx (float32): the same per-example
           losses, relative difference < 1e-4.
With --golden DIR it writes what CI compares against: DIR/adapter (the PEFT export) and
DIR/dora.safetensors: ids_<i> int32 [1, T_i], loss_peft and loss_mlx_lm float32 [n] (per example), and
PEFT's float64 gradients (as float32) of the mean of the per-example losses with respect to every
lora_A, lora_B and lora_magnitude_vector, by PEFT's file key ("grad." + key).
Exits 1 when a check fails.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from safetensors.numpy import load_file, save_file

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Fine-tuning adapts a pretrained model to a task; DoRA learns a magnitude and a direction.",
    "12345 + 678 = 13023, and the weather in Paris is sunny today.",
]
RECIPE = """model:
  path: {base}
  dtype: float32
lora:
  kind: dora
  rank: 4
  alpha: 8
  dropout: 0.0
  target_modules: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj]
data:
  dataset_path: {data}
  max_seq_length: 512
  min_examples: 10
  valid_split: 0.0
training:
  max_steps: 12
  batch_size: 2
  learning_rate: 5.0e-3
  warmup_steps: 1
  logging_steps: 4
  save_steps: 100
output:
  output_dir: {run}
  overwrite_output_dir: true
  export: [peft, mlx]
logging:
  progress: none
  plots: false
evaluation:
  generate_samples: false
"""
HEAD_SCALE = 15.0
FAILED = []


def check(name, ok, detail):
    print(f"  {'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)
    if not ok:
        FAILED.append(name)


def mlxft(args, *argv):
    r = subprocess.run([args.mlxft, *map(str, argv)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"mlxft {' '.join(map(str, argv))} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def nll_mean(logits, ids):
    """Mean next-token loss of one example, in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    m = logits.max(-1, keepdims=True)
    logp = logits - m - np.log(np.exp(logits - m).sum(-1, keepdims=True))
    return float(-logp[np.arange(len(ids) - 1), ids[1:]].mean())


def scale_head(base):
    """The LM head times HEAD_SCALE (float32): with the preset's std 0.02 every logit stays near 0 and
    every loss near ln(32768) whatever the adapter does (tests/train/train_e2e_util.h does the same)."""
    path = os.path.join(base, "model.safetensors")
    tensors = load_file(path)
    tensors["lm_head.weight"] = (tensors["lm_head.weight"] * np.float32(HEAD_SCALE)).astype(np.float32)
    save_file(tensors, path, metadata={"format": "pt"})


def mlxft_losses(args, base, adapter, examples, work):
    out = os.path.join(work, "logits.safetensors")
    losses = []
    for ids in examples:
        argv = ["model", "logits", "--model", base, "--ids", ",".join(map(str, ids)), "--out", out]
        if adapter:
            argv += ["--adapter", adapter]
        mlxft(args, *argv)
        losses.append(nll_mean(load_file(out)["logits"][0], ids))
        os.remove(out)
    return np.array(losses)


def peft_losses_and_grads(base, adapter, examples):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float64, attn_implementation="eager")
    peft_model = PeftModel.from_pretrained(model, adapter, is_trainable=True).double()
    assert peft_model.peft_config["default"].use_dora
    peft_model.train()  # dropout is 0: train mode only makes the adapter trainable, as training runs it
    params = {n: p for n, p in peft_model.named_parameters() if p.requires_grad}
    kinds = {k for n in params for k in ("lora_A", "lora_B", "lora_magnitude_vector") if k in n}
    assert kinds == {"lora_A", "lora_B", "lora_magnitude_vector"}, kinds
    losses = []
    for ids in examples:
        t = torch.tensor([ids])
        logits = peft_model(input_ids=t).logits[0]
        logp = torch.log_softmax(logits, dim=-1)
        losses.append(-logp[torch.arange(len(ids) - 1), t[0, 1:]].mean())
    mean = torch.stack(losses).mean()
    mean.backward()
    grads = {}
    for name, p in params.items():
        # "...q_proj.lora_A.default.weight" -> "...q_proj.lora_A.weight";
        # "...q_proj.lora_magnitude_vector.default.weight" -> "...q_proj.lora_magnitude_vector" (the file key)
        key = name.replace(".default", "")
        if key.endswith("lora_magnitude_vector.weight"):
            key = key[: -len(".weight")]
        grads["grad." + key] = p.grad.float().numpy().copy()
    return np.array([float(v.detach()) for v in losses]), grads


def mlx_lm_losses(base, adapter, examples):
    from pathlib import Path
    import mlx.core as mx
    from mlx_lm.tuner.utils import load_adapters
    from mlx_lm.utils import load_model
    model, _ = load_model(Path(base))
    model = load_adapters(model, adapter)
    model.eval()
    losses = []
    for ids in examples:
        logits = model(mx.array([ids]))[0].astype(mx.float32)
        losses.append(nll_mean(np.array(logits), ids))
    return np.array(losses)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlxft", required=True)
    ap.add_argument("--v3-tokenizer", required=True)
    ap.add_argument("--work")
    ap.add_argument("--golden")
    args = ap.parse_args()
    args.mlxft = os.path.abspath(args.mlxft)
    work = args.work or tempfile.mkdtemp(prefix="dora_check_")
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(work)
    base, run = os.path.join(work, "base"), os.path.join(work, "run")
    data, recipe = os.path.join(work, "data.jsonl"), os.path.join(work, "dora.yaml")
    mlxft(args, "model", "init", "--preset", "tiny", "--seed", 3, "--tokenizer", args.v3_tokenizer, "--out", base)
    scale_head(base)
    mlxft(args, "data", "synth", "--count", 60, "--out", data)
    with open(recipe, "w") as f:
        f.write(RECIPE.format(base=base, data=data, run=run))
    mlxft(args, "train", "--config", recipe)
    peft_dir, mlx_dir = os.path.join(run, "final_model", "peft"), os.path.join(run, "final_model", "mlx")
    with open(os.path.join(peft_dir, "adapter_config.json")) as f:
        assert json.load(f)["use_dora"] is True
    examples = [json.loads(mlxft(args, "tokenize", "--model", base, "--text", t)) for t in TEXTS]
    print(f"examples: {[len(e) for e in examples]} tokens")

    ours = mlxft_losses(args, base, peft_dir, examples, work)
    ours_mlx = mlxft_losses(args, base, mlx_dir, examples, work)
    plain = mlxft_losses(args, base, None, examples, work)
    check("mlxft reads its PEFT and mlx-lm exports alike", np.array_equal(ours, ours_mlx),
          f"{ours} vs {ours_mlx}")
    check("the adapter matters", np.abs(ours - plain).min() > 1e-2, f"base {plain} vs adapted {ours}")

    peft, grads = peft_losses_and_grads(base, peft_dir, examples)
    rel = np.abs(peft - ours) / np.abs(peft)
    check("PEFT per-example loss", rel.max() < 1e-4,
          f"PEFT {peft} mlxft {ours}: max relative difference {rel.max():.2e}")

    mlx_lm = mlx_lm_losses(base, mlx_dir, examples)
    rel = np.abs(mlx_lm - ours) / np.abs(mlx_lm)
    check("mlx-lm per-example loss", rel.max() < 1e-4,
          f"mlx-lm {mlx_lm} mlxft {ours}: max relative difference {rel.max():.2e}")

    if args.golden:
        golden = os.path.abspath(args.golden)
        if os.path.exists(golden):
            shutil.rmtree(golden)
        os.makedirs(golden)
        shutil.copytree(peft_dir, os.path.join(golden, "adapter"))
        tensors = {f"ids_{i}": np.array([ids], dtype=np.int32) for i, ids in enumerate(examples)}
        tensors["loss_peft"] = peft.astype(np.float32)
        tensors["loss_mlx_lm"] = mlx_lm.astype(np.float32)
        tensors.update(grads)
        save_file(tensors, os.path.join(golden, "dora.safetensors"), metadata={"format": "pt"})
        for root, _, files in sorted(os.walk(golden)):
            for f in sorted(files):
                p = os.path.join(root, f)
                print(f"  wrote {os.path.relpath(p, golden)} ({os.path.getsize(p)} bytes)")
    if FAILED:
        sys.exit(f"FAILED: {', '.join(FAILED)}")
    print("all DoRA checks passed")


if __name__ == "__main__":
    main()
