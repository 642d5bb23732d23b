#!/usr/bin/env python3
"""A GGUF made by llama.cpp's own converter from a transformers-made tiny Llama, and the greedy
continuation transformers computes, for mlxft's GGUF loader test (tests/model/gguf_convert_test.cpp).

Run by hand (CI only runs the C++ side), in the reference venv, with the llama-cpp-python source
distribution unpacked (its vendor/llama.cpp holds convert_hf_to_gguf.py, conversion/ and gguf-py/):
    pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d /tmp/lcp   # the sdist
    tar xzf llama_cpp_python-0.3.36.tar.gz
    .venv-ref/bin/python scripts/reference/gguf_convert_parity.py \
        --llama-cpp llama_cpp_python-0.3.36/vendor/llama.cpp [--out tests/golden/gguf_convert]

Steps: train a 96-piece SentencePiece BPE tokenizer (the converter needs a vocabulary), build a
random LlamaForCausalLM in float32 (hidden 32, 2 layers, 2 heads, 1 KV head so Q and K are permuted
with different head counts, head_dim 16, intermediate 48, vocab 96, untied head, rope_theta 5e5,
weights std 0.15, random norms), save it, convert it with `convert_hf_to_gguf.py --outtype f32`,
then run transformers' greedy decoding (argmax, no EOS stop) from a fixed prompt. Writes
tiny_llama_f32.gguf (about 90 KB) and greedy.safetensors: prompt int32 [1, P], continuation int32
[1, N], logits float32 [1, P + N - 1, V] (transformers' logits over prompt + continuation minus the
last token), min_margin float32 [] (the smallest top-1 minus top-2 logit along the greedy path, so a
reader knows how much numerical slack the ids have).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import sentencepiece as spm
import torch
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

VOCAB = 96
PROMPT = [1, 5, 17, 42, 9, 33, 70, 3]
NEW_TOKENS = 24
TEXT = ("the quick brown fox jumps over the lazy dog. a model reads tokens and writes logits. "
        "rotary embeddings rotate pairs of query and key features by position. ") * 40


def tokenizer(dir_):
    with open(os.path.join(dir_, "text.txt"), "w") as f:
        f.write(TEXT.replace(". ", ".\n"))
    spm.SentencePieceTrainer.train(input=os.path.join(dir_, "text.txt"), model_prefix=os.path.join(dir_, "tokenizer"),
                                   vocab_size=VOCAB, model_type="bpe", character_coverage=1.0,
                                   bos_id=1, eos_id=2, unk_id=0, pad_id=-1, minloglevel=2)
    os.remove(os.path.join(dir_, "text.txt"))
    os.remove(os.path.join(dir_, "tokenizer.vocab"))


def model(dir_, rope):
    torch.manual_seed(2024)
    cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, head_dim=16, rms_norm_eps=1e-5,
                      max_position_embeddings=512, tie_word_embeddings=False, initializer_range=0.15,
                      rope_parameters=dict(rope, rope_theta=5e5), bos_token_id=1,
                      eos_token_id=2, attn_implementation="eager")
    m = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() == 1:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
    m.save_pretrained(dir_, safe_serialization=True)
    return m


def greedy(m):
    ids = torch.tensor([PROMPT])
    margin = float("inf")
    with torch.no_grad():
        for _ in range(NEW_TOKENS):
            last = m(ids).logits[0, -1]
            top2 = torch.topk(last, 2).values
            margin = min(margin, float(top2[0] - top2[1]))
            ids = torch.cat([ids, last.argmax().view(1, 1)], dim=1)
        logits = m(ids[:, :-1]).logits.float()
    return ids[:, len(PROMPT):], logits, margin


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama-cpp", required=True, help="vendor/llama.cpp of the llama-cpp-python sdist")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden",
                                                  "gguf_convert"))
    ap.add_argument("--llama3", action="store_true",
                    help="Llama 3.1's rope scaling (factor 8, low/high 1/4, original context 8192; the converter "
                         "writes it as rope_freqs.weight); not a committed golden, a hand check")
    args = ap.parse_args()
    work = tempfile.mkdtemp()
    tokenizer(work)
    rope = {"rope_type": "default"}
    if args.llama3:
        rope = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192}
    m = model(work, rope)
    gguf_path = os.path.join(work, "tiny_llama_f32.gguf")
    subprocess.run([sys.executable, os.path.join(args.llama_cpp, "convert_hf_to_gguf.py"), "--outtype", "f32",
                    "--outfile", gguf_path, work], check=True)
    continuation, logits, margin = greedy(m)
    assert margin > 1e-3, f"greedy path too close to a tie ({margin}); change the seed"
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    shutil.copy(gguf_path, os.path.join(out, "tiny_llama_f32.gguf"))
    save_file({"prompt": torch.tensor([PROMPT], dtype=torch.int32), "continuation": continuation.to(torch.int32),
               "logits": logits.contiguous(), "min_margin": torch.tensor(margin, dtype=torch.float32)},
              os.path.join(out, "greedy.safetensors"), metadata={"format": "pt"})
    shutil.rmtree(work)
    print(out, {f: os.path.getsize(os.path.join(out, f)) for f in sorted(os.listdir(out))},
          "continuation", continuation.tolist(), "min margin", margin)


if __name__ == "__main__":
    main()
