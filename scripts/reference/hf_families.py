#!/usr/bin/env python3
"""Golden logits, losses and greedy tokens of tiny random models of the families beyond Llama.

Run by hand (CI only runs the C++ side, tests/model/family_parity_test.cpp), in the reference venv:
    /work/main/.venv-ref/bin/python scripts/reference/hf_families.py [--out tests/golden/hf_families] [sub ...]

Each model is built in float32 with a fixed seed (hidden 64, 2 layers, vocab 300, weights drawn with
std 0.15 so attention and RoPE move the logits), its 1-D weights made non-trivial, every weight
rounded to float16 and saved (hf_logits_v5.randomize_and_round / save_half), then reloaded with
from_pretrained and its outputs written by hf_logits_v5.write_logits (logits of three sequences,
their mean next-token losses, and 8 greedy tokens after a 10-token prompt):
  qwen2_v5/       Qwen2ForCausalLM (q/k/v biases), 4 heads / 2 KV heads, tied embeddings, transformers
                  5's config form (rope_parameters, dtype, layer_types).
  qwen2_classic/  the same kind of model, untied, config rewritten in the 4.x form (rope_theta,
                  torch_dtype, no layer_types), as Qwen2.5 configs on the hub are.
  qwen3_v5/       Qwen3ForCausalLM (q/k norms), head_dim 32 (q width 128 != hidden 64), untied.
  qwen3_classic/  the same kind, tied, in the 4.x form.
  gemma3_v5/      Gemma3ForCausalLM: 3 layers [sliding, sliding, full] with sliding_window 5 (the 40-token
                  sequence reaches past it), query_pre_attn_scalar 24 (not head_dim 32), rope_parameters
                  per layer type (full 1e6, sliding 1e4), tied embeddings, gelu_pytorch_tanh.
  gemma3_classic/ the same kind in the 4.x form: rope_theta, rope_local_base_freq 2e4,
                  sliding_window_pattern 2 (no layer_types), torch_dtype.
  phi3_v5/        Phi3ForCausalLM (fused qkv_proj and gate_up_proj), untied, sliding_window 7 (every
                  layer: transformers 5 masks all of them; the 40-token sequence reaches past it), plain
                  RoPE (as Phi-3-mini-4k).
  phi3_classic/   the same kind in the 4.x form as Phi-4-mini writes it: tied, top-level
                  partial_rotary_factor 0.75 (12 of 16 head features rotate), rope_scaling
                  {"type": "longrope", short_factor, long_factor}, original_max_position_embeddings 64 of
                  max 256 (attention factor sqrt(1 + ln 4 / ln 64)); every sequence is within 64, so the
                  short factors apply.
  phi3_long_v5/   longrope with original_max_position_embeddings 32 of 128, whole head: the 40-token
                  sequence uses the long factors (transformers picks them for the whole pass when it
                  is longer than 32), the others and the greedy continuation the short ones.
"""
import argparse
import json
import os
import sys

import torch
import transformers
from transformers import (Gemma3ForCausalLM, Gemma3TextConfig, Phi3Config, Phi3ForCausalLM, Qwen2Config,
                          Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM)

sys.path.insert(0, os.path.dirname(__file__))
from hf_logits_v5 import randomize_and_round, save_half, write_logits  # noqa: E402

VOCAB = 300
COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, rms_norm_eps=1e-6, max_position_embeddings=2048, initializer_range=0.15,
              dtype="float16", bos_token_id=1, eos_token_id=2, attn_implementation="eager")


def qwen2(tied):
    return Qwen2ForCausalLM(Qwen2Config(**COMMON, tie_word_embeddings=tied,
                                        rope_parameters={"rope_type": "default", "rope_theta": 1e6}))


def qwen3(tied):
    return Qwen3ForCausalLM(Qwen3Config(**COMMON, head_dim=32, tie_word_embeddings=tied,
                                        rope_parameters={"rope_type": "default", "rope_theta": 1e6}))


def gemma3(_tied):
    cfg = dict(COMMON, num_hidden_layers=3, num_key_value_heads=1)
    return Gemma3ForCausalLM(Gemma3TextConfig(
        **cfg, head_dim=32, query_pre_attn_scalar=24, sliding_window=5,
        layer_types=["sliding_attention", "sliding_attention", "full_attention"], tie_word_embeddings=True,
        rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 1e6},
                         "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}}))


PHI3 = dict(COMMON, pad_token_id=0, original_max_position_embeddings=4096)
SHORT = [1.0, 1.25, 1.6, 2.1, 2.9, 3.7]             # 6 = 12 rotated features / 2
LONG = [1.5, 2.5, 4.0, 6.5, 9.0, 14.0, 19.0, 27.0]  # 8 = 16 / 2 (phi3_long_v5)


def phi3(tied):
    return Phi3ForCausalLM(Phi3Config(**PHI3, tie_word_embeddings=tied, sliding_window=7,
                                      rope_parameters={"rope_type": "default", "rope_theta": 1e4}))


def phi3_partial_longrope(tied):
    cfg = dict(PHI3, max_position_embeddings=256, original_max_position_embeddings=64)
    return Phi3ForCausalLM(Phi3Config(
        **cfg, tie_word_embeddings=tied, sliding_window=262144, partial_rotary_factor=0.75,
        rope_parameters={"rope_type": "longrope", "rope_theta": 1e4, "short_factor": SHORT,
                         "long_factor": [2 * f for f in SHORT]}))


def phi3_long(tied):
    cfg = dict(PHI3, max_position_embeddings=128, original_max_position_embeddings=32)
    return Phi3ForCausalLM(Phi3Config(
        **cfg, tie_word_embeddings=tied,
        rope_parameters={"rope_type": "longrope", "rope_theta": 1e4, "short_factor": [1.0 + 0.2 * i for i in range(8)],
                         "long_factor": LONG}))


def norm_value(gemma):
    def value(name, p):
        if name.endswith("bias"):
            return 0.3 * torch.randn_like(p)
        return (0.0 if gemma else 1.0) + 0.1 * torch.randn_like(p)  # Gemma scales by (1 + w)
    return value


def to_classic(path, gemma):
    """Rewrites transformers 5's config.json in the 4.x form."""
    with open(path) as f:
        cfg = json.load(f)
    rope = cfg.pop("rope_parameters")
    if cfg["model_type"] == "phi3":  # Phi-4-mini's 4.x config: rope_scaling {"type": "longrope", ...}
        cfg["rope_theta"] = rope["rope_theta"]
        cfg["partial_rotary_factor"] = rope["partial_rotary_factor"]
        cfg["rope_scaling"] = {"type": "longrope", "short_factor": rope["short_factor"],
                               "long_factor": rope["long_factor"]}
        cfg["torch_dtype"] = cfg.pop("dtype")
        cfg["transformers_version"] = "4.51.3"
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2, sort_keys=True)
        return
    if gemma:
        cfg["rope_theta"] = rope["full_attention"]["rope_theta"]
        cfg["rope_local_base_freq"] = 2e4
        cfg["sliding_window_pattern"] = 2
    else:
        cfg["rope_theta"] = rope["rope_theta"]
    cfg["rope_scaling"] = None
    cfg.pop("layer_types", None)
    cfg["torch_dtype"] = cfg.pop("dtype")
    cfg["transformers_version"] = "4.51.3"
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)


ONLY = []


def write(sub, build, cls, tied, seed, classic, out_root):
    if ONLY and sub not in ONLY:
        return
    torch.manual_seed(seed)
    model = build(tied).eval()
    gemma = cls is Gemma3ForCausalLM
    randomize_and_round(model, norm_value(gemma))
    out = os.path.abspath(os.path.join(out_root, sub))
    save_half(model, out)
    if classic:
        to_classic(os.path.join(out, "config.json"), gemma)
    reloaded = cls.from_pretrained(out, dtype=torch.float32, attn_implementation="eager").eval()
    if cls is Phi3ForCausalLM and build is not phi3:
        assert reloaded.config.rope_parameters["rope_type"] == "longrope", reloaded.config.rope_parameters
        if classic:
            assert reloaded.config.rope_parameters["partial_rotary_factor"] == 0.75
            assert reloaded.model.rotary_emb.inv_freq.numel() == 6
    if gemma and classic:
        assert reloaded.config.layer_types == ["sliding_attention", "full_attention", "sliding_attention"]
        assert reloaded.config.rope_parameters["sliding_attention"]["rope_theta"] == 2e4
    write_logits(reloaded, out, seed, VOCAB, extras=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden",
                                                  "hf_families"))
    ap.add_argument("only", nargs="*", help="the goldens to write (default: all)")
    args = ap.parse_args()
    ONLY.extend(args.only)
    print("transformers", transformers.__version__, "torch", torch.__version__)
    write("qwen2_v5", qwen2, Qwen2ForCausalLM, True, 601, False, args.out)
    write("qwen2_classic", qwen2, Qwen2ForCausalLM, False, 602, True, args.out)
    write("qwen3_v5", qwen3, Qwen3ForCausalLM, False, 603, False, args.out)
    write("qwen3_classic", qwen3, Qwen3ForCausalLM, True, 604, True, args.out)
    write("gemma3_v5", gemma3, Gemma3ForCausalLM, True, 605, False, args.out)
    write("gemma3_classic", gemma3, Gemma3ForCausalLM, True, 606, True, args.out)
    write("phi3_v5", phi3, Phi3ForCausalLM, False, 607, False, args.out)
    write("phi3_classic", phi3_partial_longrope, Phi3ForCausalLM, True, 608, True, args.out)
    write("phi3_long_v5", phi3_long, Phi3ForCausalLM, False, 609, False, args.out)


if __name__ == "__main__":
    main()
