#!/usr/bin/env python3
"""Golden LoRA gradients from Hugging Face PEFT for mlxft's gradient-parity test.

Run by hand (CI only runs the C++ side, tests/parity/peft_grads_test.cpp), in a venv
with torch + transformers + peft:
    /work/refvenv/bin/python scripts/reference/peft_grads.py [--out tests/golden/peft_grads]

Writes:
  model/    a tiny random MistralForCausalLM (hidden 64, 2 layers, 4 heads, 2 KV heads,
            intermediate 128, vocab 512, rope_theta 1e6, untied head), weights rounded to
            float16 and stored so, which the float32/float64 model here holds exactly.
  adapter/  its PEFT LoRA adapter (r 4, alpha 8, dropout 0, q_proj v_proj o_proj down_proj),
            A and B set to fixed non-zero values (so A's gradient is not trivially zero),
            saved with save_pretrained.
  grads.safetensors
            inputs int32 [2, T], targets int32 [2, T], mask float32 [2, T]: two sequences of
            lengths T and 7, right-padded with token 0, the loss mask on a subset of the real
            positions; loss float32 [1] = sum of masked token NLL / number of masked tokens;
            and the gradient of that loss for every lora_A / lora_B (PEFT key names).
The forward and backward run in float64 on the saved model reloaded with from_pretrained, so
the golden values carry no float32 rounding of the matmuls; the C++ side computes in float32
and is compared with a relative tolerance.
"""
import argparse
import os

import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from transformers import MistralConfig, MistralForCausalLM

VOCAB = 512
SEED = 2024
LENGTHS = (12, 7)  # model inputs per sequence; the batch is right-padded to the longest
TARGETS = ["q_proj", "v_proj", "o_proj", "down_proj"]


def build_model():
    cfg = MistralConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, rope_theta=1e6, rms_norm_eps=1e-5,
                        max_position_embeddings=4096, sliding_window=None, tie_word_embeddings=False,
                        torch_dtype="float16", attn_implementation="eager")
    model = MistralForCausalLM(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1:  # norms: non-trivial weights, so they are part of the test
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            p.copy_(p.half().float())
    return model


def batch(gen):
    """Right-padded inputs/targets and a loss mask over a subset of the real positions."""
    T = max(LENGTHS)
    inputs = torch.zeros(len(LENGTHS), T, dtype=torch.long)
    targets = torch.zeros(len(LENGTHS), T, dtype=torch.long)
    mask = torch.zeros(len(LENGTHS), T)
    for row, n in enumerate(LENGTHS):
        ids = torch.randint(1, VOCAB, (n + 1,), generator=gen)
        inputs[row, :n] = ids[:n]
        targets[row, :n] = ids[1:]
        mask[row, :n] = (torch.rand(n, generator=gen) < 0.6).float()
        mask[row, n - 1] = 1.0  # at least the last real position is trained
    return inputs, targets, mask


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden",
                                                   "peft_grads"))
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)

    torch.manual_seed(SEED)
    model = build_model()
    model.half().save_pretrained(os.path.join(out, "model"), safe_serialization=True)
    os.remove(os.path.join(out, "model", "generation_config.json"))  # not needed by the test
    # The reference runs on the saved files, loaded the usual way (RoPE tables as from_pretrained
    # builds them), in float64.
    model = MistralForCausalLM.from_pretrained(os.path.join(out, "model"), torch_dtype=torch.float64,
                                               attn_implementation="eager").eval()

    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=TARGETS,
                                                  task_type="CAUSAL_LM"))
    gen = torch.Generator().manual_seed(SEED + 1)
    lora = {n: p for n, p in peft_model.named_parameters() if "lora_" in n}
    with torch.no_grad():
        for name, p in sorted(lora.items()):
            # Fixed non-zero values of a typical size; float32-exact so the saved adapter is the same.
            p.copy_((0.2 * torch.randn(p.shape, generator=gen, dtype=torch.float64)).float().double())
    peft_model.peft_config["default"].base_model_name_or_path = "../model"

    inputs, targets, mask = batch(gen)
    logits = peft_model(input_ids=inputs).logits  # no attention_mask: causal, padding is at the end
    nll = -torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    loss = (nll * mask.double()).sum() / mask.sum()
    loss.backward()
    assert all(p.dtype == torch.float64 for p in lora.values())

    tensors = {
        "inputs": inputs.to(torch.int32),
        "targets": targets.to(torch.int32),
        "mask": mask.float(),
        "loss": loss.detach().float().reshape(1),
    }
    for name, p in lora.items():
        # "base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight" -> PEFT's file key
        tensors[name.replace(".default", "")] = p.grad.float().contiguous()
    save_file(tensors, os.path.join(out, "grads.safetensors"), metadata={"format": "pt"})

    peft_model.float().save_pretrained(os.path.join(out, "adapter"))
    os.remove(os.path.join(out, "adapter", "README.md"))  # PEFT's model card template
    print(f"loss {loss.item():.6f}, {len(lora)} LoRA tensors, masked tokens {int(mask.sum())}")
    for root, _, files in sorted(os.walk(out)):
        for f in sorted(files):
            print(f"  {os.path.relpath(os.path.join(root, f), out)} {os.path.getsize(os.path.join(root, f))} bytes")


if __name__ == "__main__":
    main()
