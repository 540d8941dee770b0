"""An independent forward pass of a Hugging Face LlamaForCausalLM directory, written from
transformers' modeling_llama.py conventions (not from our TypeScript): RMSNorm computed in float32,
rotary embeddings with `rotate_half` (pairs i and i + D/2, cos/sin tables `cat(freqs, freqs)`),
causal softmax attention scaled by 1/sqrt(D), SwiGLU MLP `down(silu(gate(x)) * up(x))`, untied
lm_head. Weights are read from model.safetensors by parsing its JSON header (the `safetensors`
package is not needed); text is encoded from tokenizer.json the way a BPE model with an empty merge
list encodes it (one vocabulary entry per character), with the post-processor's BOS first.

A dev-time oracle for src/nn/export-hf.test.ts. Usage:

    /usr/bin/python3 test/oracle/hf_llama_forward.py MODEL_DIR < texts.json > out.json

stdin: a JSON list of texts; stdout: {"ids": [[...]], "logits": [[[...V floats] per position]]}.
Needs Debian's python3-torch (`apt-get install -y python3-torch`).
"""
import json
import math
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        buf = bytearray(raw[base + begin : base + end])
        t = torch.frombuffer(buf, dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = t.to(torch.float32)
    return out


def encode(tokenizer, text):
    vocab = tokenizer["model"]["vocab"]
    assert tokenizer["model"]["type"] == "BPE" and tokenizer["model"]["merges"] == []
    ids = [vocab[ch] for ch in text]
    for piece in tokenizer["post_processor"]["single"]:
        if "SpecialToken" in piece:
            special = tokenizer["post_processor"]["special_tokens"][piece["SpecialToken"]["id"]]
            ids = special["ids"] + ids
            break
    return ids


def rms_norm(x, weight, eps):
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def forward(cfg, w, ids):
    C = cfg["hidden_size"]
    H = cfg["num_attention_heads"]
    Hkv = cfg["num_key_value_heads"]
    D = cfg.get("head_dim") or C // H
    eps = cfg["rms_norm_eps"]
    T = len(ids)
    inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    pos = torch.arange(T, dtype=torch.float32)
    freqs = torch.outer(pos, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[None, :, :], emb.sin()[None, :, :]
    mask = torch.full((T, T), float("-inf")).triu(1)

    x = w["model.embed_tokens.weight"][torch.tensor(ids)]
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = (h @ w[p + "self_attn.q_proj.weight"].T).view(T, H, D).transpose(0, 1)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).view(T, Hkv, D).transpose(0, 1)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).view(T, Hkv, D).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // Hkv, dim=0)
        v = v.repeat_interleave(H // Hkv, dim=0)
        scores = q @ k.transpose(1, 2) / math.sqrt(D) + mask
        attn = torch.softmax(scores.float(), dim=-1) @ v
        x = x + attn.transpose(0, 1).reshape(T, H * D) @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        up = h @ w[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    return x @ w["lm_head.weight"].T


def main():
    torch.set_num_threads(1)
    model_dir = sys.argv[1]
    with open(f"{model_dir}/config.json") as f:
        cfg = json.load(f)
    assert cfg["architectures"] == ["LlamaForCausalLM"] and cfg["model_type"] == "llama"
    with open(f"{model_dir}/tokenizer.json") as f:
        tokenizer = json.load(f)
    weights = read_safetensors(f"{model_dir}/model.safetensors")
    texts = json.load(sys.stdin)
    out = {"ids": [], "logits": []}
    with torch.no_grad():
        for text in texts:
            ids = encode(tokenizer, text)
            out["ids"].append(ids)
            out["logits"].append(forward(cfg, weights, ids).tolist())
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
