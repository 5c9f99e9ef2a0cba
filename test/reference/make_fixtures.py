"""Write the tiny Hugging Face-format model fixtures used by the TS engine tests.

Run with the system Python (it has PyTorch):  /usr/bin/python3 test/reference/make_fixtures.py

Output (committed): test/fixtures/models/{gpt2-tiny, llama-tiny, llama-tiny-sharded, qwen2-tiny}/
  config.json, tokenizer.json, model.safetensors (or shards + index), expected.json,
  expected_grads.safetensors (F32 folders only).
Everything is deterministic (fixed seeds, single thread).
"""

from __future__ import annotations

import json
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch_model as tm  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", "fixtures", "models"))

VOCAB = 300
BATCH, SEQ = 2, 12
PROMPT_LEN, NEW_TOKENS = 5, 10

# ---------------------------------------------------------------------------------------------
# Byte-level BPE tokenizer files
# ---------------------------------------------------------------------------------------------


def byte_symbols() -> list:
    """GPT-2's byte -> printable-character table, as a list of (byte, char) in vocab order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) \
        + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return [(b, chr(c)) for b, c in zip(printable, chars)]


# Merges of common English pieces; each merge only uses symbols that exist by the time it applies.
MERGES = [
    "Ġ t", "h e", "Ġt he", "Ġ a", "i n", "Ġ s", "Ġ w", "e r", "o n", "r e",
    "a n", "Ġ o", "Ġ c", "a t", "e n", "o r", "Ġ b", "e s", "Ġ f", "i s",
    "Ġ m", "Ġ p", "i t", "in g", "Ġ h", "Ġo f", "Ġa n", "Ġan d", "Ġ i", "Ġ d",
    "Ġt o", "l l", "o u", "e d",
]


def build_vocab(prefix_specials: list, suffix_specials: list) -> tuple:
    vocab = {}
    for s in prefix_specials:
        vocab[s] = len(vocab)
    for _b, ch in byte_symbols():
        vocab[ch] = len(vocab)
    for m in MERGES:
        a, b = m.split(" ")
        assert a in vocab and b in vocab, f"merge {m!r} uses an unknown piece"
        assert a + b not in vocab, f"merge {m!r} duplicates a piece"
        vocab[a + b] = len(vocab)
    for s in suffix_specials:
        vocab[s] = len(vocab)
    assert len(vocab) <= VOCAB
    return vocab, list(MERGES)


def added_token(tid: int, content: str) -> dict:
    return {"id": tid, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}


def tokenizer_json(vocab: dict, merges: list, specials: list, post_processor) -> dict:
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added_token(vocab[s], s) for s in specials],
        "normalizer": None,
        "pre_tokenizer": dict(byte_level),
        "post_processor": post_processor,
        "decoder": dict(byte_level),
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            "vocab": vocab,
            "merges": merges,
        },
    }


def gpt2_tokenizer() -> tuple:
    vocab, merges = build_vocab([], ["<|endoftext|>"])
    eos = vocab["<|endoftext|>"]
    return tokenizer_json(vocab, merges, ["<|endoftext|>"], None), eos


def llama_tokenizer() -> dict:
    specials = ["<unk>", "<s>", "</s>"]
    vocab, merges = build_vocab(specials, [])
    assert vocab["<unk>"] == 0 and vocab["<s>"] == 1 and vocab["</s>"] == 2
    post = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
    }
    return tokenizer_json(vocab, merges, specials, post)


# ---------------------------------------------------------------------------------------------
# Configs and weights
# ---------------------------------------------------------------------------------------------


def gpt2_config(eos: int) -> dict:
    return {
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "vocab_size": VOCAB,
        "n_embd": 32,
        "n_layer": 2,
        "n_head": 4,
        "n_positions": 64,
        "n_ctx": 64,
        "n_inner": None,
        "activation_function": "gelu_new",
        "layer_norm_epsilon": 1e-5,
        "bos_token_id": eos,
        "eos_token_id": eos,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
    }


def llama_config(model_type: str = "llama", tied: bool = False, dtype: str = "float32") -> dict:
    cfg = {
        "model_type": model_type,
        "architectures": ["Qwen2ForCausalLM" if model_type == "qwen2" else "LlamaForCausalLM"],
        "vocab_size": VOCAB,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 64,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "hidden_act": "silu",
        "tie_word_embeddings": tied,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": dtype,
    }
    if model_type == "llama":
        cfg["attention_bias"] = False
    else:
        cfg["use_sliding_window"] = False
    return cfg


def init_weights(model: torch.nn.Module, seed: int) -> None:
    """std-0.2 matrices, norm weights 1 +- 0.1, small random biases (so logits are far from uniform)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
            elif "ln" in name or "norm" in name:
                if name.endswith(".bias"):
                    p.copy_(torch.randn(p.shape, generator=g) * 0.05)
                else:
                    p.copy_(1.0 + (torch.rand(p.shape, generator=g) * 2 - 1) * 0.1)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)


def round_model(model: torch.nn.Module, dtype: str) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(tm.round_to_dtype(p, dtype))


def sig7(x: float) -> float:
    return float(f"{x:.7g}")


def nested(t: torch.Tensor):
    if t.dim() == 0:
        return sig7(float(t))
    return [nested(s) for s in t]


def expected_for(model: torch.nn.Module, seed: int, with_grads: bool):
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, VOCAB, (BATCH, SEQ), generator=g)
    model.zero_grad(set_to_none=True)
    logits = model(input_ids)
    loss = tm.next_token_loss(logits, input_ids)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    prompt = input_ids[0, :PROMPT_LEN].tolist()
    new = tm.greedy(model, prompt, NEW_TOKENS)
    exp = {
        "input_ids": input_ids.tolist(),
        "logits": nested(logits.detach()),
        "greedy": {"prompt": prompt, "new_tokens": new},
        "loss": sig7(float(loss)),
        "grad_norms": {n: sig7(float(gr.norm())) for n, gr in grads.items()},
    }
    return exp, (grads if with_grads else None)


def write_json(path: str, obj, indent=None) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=indent, separators=None if indent else (",", ":"))
        f.write("\n")


def make_folder(name: str, cfg: dict, tokenizer: dict, seed: int, dtype: str, shards: int = 1,
                source: torch.nn.Module = None) -> torch.nn.Module:
    folder = os.path.join(ROOT, name)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    model = tm.build_model(cfg)
    if source is not None:
        model.load_state_dict(source.state_dict())
    else:
        init_weights(model, seed)
    round_model(model, dtype)  # expectations use exactly the stored values
    tm.save_model(model, folder, dtype, shards)
    write_json(os.path.join(folder, "tokenizer.json"), tokenizer, indent=1)
    exp, grads = expected_for(model, seed + 1000, dtype == "F32")
    write_json(os.path.join(folder, "expected.json"), exp)
    if grads is not None:
        tm.write_safetensors(os.path.join(folder, "expected_grads.safetensors"), grads, "F32",
                             {"loss": repr(exp["loss"])})
    return model


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    os.makedirs(ROOT, exist_ok=True)
    gtok, eos = gpt2_tokenizer()
    ltok = llama_tokenizer()
    make_folder("gpt2-tiny", gpt2_config(eos), gtok, seed=1, dtype="F32")
    llama = make_folder("llama-tiny", llama_config(), ltok, seed=2, dtype="F32")
    make_folder("llama-tiny-sharded", llama_config(dtype="float16"), ltok, seed=2, dtype="F16", shards=2,
                source=llama)
    make_folder("qwen2-tiny", llama_config("qwen2", tied=True, dtype="bfloat16"), ltok, seed=3, dtype="BF16")
    total = 0
    for dirpath, _dirs, files in os.walk(ROOT):
        total += sum(os.path.getsize(os.path.join(dirpath, f)) for f in files)
    print(f"wrote fixtures under {ROOT} ({total / 1024:.1f} KiB)")


if __name__ == "__main__":
    main()
