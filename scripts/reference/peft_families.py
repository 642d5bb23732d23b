#!/usr/bin/env python3
"""PEFT loads mlxft's adapters on the family goldens and computes mlxft's losses.

Run by hand, after the C++ test has written the adapters and mlxft's losses:
    MLXFT_FAMILY_PEFT_OUT=/tmp/peft_families build/tests/mlxft_tests --gtest_filter='FamilyParity.*'
    /work/main/.venv-ref/bin/python scripts/reference/peft_families.py /tmp/peft_families

For each tests/golden/hf_families/<sub> with a dump: transformers loads the base (float32), PEFT's
PeftModel.from_pretrained loads mlxft's PEFT adapter (rank 4 on every projection of the family: Llama's
seven, or Phi-3's fused qkv_proj and gate_up_proj with o_proj and down_proj; B != 0), and
the mean next-token losses of golden sequences 1 and 2 are compared with mlxft's (rel < 1e-4).
Exits 1 when one differs.
"""
import json
import os
import sys

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "hf_families")


def main():
    out = sys.argv[1]
    bad = 0
    for sub in sorted(os.listdir(out)):
        base = AutoModelForCausalLM.from_pretrained(os.path.join(ROOT, sub), dtype=torch.float32,
                                                    attn_implementation="eager")
        model = PeftModel.from_pretrained(base, os.path.join(out, sub, "adapter")).eval()
        golden = load_file(os.path.join(ROOT, sub, "logits.safetensors"))
        want = json.load(open(os.path.join(out, sub, "mlxft_losses.json")))
        for i, mlxft_loss in zip((1, 2), want):
            tokens = golden[f"tokens_{i}"].long()
            with torch.no_grad():
                loss = model(tokens, labels=tokens).loss.item()
            rel = abs(loss - mlxft_loss) / abs(loss)
            ok = rel < 1e-4
            bad += not ok
            print(f"{sub:16s} seq {i}: peft {loss:.6f} mlxft {mlxft_loss:.6f} rel {rel:.2e} {'ok' if ok else 'FAIL'}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
