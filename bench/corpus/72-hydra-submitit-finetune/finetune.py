"""Fine-tune a text classifier; `python finetune.py -m lr=1e-5,3e-5` submits one SLURM job per value."""
import os

import evaluate
import hydra
import numpy as np
import submitit
import torch
from datasets import load_dataset
from omegaconf import DictConfig, OmegaConf
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
)


def train(cfg: DictConfig) -> float:
    tok = AutoTokenizer.from_pretrained(cfg.model)
    ds = load_dataset(cfg.dataset, cfg.subset)
    ds = ds.map(lambda b: tok(b["text"], truncation=True, max_length=128), batched=True)
    n_labels = ds["train"].features["label"].num_classes
    model = AutoModelForSequenceClassification.from_pretrained(cfg.model, num_labels=n_labels)
    f1 = evaluate.load("f1")

    def metrics(pred):
        logits, labels = pred
        return f1.compute(predictions=np.argmax(logits, -1), references=labels, average="macro")

    args = TrainingArguments(
        output_dir=os.path.join(os.environ.get("SCRATCH", "."), "runs", f"lr{cfg.lr}"),
        learning_rate=cfg.lr, num_train_epochs=cfg.epochs, per_device_train_batch_size=cfg.batch_size,
        eval_strategy="epoch", save_strategy="no", bf16=torch.cuda.is_bf16_supported(), report_to=[],
    )
    trainer = Trainer(model=model, args=args, train_dataset=ds["train"], eval_dataset=ds["validation"],
                      data_collator=DataCollatorWithPadding(tok), compute_metrics=metrics)
    trainer.train()
    return trainer.evaluate()["eval_f1"]


@hydra.main(config_path="conf", config_name="train", version_base=None)
def main(cfg: DictConfig) -> None:
    print(OmegaConf.to_yaml(cfg))
    executor = submitit.AutoExecutor(folder="slurm_logs/%j")
    executor.update_parameters(slurm_partition=cfg.slurm.partition, gpus_per_node=cfg.slurm.gpus,
                               timeout_min=cfg.slurm.timeout_min, cpus_per_task=8, mem_gb=32)
    job = executor.submit(train, cfg)
    print(f"submitted {job.job_id}")


if __name__ == "__main__":
    main()
