#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets added for issue 34 (fuzz/corpus/<target>/) from the test
files: small, valid inputs each target's fuzzer starts from. Run once by hand with a Python that has
gguf and sentencepiece (.venv-ref); the seeds are committed.

    .venv-ref/bin/python fuzz/make_seeds.py
"""
import io
import json
import pathlib
import struct

import gguf
import sentencepiece as spm

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
CUT = b"\n--8<--\n"


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors):
    """tensors: name -> (dtype, shape, bytes)."""
    header, blob = {}, b""
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + blob


def main():
    hf = ROOT / "tests/golden/hf_tiny"
    put("config_json", "mistral.json", (hf / "mistral/config.json").read_bytes())
    put("config_json", "llama_tied.json", (hf / "llama_tied/config.json").read_bytes())
    cfg = json.loads((hf / "llama_tied/config.json").read_text())
    v5 = dict(cfg)
    v5.pop("rope_theta", None)
    v5["rope_parameters"] = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                             "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                             "original_max_position_embeddings": 8192}
    v5["dtype"] = "bfloat16"
    put("config_json", "llama3_v5.json", json.dumps(v5))
    q = json.loads((hf / "mistral/config.json").read_text())
    q["quantization"] = {"group_size": 64, "bits": 4, "mode": "affine", "lm_head": False,
                         "model.layers.0.mlp.down_proj": {"group_size": 32, "bits": 8}}
    put("config_json", "quantized.json", json.dumps(q))

    f32 = lambda n: struct.pack(f"<{n}f", *[0.5] * n)
    weights = safetensors({"model.norm.weight": ("F32", [4], f32(4)),
                           "model.layers.0.mlp.up_proj.weight": ("F16", [2, 2], b"\0\x3c" * 4)})
    put("safetensors", "two_tensors.safetensors", weights)
    index = {"metadata": {"total_size": 24}, "weight_map": {
        "model.norm.weight": "model-00001-of-00002.safetensors",
        "model.layers.0.mlp.up_proj.weight": "model-00002-of-00002.safetensors"}}
    put("safetensors", "with_index", weights + CUT + json.dumps(index).encode())

    bpe = ROOT / "tests/golden/bpe"
    for name in ("tiny_gpt2", "tiny_qwen2", "tiny_llama3"):
        put("tokenizer_json", name + ".json", (bpe / name / "tokenizer.json").read_bytes())
    tc = {"bos_token": "<|im_start|>", "eos_token": {"content": "<|im_end|>"}, "add_bos_token": False,
          "chat_template": [{"name": "default", "template": "{{ messages }}"}]}
    put("tokenizer_json", "with_config", (bpe / "tiny_gpt2/tokenizer.json").read_bytes() + CUT +
        json.dumps(tc).encode())

    model = io.BytesIO()
    text = ["Hello world, this is a tiny SentencePiece model.", "Fuzzing the loader: 123 abc!"] * 20
    spm.SentencePieceTrainer.train(sentence_iterator=iter(text), model_writer=model, vocab_size=60, normalization_rule_name="identity",
                                   model_type="bpe", character_coverage=1.0)
    put("spm", "tiny_bpe.model", model.getvalue())

    for name in ("quick-test.yaml", "kto-smollm2.yaml", "mistral-7b-low-memory.yaml"):
        put("recipe", name, (ROOT / "configs" / name).read_bytes())

    put("chat_tool_calls", "mistral.txt",
        '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris", "days": [1, 2]}}]')
    put("chat_tool_calls", "chatml.txt",
        '<tool_call>\n{"name": "search", "arguments": {"q": "x"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "f", "arguments": "{\\"a\\": 1}"}\n</tool_call>')
    put("chat_tool_calls", "plain.txt", 'I will call it.\nget_weather({"city": "Rome"})')

    a = f32(8 * 2)
    put("adapter", "mlx_lm", b"\0" + json.dumps({
        "fine_tune_type": "lora", "num_layers": 1,
        "lora_parameters": {"rank": 2, "scale": 2.0, "dropout": 0.0, "keys": ["self_attn.q_proj"]}}).encode()
        + CUT + safetensors({"model.layers.0.self_attn.q_proj.lora_a": ("F32", [8, 2], a),
                             "model.layers.0.self_attn.q_proj.lora_b": ("F32", [2, 8], a)}))
    put("adapter", "peft", b"\1" + json.dumps({
        "peft_type": "LORA", "r": 2, "lora_alpha": 4, "lora_dropout": 0.0,
        "target_modules": ["q_proj"]}).encode()
        + CUT + safetensors({
            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": ("F32", [2, 8], a),
            "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": ("F32", [8, 2], a)}))

    for kind in ("gpt2", "llama"):
        path = CORPUS / "gguf_model" / f"tiny_{kind}_vocab.gguf"
        path.parent.mkdir(parents=True, exist_ok=True)
        w = gguf.GGUFWriter(str(path), "llama")
        w.add_block_count(1)
        w.add_context_length(64)
        w.add_embedding_length(32)
        w.add_feed_forward_length(32)
        w.add_head_count(2)
        w.add_layer_norm_rms_eps(1e-5)
        w.add_tokenizer_model(kind)
        toks = ["<s>", "</s>", "a", "b", "ab", "\u0120", "\u0120a"] if kind == "gpt2" else \
            ["<unk>", "<s>", "</s>", "\u2581", "a", "b", "\u2581a", "<0x0A>"]
        w.add_token_list(toks)
        w.add_token_scores([0.0] * len(toks))
        w.add_token_types([1] * len(toks))
        if kind == "gpt2":
            w.add_token_merges(["a b", "\u0120 a"])
            w.add_tokenizer_pre("gpt2")
        w.add_bos_token_id(1)
        w.add_eos_token_id(2 if kind == "llama" else 1)
        import numpy as np
        for name, shape in [("token_embd.weight", (len(toks), 32)), ("output_norm.weight", (32,)),
                            ("blk.0.attn_norm.weight", (32,)), ("blk.0.ffn_norm.weight", (32,)),
                            ("blk.0.attn_q.weight", (32, 32)), ("blk.0.attn_k.weight", (32, 32)),
                            ("blk.0.attn_v.weight", (32, 32)), ("blk.0.attn_output.weight", (32, 32)),
                            ("blk.0.ffn_gate.weight", (32, 32)), ("blk.0.ffn_up.weight", (32, 32)),
                            ("blk.0.ffn_down.weight", (32, 32))]:
            w.add_tensor(name, np.full(shape, 0.25, dtype=np.float32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()

    # Issue 35: one small tensor of each quantized type mlxft decodes (random blocks, sane float16
    # scales), for the decoders behind gguf_fuzz and gguf_model_fuzz.
    import numpy as np
    from gguf.constants import GGML_QUANT_SIZES
    rng = np.random.default_rng(35)
    f16_fields = {"Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0], "Q2_K": [80, 82],
                  "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208]}
    for target in ("gguf", "gguf_model"):
        path = CORPUS / target / "kquants.gguf"
        w = gguf.GGUFWriter(str(path), "llama")
        for name, fields in f16_fields.items():
            t = gguf.GGMLQuantizationType[name]
            elems, size = GGML_QUANT_SIZES[t]
            rows = 2
            raw = rng.integers(0, 256, (rows, 256 // elems * size), dtype=np.uint8)
            for r in range(rows):
                for b in range(256 // elems):
                    for off in fields:
                        raw[r, b * size + off:b * size + off + 2] = np.array(
                            [rng.uniform(1e-3, 1e-2)], np.float16).view(np.uint8)
            w.add_tensor(f"{name.lower()}.weight", raw, raw_dtype=t)  # byte shape: (rows, 256) values
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()


if __name__ == "__main__":
    main()
