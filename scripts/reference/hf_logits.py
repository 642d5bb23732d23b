#!/usr/bin/env python3
"""Golden logits from Hugging Face transformers for mlxft's forward-pass parity test.

Run by hand (CI only runs the C++ side), in a venv with torch + transformers:
    /work/refvenv/bin/python scripts/reference/hf_logits.py [--out tests/golden/hf_tiny]

Builds two tiny random models in float32 with fixed seeds, saves each with
save_pretrained (safetensors) and writes its logits for three fixed token
sequences (lengths 1, 7, 33) to logits.safetensors (tokens_i int32 [1, T],
logits_i float32 [1, T, V]):
  mistral/      MistralForCausalLM: hidden 64, 4 layers, 4 heads, 2 KV heads (GQA),
                intermediate 128, vocab 1024, rope_theta 1e6, untied head.
  llama_tied/   LlamaForCausalLM: hidden 64, 2 layers, 4 heads = 4 KV heads, explicit
                head_dim 32 (q width 128 != hidden), tied embeddings, rope_theta 5e5.
The vocab is 1024 (not the tokenizer's 32768) to keep the files small, and the
weights are rounded to float16 and stored so: the float32 model that produced the
logits holds exactly those values, so the C++ side (which upcasts to float32)
computes with identical weights.
"""
import argparse
import os

import torch
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM

SEQ_LENGTHS = (1, 7, 33)
VOCAB = 1024


def build(kind):
    if kind == "mistral":
        cfg = MistralConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                            num_attention_heads=4, num_key_value_heads=2, rope_theta=1e6, rms_norm_eps=1e-5,
                            max_position_embeddings=4096, sliding_window=None, tie_word_embeddings=False,
                            torch_dtype="float16", attn_implementation="eager")
        return MistralForCausalLM(cfg)
    cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, head_dim=32, rope_theta=5e5,
                      rms_norm_eps=1e-6, max_position_embeddings=2048, tie_word_embeddings=True,
                      torch_dtype="float16", attn_implementation="eager")
    return LlamaForCausalLM(cfg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "hf_tiny"))
    args = ap.parse_args()
    for seed, kind, sub in ((1234, "mistral", "mistral"), (4321, "llama", "llama_tied")):
        torch.manual_seed(seed)
        model = build(kind).eval()
        # Round every weight to float16 so the stored file (float16) and this model agree exactly.
        with torch.no_grad():
            for p in model.parameters():
                if p.dim() == 1:  # norms: non-trivial weights, so they are tested too
                    p.copy_(1.0 + 0.1 * torch.randn_like(p))
                p.copy_(p.half().float())
        out = os.path.abspath(os.path.join(args.out, sub))
        os.makedirs(out, exist_ok=True)
        model.half().save_pretrained(out, safe_serialization=True)
        model.float()
        gen = torch.Generator().manual_seed(seed + 1)
        tensors = {}
        with torch.no_grad():
            for i, n in enumerate(SEQ_LENGTHS):
                tokens = torch.randint(0, VOCAB, (1, n), generator=gen)
                logits = model(tokens).logits.float()
                tensors[f"tokens_{i}"] = tokens.to(torch.int32).contiguous()
                tensors[f"logits_{i}"] = logits.contiguous()
        save_file(tensors, os.path.join(out, "logits.safetensors"), metadata={"format": "pt"})
        os.remove(os.path.join(out, "generation_config.json"))  # not needed by the test
        print(out, sorted(os.listdir(out)))


if __name__ == "__main__":
    main()
