"""PEFT + torch worker of bench/peers/run_peers.py: LoRA training steps of the `small` shape or of a
real model.

  python peft_torch.py --precision fp32|bf16-weights|bf16-autocast --seq N --batch B --steps S --threads T
                       [--shape small|mistral-7b-shape] [--device cpu|cuda]
                       [--model-dir DIR] [--targets q_proj,v_proj|all]

fp32:          float32 weights and compute.
bf16-weights:  the model loaded in bfloat16 (torch_dtype=bfloat16, what from_pretrained(...,
               dtype=torch.bfloat16) gives); PEFT keeps the adapter weights float32 (its default
               autocast_adapter_dtype=True).
bf16-autocast: float32 weights under torch.autocast("cpu", dtype=torch.bfloat16), what the HF
               Trainer does on CPU with bf16=True.
A LlamaForCausalLM with random weights (no download), attention "sdpa" (transformers' default),
labels = inputs (transformers shifts them: the loss covers seq - 1 positions of each row).
--model-dir DIR: the model of a Hugging Face directory instead (AutoModelForCausalLM.from_pretrained, its
config and weights, in float32 or, for bf16-weights, bfloat16; --shape does not apply); the random tokens
are drawn below its vocabulary size. --targets: the LoRA targets, comma-separated, or `all` = the seven
projections (default q_proj,v_proj, shape.LORA_TARGETS).
--device cuda (make device-check): the model is built on the GPU, in bfloat16 from the start for
bf16-weights (a 7B float32 copy would not be drawn), and the result adds the peak GPU memory
(torch.cuda.max_memory_allocated over the timed steps, the weights included); the timed steps end with
a synchronisation.
"""

import argparse
import contextlib
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

import shape


def build_model(precision, sizes=shape.SMALL, device="cpu", model_dir=None, targets=shape.LORA_TARGETS):
    torch.manual_seed(0)
    if model_dir:
        dtype = torch.bfloat16 if precision == "bf16-weights" else torch.float32
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation="sdpa").to(device)
    elif device == "cpu":
        config = LlamaConfig(**sizes, attention_bias=False, mlp_bias=False)
        model = LlamaForCausalLM(config)
        if precision == "bf16-weights":
            model = model.to(torch.bfloat16)
    else:
        config = LlamaConfig(**sizes, attention_bias=False, mlp_bias=False)
        dtype = torch.bfloat16 if precision == "bf16-weights" else torch.float32
        with torch.device(device):
            model = LlamaForCausalLM(config).to(dtype)
    lora = LoraConfig(r=shape.LORA_RANK, lora_alpha=shape.LORA_ALPHA, lora_dropout=0.0,
                      target_modules=list(targets), bias="none", task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--precision", choices=["fp32", "bf16-weights", "bf16-autocast"], required=True)
    parser.add_argument("--model-dir", help="a Hugging Face model directory instead of the random --shape")
    parser.add_argument("--targets", default=",".join(shape.LORA_TARGETS),
                        help="LoRA targets: comma-separated projections, or all (the seven)")
    shape.add_run_args(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    targets = shape.ALL_TARGETS if args.targets == "all" else args.targets.split(",")

    model = build_model(args.precision, shape.SHAPES[args.shape], args.device, args.model_dir, targets)
    model.train()
    cuda = args.device != "cpu"
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=shape.LEARNING_RATE, weight_decay=shape.WEIGHT_DECAY)
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(3, model.config.vocab_size, (args.batch, args.seq), generator=gen).to(args.device)
    autocast = (torch.autocast(args.device.split(":")[0], dtype=torch.bfloat16)
                if args.precision == "bf16-autocast" else contextlib.nullcontext())

    def one_step():
        with autocast:
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()

    one_step()  # warm-up
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        loss = one_step()  # loss.item() waits for the step's kernels
    if cuda:
        torch.cuda.synchronize()
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - cpu0
    extra = dict(gpu_peak_gb=torch.cuda.max_memory_allocated() / 1e9) if cuda else {}
    dtypes = sorted({str(p.dtype).replace("torch.", "") for p in model.parameters()})
    shape.print_result(args, seconds, cpu_seconds, loss, torch=torch.__version__, param_dtypes=dtypes,
                       trainable=sum(p.numel() for p in params), **extra)


if __name__ == "__main__":
    main()
