#!/usr/bin/env python3
"""Golden logits from the current transformers (5.x) for both config.json forms and RoPE scaling.

Run by hand (CI only runs the C++ side, tests/model/rope_parity_test.cpp), in the reference venv:
    .venv-ref/bin/python scripts/reference/hf_logits_v5.py [--out tests/golden/hf_v5]

Builds tiny random LlamaForCausalLM models in float32 with fixed seeds (hidden 32, 2 layers, 2 heads,
1 KV head, head_dim 16, intermediate 64, vocab 128, tied embeddings, rope_theta 5e5; weights drawn with
std 0.15 so that attention patterns, and with them RoPE, move the logits by O(0.1)), rounds the
weights to float16 and saves them (so the files hold exactly the weights that produced the logits),
then reloads each directory with from_pretrained and writes the logits transformers computes from the
files for three fixed token sequences (lengths 1, 7, 40) to logits.safetensors (tokens_i int32 [1, T],
logits_i float32 [1, T, V]):
  v5_default/      config.json as transformers 5 writes it: "rope_parameters" {rope_theta, "default"},
                   "dtype" (the bug: a reader of top-level rope_theta falls back to 10000).
  v5_llama3/       rope_parameters of type llama3 (factor 8, low/high freq factors 1/4, original
                   context 64, so with head_dim 16 the frequencies fall in all three llama3 bands).
  v5_linear/       rope_parameters of type linear, factor 4.
  classic_llama3/  the llama3 model's config rewritten to the transformers 4 form (top-level
                   rope_theta, "rope_scaling" {"rope_type": "llama3", ...}, "torch_dtype"), as Llama 3.1
                   configs on the hub are; transformers reloads it and these logits come from that reload.
"""
import argparse
import json
import os

import torch
import transformers
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

SEQ_LENGTHS = (1, 7, 40)
VOCAB = 128
THETA = 5e5
LLAMA3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 64}
LINEAR = {"rope_type": "linear", "factor": 4.0}


def build(rope):
    cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, head_dim=16, rms_norm_eps=1e-6,
                      max_position_embeddings=2048, tie_word_embeddings=True, dtype="float16",
                      initializer_range=0.15,
                      rope_parameters=dict(rope, rope_theta=THETA), attn_implementation="eager")
    return LlamaForCausalLM(cfg)


def to_classic(path):
    """Rewrites a transformers-5 config.json in the transformers-4 form."""
    with open(path) as f:
        cfg = json.load(f)
    rope = cfg.pop("rope_parameters")
    cfg["rope_theta"] = rope.pop("rope_theta")
    cfg["rope_scaling"] = None if rope["rope_type"] == "default" else rope
    cfg["torch_dtype"] = cfg.pop("dtype")
    cfg["transformers_version"] = "4.46.3"
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)


def randomize_and_round(model, norm_value=lambda name, p: 1.0 + 0.1 * torch.randn_like(p)):
    """Non-trivial 1-D weights (norm_value(name, p)), then every weight rounded to float16, so the
    float16 files hold exactly the weights that produce the golden logits."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:  # norms (and biases): non-trivial weights, so they are tested too
                p.copy_(norm_value(name, p))
            p.copy_(p.half().float())


def save_half(model, out):
    """save_pretrained in float16, without generation_config.json (the tests do not need it)."""
    os.makedirs(out, exist_ok=True)
    model.half().save_pretrained(out, safe_serialization=True)
    gen_config = os.path.join(out, "generation_config.json")
    if os.path.exists(gen_config):
        os.remove(gen_config)


def write_logits(reloaded, out, seed, vocab, seq_lengths=SEQ_LENGTHS, extras=False):
    """logits.safetensors: tokens_i int32 [1, T] and logits_i float32 [1, T, V] for fixed random
    sequences; with extras also loss_i (transformers' mean next-token loss of sequence i, labels =
    tokens) and greedy (int32 [1, P + 8]: the first 10 tokens of the longest sequence and the 8 greedy
    tokens after them, each from a full forward pass without a cache)."""
    gen = torch.Generator().manual_seed(seed + 1)
    tensors = {}
    with torch.no_grad():
        for i, n in enumerate(seq_lengths):
            tokens = torch.randint(0, vocab, (1, n), generator=gen)
            tensors[f"tokens_{i}"] = tokens.to(torch.int32).contiguous()
            result = reloaded(tokens, labels=tokens if extras and n > 1 else None)
            tensors[f"logits_{i}"] = result.logits.float().contiguous()
            if result.loss is not None:
                tensors[f"loss_{i}"] = result.loss.float().reshape(1).contiguous()
        if extras:
            ids = tensors[f"tokens_{len(seq_lengths) - 1}"][:, :10].long()
            for _ in range(8):
                nxt = reloaded(ids).logits[:, -1].argmax(-1, keepdim=True)
                ids = torch.cat([ids, nxt], dim=1)
            tensors["greedy"] = ids.to(torch.int32).contiguous()
    save_file(tensors, os.path.join(out, "logits.safetensors"), metadata={"format": "pt"})
    print(out, sorted(os.listdir(out)))


def write(sub, rope, seed, classic, out_root):
    torch.manual_seed(seed)
    model = build(rope).eval()
    randomize_and_round(model)
    out = os.path.abspath(os.path.join(out_root, sub))
    save_half(model, out)
    if classic:
        to_classic(os.path.join(out, "config.json"))
    reloaded = LlamaForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation="eager").eval()
    assert reloaded.config.rope_parameters["rope_type"] == rope["rope_type"], reloaded.config.rope_parameters
    assert reloaded.config.rope_parameters["rope_theta"] == THETA
    write_logits(reloaded, out, seed, VOCAB)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "hf_v5"))
    args = ap.parse_args()
    print("transformers", transformers.__version__)
    write("v5_default", {"rope_type": "default"}, 501, False, args.out)
    write("v5_llama3", LLAMA3, 502, False, args.out)
    write("v5_linear", LINEAR, 503, False, args.out)
    write("classic_llama3", LLAMA3, 504, True, args.out)


if __name__ == "__main__":
    main()
