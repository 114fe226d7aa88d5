"""Trainer and TrainingArguments on a tiny BERT: arguments, loop, checkpoints, exact resume, callbacks."""

from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rosetta import (  # noqa: E402
    BertForSequenceClassification,
    BertTokenizer,
    DataCollatorForLanguageModeling,
    DataCollatorForTokenClassification,
    EarlyStoppingCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from rosetta.backends.torch.trainer_utils import get_last_checkpoint, get_scheduler  # noqa: E402
from rosetta.core.errors import (  # noqa: E402
    CheckpointError,
    ConfigError,
    InputError,
    MissingFileError,
    WeightsMismatchError,
)
from tests.parity import tiny_model  # noqa: E402

CLASSIFIER = ("torch", "sequence-classification")  # the tiny model most tests train


def classification_data(n: int = 24, seq: int = 8, seed: int = 0, ragged: bool = False) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        length = int(rng.integers(3, seq + 1)) if ragged else seq
        rows.append(
            {
                "input_ids": rng.integers(5, 99, length).tolist(),
                "labels": int(rng.integers(0, 2)),
                "text": "unused",
            }
        )
    return rows


def training_args(tmp_path, **overrides) -> TrainingArguments:
    defaults = dict(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=4,
        per_device_eval_batch_size=4,
        learning_rate=1e-3,
        max_steps=6,
        logging_steps=1,
        save_strategy="no",
        disable_tqdm=True,
    )
    return TrainingArguments(**{**defaults, **overrides})


def state_of(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run fastest on one thread, and do not fight the other test workers for cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_tokenizer(tmp_path_factory):
    """The real BertTokenizer over a 99-token vocabulary, so every id fits the tiny model."""
    folder = tmp_path_factory.mktemp("tiny-vocab")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(94)]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    return BertTokenizer(str(folder / "vocab.txt"))


# -- TrainingArguments ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(fp16=True, bf16=True), "not both"),
        (dict(warmup_ratio=1.5), "warmup_ratio"),
        (dict(warmup_ratio=-0.1), "warmup_ratio"),
        (dict(lr_scheduler_type="triangular"), "lr_scheduler_type"),
        (dict(learning_rate=-1e-4), "learning_rate"),
        (dict(eval_strategy="sometimes"), "eval_strategy"),
        (dict(load_best_model_at_end=True), "needs evaluation"),
        (dict(load_best_model_at_end=True, eval_strategy="epoch", save_strategy="steps"), "match"),
        (dict(load_best_model_at_end=True, eval_strategy="steps", eval_steps=3, save_steps=5), "multiple"),
        (dict(gradient_accumulation_steps=0), "gradient_accumulation_steps"),
        (dict(save_total_limit=0), "save_total_limit"),
        (dict(report_to="wandb"), "report_to"),
        (dict(save_steps=0), "save_steps"),
        (dict(max_steps=-1, num_train_epochs=0), "num_train_epochs"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TrainingArguments(output_dir="unused", **kwargs)


def test_argument_defaults_follow_transformers():
    args = TrainingArguments(
        output_dir="x", eval_strategy="steps", logging_steps=7, load_best_model_at_end=True, save_steps=14
    )
    assert args.eval_steps == 7 and args.metric_for_best_model == "loss" and args.greater_is_better is False
    assert TrainingArguments(output_dir="x", metric_for_best_model="accuracy").greater_is_better is True
    assert args.get_warmup_steps(100) == 0
    assert TrainingArguments(output_dir="x", warmup_ratio=0.1).get_warmup_steps(95) == 10
    assert json.loads(args.to_json_string())["eval_strategy"] == "steps"
    assert args.device.type in ("cpu", "cuda") and args.world_size == 1 and args.process_index == 0


def test_fp16_where_torch_has_no_float16_autocast_is_a_clear_error(monkeypatch):
    """Before torch 2.3, CPU autocast only warned about float16 and stayed off."""
    monkeypatch.setattr(torch, "is_autocast_enabled", lambda *device_type: False)
    with pytest.raises(ConfigError, match="float16 autocast"):
        TrainingArguments(output_dir="x", fp16=True, use_cpu=True)


def test_tensorboard_reporting(tmp_path):
    if importlib.util.find_spec("tensorboard") is None:
        with pytest.raises(ConfigError, match="pip install tensorboard"):
            TrainingArguments(output_dir=str(tmp_path), report_to="tensorboard")
        return
    args = training_args(tmp_path, report_to="tensorboard", max_steps=2, logging_dir=str(tmp_path / "tb"))
    Trainer(tiny_model(*CLASSIFIER), args, train_dataset=classification_data(8)).train()
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(tmp_path / "tb"))


@pytest.mark.parametrize(
    "name, expected",
    [
        ("linear", [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0]),
        ("constant", [1.0] * 7),
        ("constant_with_warmup", [0.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0]),
        (
            "cosine",
            [0.0, 0.5, 1.0, 0.5 * (1 + np.cos(np.pi / 4)), 0.5, 0.5 * (1 + np.cos(3 * np.pi / 4)), 0.0],
        ),
    ],
)
def test_schedules(name, expected):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = get_scheduler(name, optimizer, num_warmup_steps=2, num_training_steps=6)
    seen = []
    for _ in range(7):
        seen.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    np.testing.assert_allclose(seen, expected, atol=1e-12)


def test_weight_decay_skips_biases_and_layernorm(tmp_path):
    trainer = Trainer(
        tiny_model(*CLASSIFIER),
        training_args(tmp_path, weight_decay=0.1),
        train_dataset=classification_data(8),
    )
    decay = set(trainer.get_decay_parameter_names(trainer.model))
    assert "bert.encoder.layer.0.attention.self.query.weight" in decay and "classifier.weight" in decay
    assert not any(n.endswith("bias") or "LayerNorm" in n for n in decay)
    optimizer = trainer.create_optimizer()
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.1, 0.0]
    names = {id(p): n for n, p in trainer.model.named_parameters()}
    assert {names[id(p)] for p in optimizer.param_groups[1]["params"]} == set(names.values()) - decay


# -- the loop ------------------------------------------------------------------------------------------------
def test_train_logs_and_learns(tmp_path):
    data = classification_data(16)
    trainer = Trainer(
        tiny_model(*CLASSIFIER, hidden_dropout_prob=0.0),
        training_args(tmp_path, max_steps=20, logging_steps=5, learning_rate=3e-3),
        train_dataset=data,
        eval_dataset=data,
    )
    before = trainer.evaluate()["eval_loss"]
    output = trainer.train()
    logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert [entry["step"] for entry in logs] == [5, 10, 15, 20]
    assert all({"loss", "learning_rate", "grad_norm", "epoch"} <= set(entry) for entry in logs)
    assert logs[-1]["learning_rate"] == pytest.approx(
        3e-3 / 20
    )  # linear decay, read before the last scheduler step
    assert logs[-1]["epoch"] == pytest.approx(5.0)
    summary = trainer.state.log_history[-1]
    assert summary["train_samples_per_second"] > 0 and output.global_step == 20
    assert output.training_loss == pytest.approx(np.mean([e["loss"] for e in logs]), abs=1e-3)
    assert trainer.evaluate()["eval_loss"] < before - 0.1


def test_dataset_kinds_and_unused_columns(tmp_path):
    rows = classification_data(8, ragged=True)

    class TorchDataset(torch.utils.data.Dataset):
        def __len__(self):
            return len(rows)

        def __getitem__(self, i):
            return {"input_ids": torch.tensor(rows[i]["input_ids"]), "label": rows[i]["labels"], "text": "x"}

    def pad(features):  # a collator that would fail on the string column if it were not dropped
        assert all("text" not in f for f in features)
        ids = torch.nn.utils.rnn.pad_sequence(
            [torch.as_tensor(f["input_ids"]) for f in features], batch_first=True
        )
        return {
            "input_ids": ids,
            "attention_mask": (ids != 0).long(),
            "labels": torch.tensor([f.get("labels", f.get("label")) for f in features]),
        }

    for dataset in (rows, TorchDataset()):
        Trainer(
            tiny_model(*CLASSIFIER),
            training_args(tmp_path, max_steps=2),
            train_dataset=dataset,
            data_collator=pad,
        ).train()


def test_hf_datasets_dataset(tmp_path, tiny_tokenizer):
    datasets = pytest.importorskip("datasets")
    texts = [" ".join(f"w{(i * 7 + j) % 94}" for j in range(2 + i % 5)) for i in range(12)]
    dataset = datasets.Dataset.from_dict(
        {"sentence": texts, "label": [i % 2 for i in range(12)], "idx": list(range(12))}
    )
    dataset = dataset.map(lambda batch: tiny_tokenizer(batch["sentence"]), batched=True)
    trainer = Trainer(
        tiny_model(*CLASSIFIER),
        training_args(tmp_path, max_steps=3),
        train_dataset=dataset,
        eval_dataset=dataset,
        processing_class=tiny_tokenizer,
    )
    trainer.train()
    assert set(trainer.get_train_dataloader().dataset.column_names) == {
        "input_ids",
        "token_type_ids",
        "attention_mask",
        "label",
    }
    prediction = trainer.predict(dataset)
    assert prediction.predictions.shape == (12, 2) and prediction.label_ids.tolist() == [
        i % 2 for i in range(12)
    ]


def test_predict_pads_token_level_outputs(tmp_path, tiny_tokenizer):
    rows = [
        {"input_ids": [2, *range(5, 5 + n), 3], "labels": [-100, *([1] * n), -100]} for n in (1, 6, 2, 3, 9)
    ]
    trainer = Trainer(
        tiny_model("torch", "token-classification", num_labels=3),
        training_args(tmp_path),
        data_collator=DataCollatorForTokenClassification(tiny_tokenizer),
    )
    output = trainer.predict(rows)
    assert output.predictions.shape == (5, 11, 3) and output.label_ids.shape == (5, 11)
    assert output.label_ids[0].tolist() == [-100, 1, -100] + [-100] * 8
    assert set(output.metrics) >= {"test_loss", "test_runtime", "test_samples_per_second"}
    # rows of the first batch (longest 8) are padded with -100 up to the second batch's length
    assert np.all(output.predictions[0, 8:] == -100) and not np.any(output.predictions[4] == -100)


def test_gradient_accumulation_matches_the_larger_batch(tmp_path):
    data = classification_data(16)
    results = []
    for batch, accumulation in ((8, 1), (4, 2)):
        model = tiny_model(*CLASSIFIER, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        args = training_args(
            tmp_path,
            per_device_train_batch_size=batch,
            gradient_accumulation_steps=accumulation,
            max_steps=4,
            weight_decay=0.01,
            warmup_steps=1,
        )
        Trainer(model, args, train_dataset=data).train()
        results.append(state_of(model))
    for key in results[0]:
        torch.testing.assert_close(results[0][key], results[1][key], rtol=0, atol=1e-6)


@pytest.mark.skipif(not hasattr(torch, "autocast"), reason="needs torch.autocast")
def test_bf16_autocast_on_cpu(tmp_path):
    model = tiny_model(*CLASSIFIER)
    trainer = Trainer(
        model,
        training_args(tmp_path, bf16=True, use_cpu=True, max_steps=2),
        train_dataset=classification_data(8),
    )
    trainer.train()
    assert model.classifier.weight.dtype == torch.float32  # fp32 master weights, bf16 compute
    assert np.isfinite(trainer.state.log_history[-2]["loss"])


def test_fp16_autocast_with_loss_scaling_on_cpu(tmp_path):
    """fp16=True on CPU (float16 autocast and a GradScaler, torch >= 2.3): float16 compute over fp32 master
    weights, a learned update, and the scaler's state saved with the checkpoint."""
    model = tiny_model(*CLASSIFIER)
    start = state_of(model)
    compute = []
    model.classifier.register_forward_hook(lambda module, args, output: compute.append(output.dtype))
    args = training_args(tmp_path, fp16=True, use_cpu=True, max_steps=3, save_strategy="steps", save_steps=3)
    trainer = Trainer(model, args, train_dataset=classification_data(8))
    trainer.train()
    assert set(compute) == {torch.float16}
    assert model.classifier.weight.dtype == torch.float32
    assert not torch.equal(state_of(model)["classifier.weight"], start["classifier.weight"])
    assert all(np.isfinite(entry["loss"]) for entry in trainer.state.log_history if "loss" in entry)
    saved = torch.load(tmp_path / "out" / "checkpoint-3" / "scaler.pt", weights_only=True)
    assert saved["scale"] == trainer.scaler.get_scale()


def test_fp16_overflow_skips_the_step_and_halves_the_scale(tmp_path):
    """A loss scale that overflows float16 gives inf gradients: the update and the scheduler step are skipped."""
    model = tiny_model(*CLASSIFIER)
    start = state_of(model)
    args = training_args(tmp_path, fp16=True, use_cpu=True, max_steps=1, warmup_steps=0)
    trainer = Trainer(model, args, train_dataset=classification_data(8))
    trainer.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**100)
    trainer.train()
    assert trainer.scaler.get_scale() == 2.0**99
    for name, value in state_of(model).items():
        torch.testing.assert_close(value, start[name], rtol=0, atol=0, msg=name)
    assert trainer.lr_scheduler.last_epoch == 0


def test_fp16_resume_restores_the_loss_scale(tmp_path):
    """The first steps overflow (scale 2**20 halves each time) and are skipped; resuming mid-way must carry the
    scale on, or the resumed run skips again and ends elsewhere."""

    def run(out, seed, resume=None):
        args = training_args(
            tmp_path, output_dir=str(out), fp16=True, use_cpu=True, save_strategy="steps", save_steps=3
        )
        trainer = Trainer(tiny_model(*CLASSIFIER, seed=seed), args, train_dataset=classification_data(24))
        trainer.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**20)
        trainer.train(resume_from_checkpoint=resume)
        return trainer

    straight = run(tmp_path / "straight", seed=0)
    saved = torch.load(tmp_path / "straight" / "checkpoint-3" / "scaler.pt", weights_only=True)
    assert saved["scale"] < 2.0**20  # the checkpoint holds a lowered scale
    resumed = run(tmp_path / "resumed", seed=1, resume=tmp_path / "straight" / "checkpoint-3")
    assert resumed.scaler.get_scale() == straight.scaler.get_scale()
    expected = state_of(straight.model)
    for name, value in state_of(resumed.model).items():
        torch.testing.assert_close(value, expected[name], rtol=0, atol=0, msg=name)


def test_errors_users_can_cause(tmp_path):
    with pytest.raises(ConfigError, match="eval_dataset"):
        Trainer(
            tiny_model(*CLASSIFIER),
            training_args(tmp_path, eval_strategy="steps", eval_steps=2),
            train_dataset=classification_data(8),
        )
    trainer = Trainer(tiny_model(*CLASSIFIER), training_args(tmp_path), train_dataset=classification_data(8))
    with pytest.raises(MissingFileError, match="checkpoint"):
        trainer.train(resume_from_checkpoint=True)
    unlabeled = [{"input_ids": [5, 6, 7]} for _ in range(8)]
    with pytest.raises(InputError, match="no loss"):
        Trainer(tiny_model(*CLASSIFIER), training_args(tmp_path), train_dataset=unlabeled).train()
    with pytest.raises(InputError, match="train_dataset"):
        Trainer(tiny_model(*CLASSIFIER), training_args(tmp_path)).train()


# -- checkpoints ------------------------------------------------------------------------------------------------
def test_checkpoint_contents_are_safe_and_loadable(tmp_path, tiny_tokenizer):
    model = tiny_model(*CLASSIFIER)
    args = training_args(tmp_path, max_steps=4, save_strategy="steps", save_steps=2)
    trainer = Trainer(model, args, train_dataset=classification_data(8), processing_class=tiny_tokenizer)
    trainer.train()
    out = tmp_path / "out"
    assert sorted(os.listdir(out)) == ["checkpoint-2", "checkpoint-4"]  # no tmp- folder left behind
    checkpoint = out / "checkpoint-4"
    files = set(os.listdir(checkpoint))
    assert {
        "model.safetensors",
        "config.json",
        "optimizer.pt",
        "scheduler.pt",
        "rng_state.pth",
        "trainer_state.json",
        "training_args.json",
        "vocab.txt",
        "tokenizer_config.json",
    } <= files
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth"):
        torch.load(checkpoint / name, weights_only=True)  # plain tensors and values: no pickled objects
    reloaded = BertForSequenceClassification.from_pretrained(checkpoint)
    for key, value in state_of(model).items():
        assert torch.equal(reloaded.state_dict()[key], value), key
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    assert state["global_step"] == 4 and state["log_history"]
    assert get_last_checkpoint(out) == str(checkpoint)


def test_save_model_writes_a_from_pretrained_folder(tmp_path, tiny_tokenizer):
    model = tiny_model(*CLASSIFIER)
    trainer = Trainer(
        model,
        training_args(tmp_path, max_steps=1),
        train_dataset=classification_data(4),
        processing_class=tiny_tokenizer,
    )
    trainer.train()
    trainer.save_model(tmp_path / "final")
    reloaded = BertForSequenceClassification.from_pretrained(tmp_path / "final")
    assert all(torch.equal(reloaded.state_dict()[k], v) for k, v in state_of(model).items())
    assert BertTokenizer.from_pretrained(tmp_path / "final")("w3 w4")["input_ids"] == [2, 8, 9, 3]


def test_interrupted_save_leaves_no_checkpoint(tmp_path, monkeypatch):
    trainer = Trainer(
        tiny_model(*CLASSIFIER),
        training_args(tmp_path, max_steps=2, save_strategy="steps", save_steps=2),
        train_dataset=classification_data(8),
    )
    real_save = torch.save

    def failing_save(obj, path, *args, **kwargs):
        if str(path).endswith("scheduler.pt"):
            raise OSError("disk full")
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        trainer.train()
    assert os.listdir(tmp_path / "out") == ["tmp-checkpoint-2"]
    assert get_last_checkpoint(tmp_path / "out") is None


def test_checkpoint_from_another_model_is_refused(tmp_path):
    Trainer(
        tiny_model(*CLASSIFIER),
        training_args(tmp_path, max_steps=2, save_strategy="steps", save_steps=2),
        train_dataset=classification_data(8),
    ).train()
    other = Trainer(
        tiny_model("torch", "token-classification"),
        training_args(tmp_path, max_steps=4),
        train_dataset=[{"input_ids": [5, 6], "labels": [0, 1]}] * 8,
    )
    with pytest.raises(CheckpointError, match="do not fit"):
        other.train(resume_from_checkpoint=tmp_path / "out" / "checkpoint-2")


def _resume_setup(task: str, tokenizer, init_seed: int):
    if task == "masked-lm":
        data = [
            {"input_ids": [2, *np.random.default_rng(i).integers(5, 99, 6 + i % 3).tolist(), 3]}
            for i in range(24)
        ]
        return (
            tiny_model("torch", "masked-lm", seed=init_seed),
            data,
            DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.3),
        )
    if task == "iterable":
        rows = classification_data(24)

        class Stream(torch.utils.data.IterableDataset):
            def __iter__(self):
                return iter(rows)

        return tiny_model(*CLASSIFIER, seed=init_seed), Stream(), None
    return tiny_model(*CLASSIFIER, seed=init_seed), classification_data(24), None


@pytest.mark.parametrize(
    "task, accumulation, resume_step",
    [
        ("classification", 1, 5),
        ("classification", 2, 5),
        ("classification", 1, 6),
        ("masked-lm", 1, 5),
        ("iterable", 1, 5),
    ],
)
def test_resume_is_bit_exact(tmp_path, tiny_tokenizer, task, accumulation, resume_step):
    """10 steps straight == 5 steps, a new Trainer resuming from checkpoint-5, 5 more steps.

    Dropout is on, the data is reshuffled every epoch (6 batches) and the run crosses epoch
    boundaries; one case resumes exactly at an epoch's end; the masked-LM variant also draws
    its masks from numpy's RNG; an iterable dataset is read past the batches already seen.
    """

    def run(out, init_seed, resume=None):
        model, data, collator = _resume_setup(task, tiny_tokenizer, init_seed)
        args = training_args(
            tmp_path,
            output_dir=str(out),
            max_steps=10,
            save_strategy="steps",
            save_steps=resume_step,
            gradient_accumulation_steps=accumulation,
            warmup_steps=2,
            weight_decay=0.01,
        )
        trainer = Trainer(model, args, train_dataset=data, data_collator=collator)
        trainer.train(resume_from_checkpoint=resume)
        return trainer

    straight = run(tmp_path / "straight", init_seed=0)
    os.makedirs(tmp_path / "resumed")
    name = f"checkpoint-{resume_step}"
    os.rename(tmp_path / "straight" / name, tmp_path / "resumed" / name)
    resumed = run(
        tmp_path / "resumed", init_seed=123, resume=True
    )  # other initial weights: all must come from the checkpoint

    expected, actual = state_of(straight.model), state_of(resumed.model)
    assert expected.keys() == actual.keys()
    for key in expected:
        assert torch.equal(expected[key], actual[key]), f"{key} differs after resuming"
    losses = [(e["step"], e["loss"]) for e in straight.state.log_history if "loss" in e]
    assert [(e["step"], e["loss"]) for e in resumed.state.log_history if "loss" in e] == losses
    assert resumed.state.global_step == 10 and resumed.state.epoch == straight.state.epoch


# -- best model, rotation, callbacks ---------------------------------------------------------------------------
def scripted_metric(values):
    """compute_metrics that returns the next of `values` as "score" at each evaluation."""
    remaining = list(values)

    def compute_metrics(prediction):
        return {"score": remaining.pop(0)}

    return compute_metrics


def test_rotation_keeps_the_best_and_loads_it_at_the_end(tmp_path):
    data = classification_data(8)
    args = training_args(
        tmp_path,
        max_steps=8,
        eval_strategy="steps",
        eval_steps=2,
        save_strategy="steps",
        save_steps=2,
        save_total_limit=1,
        load_best_model_at_end=True,
        metric_for_best_model="score",
    )
    trainer = Trainer(
        tiny_model(*CLASSIFIER),
        args,
        train_dataset=data,
        eval_dataset=data,
        compute_metrics=scripted_metric([0.2, 0.9, 0.1, 0.3]),
    )
    trainer.train()
    out = tmp_path / "out"
    assert sorted(os.listdir(out)) == ["checkpoint-4", "checkpoint-8"]
    assert (
        trainer.state.best_model_checkpoint == str(out / "checkpoint-4") and trainer.state.best_metric == 0.9
    )
    best = BertForSequenceClassification.from_pretrained(out / "checkpoint-4")
    assert all(torch.equal(best.state_dict()[k], v) for k, v in state_of(trainer.model).items())


def test_early_stopping(tmp_path):
    data = classification_data(8)
    args = training_args(
        tmp_path, max_steps=20, eval_strategy="steps", eval_steps=1, metric_for_best_model="score"
    )
    trainer = Trainer(
        tiny_model(*CLASSIFIER),
        args,
        train_dataset=data,
        eval_dataset=data,
        compute_metrics=scripted_metric([0.5, 0.6, 0.6, 0.605, 0.59, 0.9, 1.0]),
        callbacks=[EarlyStoppingCallback(early_stopping_patience=3, early_stopping_threshold=0.01)],
    )
    trainer.train()
    assert (
        trainer.state.global_step == 5
    )  # best 0.6 at step 2; 0.6, 0.605 (below threshold), 0.59 do not improve


def test_early_stopping_needs_a_metric(tmp_path):
    trainer = Trainer(
        tiny_model(*CLASSIFIER),
        training_args(tmp_path),
        train_dataset=classification_data(8),
        callbacks=[EarlyStoppingCallback],
    )
    with pytest.raises(ConfigError, match="metric_for_best_model"):
        trainer.train()


def test_callback_events_and_control(tmp_path):
    class Recorder(TrainerCallback):
        def __init__(self):
            self.events = []

        def on_train_begin(self, args, state, control, **kwargs):
            self.events.append("train_begin")

        def on_step_end(self, args, state, control, **kwargs):
            self.events.append(f"step_end:{state.global_step}")
            if state.global_step == 3:
                control.should_training_stop = True
                control.should_save = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):
            self.events.append("log")

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            self.events.append(f"evaluate:{sorted(metrics)[0]}")

        def on_save(self, args, state, control, **kwargs):
            self.events.append(f"save:{state.global_step}")

        def on_train_end(self, args, state, control, **kwargs):
            self.events.append("train_end")

    recorder = Recorder()
    data = classification_data(8)
    args = training_args(tmp_path, max_steps=10, logging_steps=2, eval_strategy="steps", eval_steps=2)
    trainer = Trainer(
        tiny_model(*CLASSIFIER), args, train_dataset=data, eval_dataset=data, callbacks=[recorder]
    )
    trainer.train()
    assert recorder.events == [
        "train_begin",
        "step_end:1",
        "step_end:2",
        "log",
        "log",
        "evaluate:eval_loss",
        "step_end:3",
        "save:3",
        "log",
        "train_end",
    ]
    assert os.listdir(tmp_path / "out") == ["checkpoint-3"]


# -- parity with transformers' Trainer ---------------------------------------------------------------------
def test_matches_transformers_trainer(tmp_path):
    """Same weights, data and arguments: the same weights after training (AdamW groups, schedule, clipping)."""
    pytest.importorskip("accelerate")
    transformers = pytest.importorskip("transformers")
    model = tiny_model(*CLASSIFIER, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model.save_pretrained(tmp_path / "init")
    reference = transformers.BertForSequenceClassification.from_pretrained(tmp_path / "init")
    data = classification_data(8)  # one batch per epoch: the shuffling order does not matter
    common = dict(
        per_device_train_batch_size=8,
        learning_rate=2e-3,
        weight_decay=0.1,
        warmup_steps=2,
        max_steps=6,
        max_grad_norm=0.5,
        lr_scheduler_type="linear",
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        logging_steps=1,
        disable_tqdm=True,
    )
    Trainer(model, TrainingArguments(output_dir=str(tmp_path / "a"), **common), train_dataset=data).train()
    hf_args = transformers.TrainingArguments(output_dir=str(tmp_path / "b"), **common)
    hf_data = [{k: v for k, v in row.items() if k != "text"} for row in data]
    transformers.Trainer(
        reference, hf_args, train_dataset=hf_data, data_collator=transformers.default_data_collator
    ).train()
    ours, theirs = state_of(model), reference.state_dict()
    for key, value in ours.items():
        torch.testing.assert_close(value, theirs[key], rtol=0, atol=2e-5, msg=key)


# -- checkpoint I/O: atomic, rotated by this run's own, reloaded through from_pretrained --------------------
def test_an_earlier_runs_checkpoints_are_left_alone(tmp_path, caplog):
    """A higher-numbered checkpoint of an older run must not make save_total_limit delete this run's new ones."""
    out = tmp_path / "out"
    old = out / "checkpoint-100"
    old.mkdir(parents=True)
    (old / "trainer_state.json").write_text("{}")
    args = training_args(tmp_path, max_steps=6, save_strategy="steps", save_steps=2, save_total_limit=1)
    with caplog.at_level("WARNING", logger="rosetta.backends.torch.trainer_checkpoint"):
        Trainer(tiny_model(*CLASSIFIER), args, train_dataset=classification_data(8)).train()
    assert sorted(os.listdir(out)) == ["checkpoint-100", "checkpoint-6"]
    assert get_last_checkpoint(out) == str(old)  # still the user's to resume from or delete
    told = [r.getMessage() for r in caplog.records if "earlier run" in r.getMessage()]
    assert len(told) == 1 and "checkpoint-100" in told[0] and "kept" in told[0]


def test_resuming_adopts_the_resumed_runs_checkpoints(tmp_path):
    out = tmp_path / "out"
    args = training_args(tmp_path, max_steps=4, save_strategy="steps", save_steps=2)
    Trainer(tiny_model(*CLASSIFIER), args, train_dataset=classification_data(8)).train()
    args = training_args(tmp_path, max_steps=8, save_strategy="steps", save_steps=2, save_total_limit=2)
    Trainer(tiny_model(*CLASSIFIER), args, train_dataset=classification_data(8)).train(
        resume_from_checkpoint=True
    )
    assert sorted(os.listdir(out)) == ["checkpoint-6", "checkpoint-8"]


def test_a_checkpoint_of_the_same_step_is_replaced_whole(tmp_path, monkeypatch):
    args = training_args(tmp_path, max_steps=2, save_strategy="steps", save_steps=2)
    Trainer(tiny_model(*CLASSIFIER, seed=0), args, train_dataset=classification_data(8)).train()
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    second = tiny_model(*CLASSIFIER, seed=1)
    Trainer(second, args, train_dataset=classification_data(8)).train()
    out = tmp_path / "out"
    assert os.listdir(out) == ["checkpoint-2"]  # no tmp- or old- folder left behind
    assert len(synced) >= len(os.listdir(out / "checkpoint-2")) + 2  # every file, the folder and its parent
    reloaded = BertForSequenceClassification.from_pretrained(out / "checkpoint-2")
    assert all(torch.equal(reloaded.state_dict()[k], v) for k, v in state_of(second).items())


def test_resume_reads_weights_through_from_pretrained(tmp_path, monkeypatch):
    args = training_args(tmp_path, max_steps=2, save_strategy="steps", save_steps=2)
    Trainer(tiny_model(*CLASSIFIER), args, train_dataset=classification_data(8)).train()
    calls = []
    real = BertForSequenceClassification.from_pretrained.__func__

    def spy(cls, folder, *a, **kw):
        calls.append(os.fspath(folder))
        return real(cls, folder, *a, **kw)

    monkeypatch.setattr(BertForSequenceClassification, "from_pretrained", classmethod(spy))
    trainer = Trainer(
        tiny_model(*CLASSIFIER, seed=5),
        training_args(tmp_path, max_steps=3),
        train_dataset=classification_data(8),
    )
    trainer.train(resume_from_checkpoint=True)
    assert calls == [str(tmp_path / "out" / "checkpoint-2")]


def test_resume_with_another_config_names_the_mismatched_weights(tmp_path):
    args = training_args(tmp_path, max_steps=2, save_strategy="steps", save_steps=2)
    Trainer(tiny_model(*CLASSIFIER, num_labels=3), args, train_dataset=classification_data(8)).train()
    trainer = Trainer(
        tiny_model(*CLASSIFIER), training_args(tmp_path, max_steps=3), train_dataset=classification_data(8)
    )
    with pytest.raises(WeightsMismatchError, match="classifier.weight"):
        trainer.train(resume_from_checkpoint=True)


def test_a_model_without_save_pretrained_cannot_be_checkpointed(tmp_path):
    class Plain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 2)

        def forward(self, x, labels=None):
            return {"loss": torch.nn.functional.cross_entropy(self.linear(x), labels)}

    data = [{"x": torch.randn(4), "labels": i % 2} for i in range(8)]
    args = training_args(tmp_path, max_steps=2, save_strategy="steps", save_steps=2)
    with pytest.raises(ConfigError, match="save_pretrained"):
        Trainer(Plain(), args, train_dataset=data).train()
