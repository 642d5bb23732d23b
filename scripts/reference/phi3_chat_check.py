#!/usr/bin/env python3
"""Hand check: mlxft's phi3 chat format renders the ids that Phi-3.5-mini's own chat template gives.

Run by hand, in the reference venv, after building mlxft:
    /work/main/.venv-ref/bin/python scripts/reference/phi3_chat_check.py [--mlxft build/mlxft]

A tiny byte-level BPE tokenizer (Hugging Face `tokenizers`, trained on a few sentences, 250 tokens)
with Phi-3's special tokens (<|endoftext|> EOS, <|system|>, <|user|>, <|assistant|>, <|end|>) and
Phi-3.5-mini-instruct's chat template (below, as its tokenizer_config.json has it) is written into a
copy of tests/golden/hf_families/phi3_v5. transformers' apply_chat_template(tokenize=True) renders
text-only conversations (with and without a system message, several turns); `mlxft data render`
renders the same JSONL with that directory as --model. The ids must be equal and mlxft's mask must
cover exactly each assistant turn's content and its <|end|>. Tools are not checked (the template
has no tool convention; mlxft's Hermes form is its own). Exits 1 on a difference.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "golden", "hf_families")
TEMPLATE = ("{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}"
            "{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}"
            "{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}"
            "{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}"
            "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}")
SPECIAL = ["<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
TEXT = ["the quick brown fox jumps over the lazy dog", "what is the weather in Paris today?",
        "It is sunny and 20 degrees.", "Be brief and answer in one line.", "thanks, and in Rome?"] * 20
CONVERSATIONS = [
    [{"role": "user", "content": "what is the weather in Paris today?"},
     {"role": "assistant", "content": "It is sunny and 20 degrees."}],
    [{"role": "system", "content": "Be brief and answer in one line."},
     {"role": "user", "content": "the quick brown fox"},
     {"role": "assistant", "content": "jumps over the lazy dog"},
     {"role": "user", "content": "thanks, and in Rome?"},
     {"role": "assistant", "content": "Rome: 24 degrees, clear."}],
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlxft", default="build/mlxft")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="phi3_chat_")
    model = os.path.join(work, "model")
    shutil.copytree(os.path.join(ROOT, "phi3_v5"), model)
    os.remove(os.path.join(model, "logits.safetensors"))
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(TEXT, trainers.BpeTrainer(vocab_size=250, special_tokens=SPECIAL,
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", chat_template=TEMPLATE)
    fast.save_pretrained(model)
    hf = AutoTokenizer.from_pretrained(model)
    data = os.path.join(work, "data.jsonl")
    with open(data, "w") as f:
        for c in CONVERSATIONS:
            f.write(json.dumps({"messages": c}) + "\n")
    out = os.path.join(work, "render.jsonl")
    r = subprocess.run([args.mlxft, "data", "render", "--model", model, "--data", data, "--out", out,
                        "--min-examples", "1"], capture_output=True, text=True)
    if r.returncode:
        print("mlxft failed", r.stdout[-2000:], r.stderr[-2000:])
        sys.exit(1)
    rendered = [json.loads(line) for line in open(out)]
    bad = 0
    end_id = hf.convert_tokens_to_ids("<|end|>")
    for c, got in zip(CONVERSATIONS, rendered):
        want = hf.apply_chat_template(c, tokenize=True)
        want = list(want["input_ids"] if isinstance(want, dict) or hasattr(want, "keys") else want)
        trained = [i for i, m in zip(got["ids"], got["mask"]) if m]
        expect_trained = []
        for m in c:
            if m["role"] == "assistant":
                expect_trained += hf.encode("\n" + m["content"], add_special_tokens=False)[len(hf.encode("\n", add_special_tokens=False)):] + [end_id]
        ok = got["ids"] == want and trained == expect_trained
        bad += not ok
        print(f"{len(c)} messages: {len(want)} ids, {'equal' if got['ids'] == want else 'DIFFERENT'}; "
              f"mask {'ok' if trained == expect_trained else 'DIFFERENT'}")
        if not ok:
            print(" hf   ", want)
            print(" mlxft", got["ids"])
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
