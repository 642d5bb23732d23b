#!/usr/bin/env python3
"""Golden KTO loss, metrics and LoRA gradients from TRL's KTOTrainer for mlxft's KTO parity test.

Run by hand (CI only runs the C++ side, tests/parity/kto_trl_test.cpp), in the reference venv
(torch + transformers + peft + trl):
    .venv-ref/bin/python scripts/reference/kto_trl.py [--out tests/golden/kto_trl]

The model and adapter are those of tests/golden/peft_grads (scripts/reference/peft_grads.py: a tiny
random Mistral and a PEFT LoRA with non-zero A and B, dropout 0), loaded here in float64 and wrapped
the way KTOTrainer wraps a PEFT model (TRL's fused LM head added to the base before PEFT). One batch of
four unpaired examples (random prompt and completion ids, labels desirable/undesirable mixed) goes
through TRL's own collator (DataCollatorForUnpairedPreference, KL completions rotated by one as
KTOTrainer._prepare_dataset does) and TRL's own KTOTrainer.compute_loss (policy = adapter on, reference
= adapter off, KL from the mismatched pairs, detached and clamped), then backward.

Writes golden.safetensors:
  ids int32 [4, L] (right-padded with 0), lengths int32 [4], prompt_lengths int32 [4], labels int32 [4];
  beta, desirable_weight, undesirable_weight float32 [1]; loss, kl, rewards_chosen, rewards_rejected
  float32 [1] (TRL's logged metrics); and the gradient of the loss for every lora_A / lora_B (PEFT names).
"""
import argparse
import os
import types
from collections import defaultdict

import torch
from accelerate import Accelerator
from peft import PeftModel
from safetensors.torch import save_file
from transformers import MistralForCausalLM
from trl import KTOTrainer
from trl.trainer.kto_trainer import DataCollatorForUnpairedPreference
from trl.trainer.utils import add_fused_lm_head

HERE = os.path.dirname(os.path.abspath(__file__))
PEFT_GOLDEN = os.path.join(HERE, "..", "..", "tests", "golden", "peft_grads")
VOCAB = 512
SEED = 77
PROMPTS = (5, 3, 6, 4)
COMPLETIONS = (4, 6, 3, 5)
LABELS = (True, False, True, False)
BETA, W_D, W_U = 0.5, 1.0, 1.5


def load_policy():
    base = MistralForCausalLM.from_pretrained(os.path.join(PEFT_GOLDEN, "model"), torch_dtype=torch.float64,
                                              attn_implementation="eager")
    add_fused_lm_head(base, outputs=("log_probs", "entropy", "mean_logits"))
    model = PeftModel.from_pretrained(base, os.path.join(PEFT_GOLDEN, "adapter"), is_trainable=True)
    model.train()  # dropout is 0 everywhere: train mode changes nothing but is what KTOTrainer runs
    return model


def trainer_for(model):
    """A KTOTrainer with the attributes compute_loss reads, without a dataset or tokenizer."""
    t = KTOTrainer.__new__(KTOTrainer)
    t.model = model
    t.ref_model = None
    t.accelerator = Accelerator(cpu=True)
    t.args = types.SimpleNamespace(gradient_checkpointing_kwargs=None)
    t.calculate_KL = True
    t.aux_loss_enabled = False
    t.precompute_ref_logps = False
    t.loss_type = "kto"
    t.beta, t.desirable_weight, t.undesirable_weight = BETA, W_D, W_U
    t._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
    t._total_train_tokens = 0
    t._tp_size = 1
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "tests", "golden", "kto_trl"))
    out = os.path.abspath(ap.parse_args().out)
    os.makedirs(out, exist_ok=True)

    gen = torch.Generator().manual_seed(SEED)
    examples = [{"prompt_ids": torch.randint(1, VOCAB, (p,), generator=gen).tolist(),
                 "completion_ids": torch.randint(1, VOCAB, (c,), generator=gen).tolist(),
                 "label": label} for p, c, label in zip(PROMPTS, COMPLETIONS, LABELS)]
    completions = [e["completion_ids"] for e in examples]
    for e, kl in zip(examples, [completions[-1]] + completions[:-1]):  # KTOTrainer's add_kl_completion_ids
        e["KL_completion_ids"] = kl
    batch = DataCollatorForUnpairedPreference(pad_token_id=0)(examples)

    model = load_policy()
    trainer = trainer_for(model)
    loss = trainer.compute_loss(model, batch)
    loss.backward()
    m = {k: v[-1] for k, v in trainer._metrics["train"].items()}

    lengths = [p + c for p, c in zip(PROMPTS, COMPLETIONS)]
    ids = torch.zeros(len(examples), max(lengths), dtype=torch.int32)
    for row, e in enumerate(examples):
        seq = e["prompt_ids"] + e["completion_ids"]
        ids[row, :len(seq)] = torch.tensor(seq, dtype=torch.int32)
    f32 = lambda v: torch.tensor([float(v)], dtype=torch.float32)  # noqa: E731
    tensors = {
        "ids": ids,
        "lengths": torch.tensor(lengths, dtype=torch.int32),
        "prompt_lengths": torch.tensor(PROMPTS, dtype=torch.int32),
        "labels": torch.tensor([int(x) for x in LABELS], dtype=torch.int32),
        "beta": f32(BETA), "desirable_weight": f32(W_D), "undesirable_weight": f32(W_U),
        "loss": f32(loss.item()), "kl": f32(m["kl"]),
        "rewards_chosen": f32(m["rewards/chosen"]), "rewards_rejected": f32(m["rewards/rejected"]),
    }
    n = 0
    for name, p in model.named_parameters():
        if "lora_" in name:
            tensors[name.replace(".default", "")] = p.grad.float().contiguous()
            n += 1
    save_file(tensors, os.path.join(out, "golden.safetensors"), metadata={"format": "pt"})
    print(f"loss {loss.item():.8f} kl {m['kl']:.6f} rewards chosen {m['rewards/chosen']:.6f} "
          f"rejected {m['rewards/rejected']:.6f}, {n} LoRA gradients")


if __name__ == "__main__":
    main()
