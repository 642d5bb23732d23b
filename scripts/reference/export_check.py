#!/usr/bin/env python3
"""The exports of mlxft judged by the real consumers: transformers loads `mlxft fuse`'s directory,
llama.cpp (llama-cpp-python) runs `mlxft export gguf` and `mlxft export gguf-lora`.

Run by hand (CI keeps the C++ side and small goldens), in the reference venv:
    make export-check            # or:
    .venv-ref/bin/python scripts/reference/export_check.py --mlxft build/mlxft \
        --smollm2 PATH/SmolLM2-135M-Instruct.Q4_1.gguf --v3-tokenizer PATH/tokenizer.model.v3 [--work DIR]

For two models: a tiny random Mistral-shaped model with the real Mistral v3 tokenizer (`mlxft model
init --preset tiny`, an HF directory) and SmolLM2-135M-Instruct (a Q4_1 GGUF), each with a random
PEFT adapter of rank 8 on all seven projections of every layer (B != 0, so the adapter changes the
model), it checks:
  fuse:      transformers' logits of the fused directory (float32) vs `mlxft model logits` with the
             adapter: max |diff| <= 1e-4; transformers' tokenizer of the fused directory encodes a
             text as `mlxft tokenize` does on the base.
  gguf f32:  llama.cpp's greedy continuation of the exported f32 GGUF == mlxft's with the adapter.
  gguf q8_0: llama.cpp's per-token loss of a text within 1 % (mean) of mlxft's with the adapter.
  gguf-lora: llama.cpp with the LoRA GGUF on the base f32 GGUF: the same greedy continuation as the
             fused f32 GGUF.
With --families (and --llama-cpp, llama.cpp's source tree) it checks Qwen2, Qwen3 and Gemma 3 instead:
see export_families.py.
Prints the numbers and the file sizes; exits 1 when a check fails. With --golden DIR it also writes
what CI compares against for the tiny Mistral (tests/golden/gguf_export, tests/export/llama_cpp_golden_test.cpp):
the adapter (DIR/adapter) and llama.cpp's results on mlxft's exports of it (DIR/llama_cpp.json: the
prompt and text ids, the greedy ids of the f32 GGUF and of base GGUF + LoRA GGUF, the per-token loss
of the q8_0 GGUF).
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

TEXT = ("The quick brown fox jumps over the lazy dog. Fine-tuning adapts a pretrained model to a task; "
        "LoRA learns a low-rank update of each projection. 12345 + 678 = 13023.")
PROMPT = "Once upon a time, in a small village by the sea,"
GREEDY = 24
FAILED = []
GOLDEN = {}


def check(name, ok, detail):
    print(f"  {'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)
    if not ok:
        FAILED.append(name)


def mlxft(args, *argv):
    r = subprocess.run([args.mlxft, *map(str, argv)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"mlxft {' '.join(map(str, argv))} failed:\n{r.stderr}")
    return r.stdout


def make_adapter(dir_, cfg, seed, rank=8, alpha=16.0, std=0.02):
    """A PEFT adapter directory with random A and B on every projection of every layer."""
    rng = np.random.default_rng(seed)
    h, inter = cfg["hidden_size"], cfg["intermediate_size"]
    hd = cfg.get("head_dim") or h // cfg["num_attention_heads"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    shapes = {"self_attn.q_proj": (h, q), "self_attn.k_proj": (h, kv), "self_attn.v_proj": (h, kv),
              "self_attn.o_proj": (q, h), "mlp.gate_proj": (h, inter), "mlp.up_proj": (h, inter),
              "mlp.down_proj": (inter, h)}
    tensors = {}
    for layer in range(cfg["num_hidden_layers"]):
        for module, (fin, fout) in shapes.items():
            key = f"base_model.model.model.layers.{layer}.{module}"
            tensors[key + ".lora_A.weight"] = rng.normal(0, std, (rank, fin)).astype(np.float32)
            tensors[key + ".lora_B.weight"] = rng.normal(0, std, (fout, rank)).astype(np.float32)
    os.makedirs(dir_)
    save_file(tensors, os.path.join(dir_, "adapter_model.safetensors"), metadata={"format": "pt"})
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": alpha,
              "lora_dropout": 0.0, "target_modules": [m.split(".")[1] for m in shapes], "bias": "none",
              "fan_in_fan_out": False, "use_rslora": False, "use_dora": False, "inference_mode": True}
    with open(os.path.join(dir_, "adapter_config.json"), "w") as f:
        json.dump(config, f)


def mlxft_logits(args, model, adapter, ids, work, greedy=0):
    out = os.path.join(work, "logits.safetensors")
    argv = ["model", "logits", "--model", model, "--ids", ",".join(map(str, ids)), "--out", out,
            "--greedy", greedy]
    if adapter:
        argv += ["--adapter", adapter]
    printed = mlxft(args, *argv)
    logits = load_file(out)["logits"][0]
    os.remove(out)
    return logits, (json.loads(printed) if greedy else [])


def tokenize(args, model, text):
    return json.loads(mlxft(args, "tokenize", "--model", model, "--text", text))


def size(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
    return os.path.getsize(path)


def check_fuse(args, name, model, adapter, work):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    fused = os.path.join(work, "fused")
    mlxft(args, "fuse", "--model", model, "--adapter", adapter, "--out", fused)
    print(f"  fused directory: {size(fused) / 1e6:.1f} MB ({', '.join(sorted(os.listdir(fused)))})")
    ids = tokenize(args, model, TEXT)
    tok = AutoTokenizer.from_pretrained(fused)
    hf_ids = tok.encode(TEXT, add_special_tokens=False)
    check(f"{name} fuse tokenizer", hf_ids == ids, f"transformers {len(hf_ids)} ids, mlxft {len(ids)} ids")
    hf = AutoModelForCausalLM.from_pretrained(fused, dtype=torch.float32).eval()
    with torch.no_grad():
        hf_logits = hf(torch.tensor([ids])).logits[0].numpy()
    ours, _ = mlxft_logits(args, model, adapter, ids, work)
    base, _ = mlxft_logits(args, model, None, ids, work)
    diff = float(np.abs(hf_logits - ours).max())
    effect = float(np.abs(base - ours).max())
    check(f"{name} fuse logits", diff <= 1e-4 and effect > 100 * diff,
          f"max |transformers(fused) - mlxft(base + adapter)| = {diff:.2e} over {ids.__len__()} tokens "
          f"(the adapter itself moves the logits by up to {effect:.3f})")
    return ids


def nll(logits, ids):
    logits = logits.astype(np.float64)
    m = logits.max(-1, keepdims=True)
    logp = logits - m - np.log(np.exp(logits - m).sum(-1, keepdims=True))
    return -logp[np.arange(len(ids) - 1), ids[1:]]


def no_amx_repack():
    """llama.cpp repacks quantized weights for AMX where the CPU has it; on machines whose kernel does not
    grant the AMX tile state (sandboxes) that dies of SIGILL (tilezero). Load without the extra buffer
    types (llama.cpp's --no-repack): the plain CPU kernels, the same numbers."""
    import llama_cpp.llama as module
    default = module.llama_cpp.llama_model_default_params

    def params():
        p = default()
        p.use_extra_bufts = False
        return p
    module.llama_cpp.llama_model_default_params = params


def llama_run(path, ids, greedy, lora=None, f32_cache=False):
    from llama_cpp import Llama
    kw = dict(model_path=path, logits_all=True, n_ctx=256, verbose=False, seed=0)
    if f32_cache:  # llama.cpp's default KV cache is F16 (relative error ~1e-3); F32 compares the model itself
        kw.update(type_k=0, type_v=0)
    if lora:
        kw["lora_path"] = lora
    llm = Llama(**kw)
    llm.eval(ids)
    logits = np.array(llm.scores[:len(ids)], dtype=np.float32)
    cont = []
    for _ in range(greedy):
        nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        cont.append(nxt)
        llm.eval([nxt])
    del llm
    return logits, cont


def check_gguf(args, name, model, adapter, work, text_ids, prompt_ids):
    f32 = os.path.join(work, "fused-f32.gguf")
    mlxft(args, "export", "gguf", "--model", model, "--adapter", adapter, "--out", f32, "--type", "f32")
    _, ours = mlxft_logits(args, model, adapter, prompt_ids, work, GREEDY)
    _, theirs = llama_run(f32, prompt_ids, GREEDY)
    _, base_cont = mlxft_logits(args, model, None, prompt_ids, work, GREEDY)
    GOLDEN.update(prompt_ids=prompt_ids, text_ids=text_ids, greedy_f32=theirs)
    check(f"{name} gguf f32 greedy", ours == theirs,
          f"llama.cpp {theirs}\n         mlxft     {ours} (base without adapter: {base_cont})")
    sizes = {"f32": size(f32)}
    ref, _ = mlxft_logits(args, model, adapter, text_ids, work)
    ref_nll = nll(ref, text_ids)
    for t in ("f16", "q8_0", "q4_0"):
        path = os.path.join(work, f"fused-{t}.gguf")
        mlxft(args, "export", "gguf", "--model", model, "--adapter", adapter, "--out", path, "--type", t)
        sizes[t] = size(path)
        logits, _ = llama_run(path, text_ids, 0)
        got = nll(logits, text_ids)
        GOLDEN[f"nll_{t}"] = [float(v) for v in got]
        rel = abs(got.mean() - ref_nll.mean()) / ref_nll.mean()
        tol = {"f16": 0.01, "q8_0": 0.01, "q4_0": 0.10}[t]
        check(f"{name} gguf {t} loss", rel <= tol,
              f"mean per-token loss llama.cpp {got.mean():.4f} vs mlxft {ref_nll.mean():.4f}: {100 * rel:.3f} % "
              f"(max per-token |diff| {np.abs(got - ref_nll).max():.4f}; limit {100 * tol:g} %)")
    base = os.path.join(work, "base-f32.gguf")
    lora = os.path.join(work, "adapter.gguf")
    mlxft(args, "export", "gguf", "--model", model, "--out", base, "--type", "f32")
    mlxft(args, "export", "gguf-lora", "--model", model, "--adapter", adapter, "--out", lora)
    sizes["lora"] = size(lora)
    _, with_lora = llama_run(base, prompt_ids, GREEDY, lora=lora)
    GOLDEN["greedy_lora"] = with_lora
    check(f"{name} gguf-lora greedy", with_lora == theirs,
          f"base GGUF + LoRA GGUF {with_lora}\n         fused GGUF           {theirs}")
    # The fused HF directory as a source: its tokenizer files (copied, or rebuilt from a GGUF vocabulary)
    # become the GGUF vocabulary llama.cpp tokenizes with.
    from llama_cpp import Llama
    from_dir = os.path.join(work, "from-fused-dir-f32.gguf")
    mlxft(args, "export", "gguf", "--model", os.path.join(work, "fused"), "--out", from_dir, "--type", "f32")
    llm = Llama(model_path=from_dir, n_ctx=256, verbose=False, vocab_only=True)
    lc_ids = llm.tokenize(TEXT.encode(), add_bos=False, special=False)
    del llm
    check(f"{name} gguf from fused dir: llama.cpp tokenizer", lc_ids == text_ids,
          f"llama.cpp {len(lc_ids)} ids, mlxft {len(text_ids)} ids")
    _, again = llama_run(from_dir, prompt_ids, GREEDY)
    check(f"{name} gguf from fused dir: greedy", again == theirs, f"{again}")
    for t, s in sizes.items():
        print(f"  size {t}: {s / 1e6:.2f} MB")
    with open(os.path.join(work, "fused-f32.Modelfile")) as f:
        print("  Modelfile beside fused-f32.gguf:\n    " + f.read().strip().replace("\n", "\n    "))


def run_model(args, name, model, cfg, work):
    print(f"== {name}", flush=True)
    os.makedirs(work)
    adapter = os.path.join(work, "adapter")
    make_adapter(adapter, cfg, seed=7)
    text_ids = check_fuse(args, name, model, adapter, work)
    if args.fuse_only:
        return
    prompt_ids = tokenize(args, model, PROMPT)
    check_gguf(args, name, model, adapter, work, text_ids, prompt_ids)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mlxft", default="build/mlxft")
    p.add_argument("--smollm2")
    p.add_argument("--v3-tokenizer")
    p.add_argument("--families", action="store_true", help="Qwen2, Qwen3, Gemma 3 (export_families.py)")
    p.add_argument("--llama-cpp", help="--families: llama.cpp's source tree (its converters)")
    p.add_argument("--golden-families", help="--families: write the CI goldens here")
    p.add_argument("--gemma3-270m", help="--families: also the real Gemma 3 270M Q4_K_M GGUF")
    p.add_argument("--work")
    p.add_argument("--fuse-only", action="store_true")
    p.add_argument("--only", choices=["mistral", "smollm2"])
    p.add_argument("--golden", help="write the tiny Mistral's adapter and llama.cpp's results here")
    args = p.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="mlxft-export-check-")
    if args.families:
        if not args.llama_cpp:
            p.error("--families needs --llama-cpp")
        import export_families
        args.work = work
        export_families.main(args)
        print(f"work directory: {work}")
        failed = export_families.ec.FAILED  # the module's own copy of this file
        sys.exit(f"FAILED: {', '.join(failed)}" if failed else 0)
    if not (args.smollm2 and args.v3_tokenizer):
        p.error("--smollm2 and --v3-tokenizer are required")
    no_amx_repack()
    if args.only != "smollm2":
        mistral = os.path.join(work, "mistral-base")
        mlxft(args, "model", "init", "--preset", "tiny", "--tokenizer", args.v3_tokenizer, "--out", mistral,
              "--seed", 3)
        with open(os.path.join(mistral, "config.json")) as f:
            cfg = json.load(f)
        run_model(args, "mistral-tiny (v3 tokenizer)", mistral, cfg, os.path.join(work, "mistral"))
        if args.golden and not args.fuse_only:
            os.makedirs(args.golden, exist_ok=True)
            shutil.rmtree(os.path.join(args.golden, "adapter"), ignore_errors=True)
            shutil.copytree(os.path.join(work, "mistral", "adapter"), os.path.join(args.golden, "adapter"))
            with open(os.path.join(args.golden, "llama_cpp.json"), "w") as f:
                json.dump({k: GOLDEN[k] for k in ("prompt_ids", "text_ids", "greedy_f32", "greedy_lora", "nll_q8_0")},
                          f)
                f.write("\n")
    if args.only != "mistral":
        info = mlxft(args, "model", "info", args.smollm2)
        cfg = {"hidden_size": 576, "intermediate_size": 1536, "num_attention_heads": 9, "num_key_value_heads": 3,
               "num_hidden_layers": 30}
        assert "hidden 576, 30 layers, 9 heads / 3 KV heads" in info, info
        run_model(args, "SmolLM2-135M-Instruct (Q4_1 GGUF base)", args.smollm2, cfg, os.path.join(work, "smollm2"))
    print(f"work directory: {work}")
    if FAILED:
        sys.exit(f"FAILED: {', '.join(FAILED)}")
    print("all checks passed")


if __name__ == "__main__":
    main()
