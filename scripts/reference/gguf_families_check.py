#!/usr/bin/env python3
"""Hand check: llama.cpp's own converter turns the family goldens into GGUF files that mlxft loads with
transformers' logits. Not a committed golden (the lead's Gemma 3 270M test is the real-model one).

Run by hand, in the reference venv, with the llama-cpp-python sdist unpacked (see gguf_convert_parity.py):
    PYTHONPATH=$LCP/gguf-py .venv-ref/bin/python scripts/reference/gguf_families_check.py \
        qwen2_v5 qwen3_v5 qwen2_classic gemma3_v5 phi3_v5 phi3_classic phi3_long_v5
    # with LCP=.../vendor/llama.cpp, MLXFT=build/mlxft

Per golden of tests/golden/hf_families: a SentencePiece tokenizer (the converter needs one), the f32
conversion, and `mlxft model logits` of the GGUF on the golden's 40-token sequence against transformers.
Gemma 3: llama.cpp cannot express every config (the converter writes no layer pattern, llama.cpp uses 6,
and scales attention by 1/sqrt(head_dim)), so its copy gets query_pre_attn_scalar = head_dim and three
sliding layers and transformers' logits are recomputed for it. The converter adds 1 to Gemma's norm
weights in the model's float16, which rounds them (half an fp16 ulp at 1, 4.9e-4): rel ~7e-4 there.
Phi-3: the converter writes attn_qkv and ffn_up (gate | up) fused, rope.dimension_count (partial
rotary), attention.sliding_window, and for longrope rope_factors_short/long, the original context and
the attention factor; no copy is changed.
"""
import os, shutil, subprocess, sys, json
import sentencepiece as spm
import numpy as np
from safetensors.numpy import load_file
LCP = os.environ["LCP"]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "golden", "hf_families")
TEXT = ("the quick brown fox jumps over the lazy dog. a model reads tokens and writes logits. "
        "rotary embeddings rotate pairs of query and key features by position. ") * 40
work = os.path.join(os.environ.get("TMPDIR", "/tmp"), "mlxft_gguf_families")
shutil.rmtree(work, ignore_errors=True); os.makedirs(work)
with open(os.path.join(work, "text.txt"), "w") as f:
    f.write(TEXT.replace(". ", ".\n"))
spm.SentencePieceTrainer.train(input=os.path.join(work, "text.txt"), model_prefix=os.path.join(work, "tokenizer"),
                               vocab_size=120, model_type="bpe", character_coverage=1.0,
                               bos_id=1, eos_id=2, unk_id=0, pad_id=-1, minloglevel=2)
for sub in sys.argv[1:]:
    d = os.path.join(work, sub)
    shutil.copytree(os.path.join(ROOT, sub), d)
    os.remove(os.path.join(d, "logits.safetensors"))
    shutil.copy(os.path.join(work, "tokenizer.model"), d)
    out = os.path.join(work, sub + ".gguf")
    r = subprocess.run([sys.executable, os.path.join(LCP, "convert_hf_to_gguf.py"), "--outtype", "f32", "--outfile", out, d],
                       capture_output=True, text=True)
    if r.returncode: print(sub, "convert failed", r.stderr[-2000:]); continue
    g = load_file(os.path.join(ROOT, sub, "logits.safetensors"))
    ids = g["tokens_2"][0].tolist()
    if sub.startswith("gemma3"):  # what llama.cpp can express: scale 1/sqrt(head_dim), pattern 6
        cfg = json.load(open(os.path.join(d, "config.json")))
        cfg["query_pre_attn_scalar"] = 32
        cfg["layer_types"] = ["sliding_attention"] * 3
        json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
        import torch
        from transformers import Gemma3ForCausalLM
        m = Gemma3ForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
        with torch.no_grad():
            g = {"logits_2": m(torch.tensor([ids])).logits.numpy()}
        os.remove(out)
        r = subprocess.run([sys.executable, os.path.join(LCP, "convert_hf_to_gguf.py"), "--outtype", "f32", "--outfile", out, d],
                           capture_output=True, text=True)
    lo = os.path.join(work, sub + ".logits.safetensors")
    r = subprocess.run([os.environ.get("MLXFT", "build/mlxft"), "model", "logits", "--model", out, "--ids", ",".join(map(str, ids)), "--out", lo],
                       capture_output=True, text=True)
    if r.returncode: print(sub, "mlxft failed", r.stdout[-1500:], r.stderr[-1500:]); continue
    got = load_file(lo)["logits"]; want = g["logits_2"]
    diff = np.abs(got - want).max(axis=-1)[0]
    print(sub, "max rel", float(diff.max() / np.abs(want).max()), "first 5 positions", float(diff[:5].max() / np.abs(want).max()))
