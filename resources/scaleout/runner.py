#!/usr/bin/env python3
"""Constitution Studio's TRL runner for a job folder written by `cai export-job --engine trl`.

    python3 runner.py JOB_DIR

Reads JOB_DIR/config.yaml (stage, model, data file, TRL config fields), builds the TRL trainer
for the stage (SFTTrainer, RewardTrainer or PPOTrainer), trains, and saves the model to the
config's output_dir. Every log the trainer makes is also printed as one line

    @@cai-metric {"step": 12, "stage": "pm", "loss": 0.61, ...}

so a log follower can turn stdout into metrics. The preference stage's `soft` strategy trains
the reward model with a soft-label loss: BCE of sigmoid(r_chosen - r_rejected) against
p_chosen.

trl, transformers, datasets and torch are imported inside the functions that need them: the
data helpers (read_jsonl, load_rows, metric_line) work with the standard library alone.
"""

import json
import math
import os
import sys

METRIC_TAG = "@@cai-metric "
STAGES = ("sft", "pm", "ppo")

# The columns each stage's trainer reads from the job's JSONL; other columns stay in the file.
STAGE_COLUMNS = {
    "sft": ("prompt", "completion"),
    "pm": ("prompt", "chosen", "rejected"),
    "ppo": ("prompt",),
}


class JobFormatError(Exception):
    """The job folder is not one this runner can train."""


# --------------------------------------------------------------------------------------------
# Data (standard library only)


def read_jsonl(path):
    """The records of a JSONL file, one dict a line; blank lines skipped, a bad line named."""
    rows = []
    with open(path, "r", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as e:
                raise JobFormatError("%s:%d: not valid JSON (%s)" % (path, n, e))
            if not isinstance(rec, dict):
                raise JobFormatError("%s:%d: not a JSON object" % (path, n))
            rows.append(rec)
    return rows


def _messages(value, path, n, key):
    if not isinstance(value, list) or not all(isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in value):
        raise JobFormatError("%s:%d: %s is not a list of {role, content} messages" % (path, n, key))
    return value


def load_rows(path, stage, soft_labels=None, margin=False):
    """The rows the stage's trainer gets: its columns only, checked.

    pm: with soft_labels == "soft" the soft label p_chosen travels in the `margin` column, the
    one extra column TRL's preference collator passes to the loss; with margin=True the row's
    margin (logit of p_chosen) does, for RewardTrainer's margin loss.
    """
    if stage not in STAGES:
        raise JobFormatError("unknown stage %r" % (stage,))
    rows = []
    for n, rec in enumerate(read_jsonl(path), 1):
        row = {}
        for key in STAGE_COLUMNS[stage]:
            if key not in rec:
                raise JobFormatError("%s:%d: no %s" % (path, n, key))
            row[key] = _messages(rec[key], path, n, key)
        if stage == "pm":
            p = rec.get("p_chosen")
            if not isinstance(p, (int, float)) or isinstance(p, bool) or not (0.0 <= p <= 1.0):
                raise JobFormatError("%s:%d: p_chosen is not a probability" % (path, n))
            if soft_labels == "soft":
                row["margin"] = float(p)
            elif margin:
                m = rec.get("margin")
                if not isinstance(m, (int, float)) or isinstance(m, bool) or not math.isfinite(m):
                    raise JobFormatError("%s:%d: margin is not a number" % (path, n))
                row["margin"] = float(m)
        rows.append(row)
    return rows


def metric_line(stage, step, logs):
    """The tagged stdout line of one trainer log: numbers only, NaN and infinities left out."""
    rec = {"step": int(step), "stage": stage}
    for k, v in sorted(logs.items()):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if isinstance(v, float) and not math.isfinite(v):
            continue
        if k in ("step", "stage"):
            continue
        rec[k] = v
    return METRIC_TAG + json.dumps(rec, sort_keys=False)


def load_config(job_dir):
    """config.yaml of the job (PyYAML)."""
    import yaml

    with open(os.path.join(job_dir, "config.yaml"), "r", encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    if not isinstance(cfg, dict) or cfg.get("stage") not in STAGES or not isinstance(cfg.get("args"), dict):
        raise JobFormatError("config.yaml: needs stage (sft, pm or ppo), model, train_file and args")
    return cfg


def config_args(config_class, args, log=None):
    """The config class built from the fields it knows; the others are reported and left out."""
    import dataclasses

    known = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(k for k in args if k not in known)
    if unknown and log is not None:
        log("config.yaml: %s does not know %s; left out" % (config_class.__name__, ", ".join(unknown)))
    return config_class(**{k: v for k, v in args.items() if k in known})


# --------------------------------------------------------------------------------------------
# Trainers (need torch, transformers, datasets, trl)


def soft_label_loss(r_chosen, r_rejected, p_chosen):
    """BCE of sigmoid(r_chosen - r_rejected) against the soft label p_chosen (mean over the batch)."""
    import torch.nn.functional as F

    return F.binary_cross_entropy_with_logits(r_chosen - r_rejected, p_chosen.to(r_chosen.dtype))


def metric_callback(stage):
    from transformers import TrainerCallback

    class CaiMetricCallback(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and state.is_world_process_zero:
                print(metric_line(stage, state.global_step, logs), flush=True)

    return CaiMetricCallback()


def _log(msg):
    print("cai-runner: %s" % msg, file=sys.stderr, flush=True)


def _soft_reward_trainer(base):
    import torch

    class SoftLabelRewardTrainer(base):
        """RewardTrainer whose loss is BCE against the soft label carried in `margin`.

        Current TRL stacks chosen then rejected sequences in one batch (`input_ids`); older TRL
        passed them as `input_ids_chosen` / `input_ids_rejected`. Both layouts are read.
        """

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            p = inputs["margin"]
            if "input_ids_chosen" in inputs:
                r_c = model(input_ids=inputs["input_ids_chosen"], attention_mask=inputs["attention_mask_chosen"]).logits.squeeze(-1)
                r_r = model(input_ids=inputs["input_ids_rejected"], attention_mask=inputs["attention_mask_rejected"]).logits.squeeze(-1)
            else:
                logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], use_cache=False).logits.squeeze(-1)
                r_c, r_r = torch.chunk(logits, 2)
            loss = soft_label_loss(r_c, r_r, p)
            coef = getattr(self.args, "center_rewards_coefficient", None)
            if coef is not None:
                loss = loss + coef * torch.mean((r_c + r_r) ** 2)
            if return_outputs:
                return loss, {"rewards_chosen": r_c, "rewards_rejected": r_r}
            return loss

    return SoftLabelRewardTrainer


def _import_ppo():
    try:
        from trl.experimental.ppo import PPOConfig, PPOTrainer
    except ImportError:
        from trl import PPOConfig, PPOTrainer
    return PPOConfig, PPOTrainer


def build_trainer(job_dir):
    """The TRL trainer the job's config.yaml describes, with the metric callback added."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    cfg = load_config(job_dir)
    stage = cfg["stage"]
    model_id = cfg["model"]
    rows = load_rows(os.path.join(job_dir, cfg["train_file"]), stage, cfg.get("soft_labels"), bool(cfg.get("margin")))
    args = dict(cfg["args"])
    for key in ("output_dir", "logging_dir"):
        if isinstance(args.get(key), str) and not os.path.isabs(args[key]):
            args[key] = os.path.join(job_dir, args[key])
    tokenizer = AutoTokenizer.from_pretrained(model_id)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if stage == "sft":
        from trl import SFTConfig, SFTTrainer

        trainer = SFTTrainer(model=model_id, args=config_args(SFTConfig, args, _log), train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    elif stage == "pm":
        from trl import RewardConfig, RewardTrainer

        cls = _soft_reward_trainer(RewardTrainer) if cfg.get("soft_labels") == "soft" else RewardTrainer
        model = AutoModelForSequenceClassification.from_pretrained(model_id, num_labels=1)
        model.config.pad_token_id = tokenizer.pad_token_id
        trainer = cls(model=model, args=config_args(RewardConfig, args, _log), train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    else:
        PPOConfig, PPOTrainer = _import_ppo()
        reward_id = cfg.get("reward_model") or args.get("reward_model_path")
        if not reward_id or reward_id == "REWARD_MODEL":
            raise JobFormatError("config.yaml: set reward_model (and args.reward_model_path) to the preference model")
        args["reward_model_path"] = reward_id
        tokenized = [{"input_ids": tokenizer.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=True)} for r in rows]
        policy = AutoModelForCausalLM.from_pretrained(model_id)
        ref = AutoModelForCausalLM.from_pretrained(model_id)
        reward = AutoModelForSequenceClassification.from_pretrained(reward_id, num_labels=1)
        value = AutoModelForSequenceClassification.from_pretrained(reward_id, num_labels=1)
        trainer = PPOTrainer(
            args=config_args(PPOConfig, args, _log),
            processing_class=tokenizer,
            model=policy,
            ref_model=ref,
            reward_model=reward,
            value_model=value,
            train_dataset=Dataset.from_list(tokenized),
        )
    trainer.add_callback(metric_callback(stage))
    return trainer, cfg


def main(argv):
    if len(argv) != 2:
        print("usage: python3 runner.py JOB_DIR", file=sys.stderr)
        return 2
    job_dir = os.path.abspath(argv[1])
    try:
        trainer, cfg = build_trainer(job_dir)
    except JobFormatError as e:
        _log(str(e))
        return 2
    trainer.train()
    trainer.save_model(os.path.join(job_dir, cfg["args"].get("output_dir", "output")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
