"""Load a Hugging Face-format folder with the plain PyTorch reference and check or print logits.

  /usr/bin/python3 test/reference/roundtrip.py DIR --expect path/to/expected.json [--tol 1e-4]
      -> prints {"max_rel_err": ..., "max_abs_err": ..., "greedy_match": ...}; exit 0 when
         max_rel_err <= tol, otherwise 1.
  /usr/bin/python3 test/reference/roundtrip.py DIR --greedy-for "[1,2,3]" --new-tokens 10
      -> prints {"tokens": [...]} (greedy by full recomputation, no EOS stop); exit 0.
  /usr/bin/python3 test/reference/roundtrip.py DIR --logits-for "[[1,2,3]]"
      -> prints {"logits": [[[...]]]} (B x T x V); exit 0.

max_rel_err = max |got - expected| / max |expected| (the error relative to the logit scale).
Errors (missing files, bad names, shape mismatch) print {"error": ...} and exit 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch_model as tm  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--expect", help="expected.json with input_ids and logits")
    group.add_argument("--logits-for", help="JSON list of token id lists, e.g. [[1,2,3]]")
    group.add_argument("--greedy-for", help="JSON list of prompt token ids; prints the greedy continuation")
    ap.add_argument("--new-tokens", type=int, default=10, help="tokens to generate with --greedy-for")
    ap.add_argument("--tol", type=float, default=1e-4, help="max relative error accepted (default 1e-4)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    try:
        model = tm.load_model(args.dir)
        with torch.no_grad():
            if args.greedy_for is not None:
                print(json.dumps({"tokens": tm.greedy(model, json.loads(args.greedy_for), args.new_tokens)}))
                return 0
            if args.logits_for is not None:
                ids = torch.tensor(json.loads(args.logits_for), dtype=torch.long)
                if ids.dim() == 1:
                    ids = ids[None]
                print(json.dumps({"logits": model(ids).tolist()}))
                return 0
            with open(args.expect) as f:
                exp = json.load(f)
            ids = torch.tensor(exp["input_ids"], dtype=torch.long)
            got = model(ids)
            want = torch.tensor(exp["logits"], dtype=torch.float32)
            if tuple(got.shape) != tuple(want.shape):
                print(json.dumps({"error": f"logits shape {list(got.shape)} != expected {list(want.shape)}"}))
                return 1
            abs_err = float((got - want).abs().max())
            rel_err = abs_err / max(float(want.abs().max()), 1e-12)
            result = {"max_rel_err": rel_err, "max_abs_err": abs_err}
            if "greedy" in exp:
                g = exp["greedy"]
                result["greedy_match"] = tm.greedy(model, g["prompt"], len(g["new_tokens"])) == g["new_tokens"]
            print(json.dumps(result))
            return 0 if rel_err <= args.tol else 1
    except Exception as e:  # report as JSON so callers can parse a single line
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        return 1


if __name__ == "__main__":
    sys.exit(main())
