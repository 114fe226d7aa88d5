"""Trainer with `torch_compile=True` (losses equal to eager, canonical checkpoints) and `push_to_hub=True`
(end of training and every save, to the tests' local Hub server)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rosetta import BertForSequenceClassification, BertTokenizer, Trainer, TrainingArguments  # noqa: E402
from rosetta.backends.torch import training_args as training_args_module  # noqa: E402
from rosetta.core.errors import ConfigError  # noqa: E402
from tests.parity import tiny_model  # noqa: E402

CLASSIFIER = ("torch", "sequence-classification")


def classification_data(n: int = 16, seq: int = 8, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {"input_ids": rng.integers(5, 99, seq).tolist(), "labels": int(rng.integers(0, 2))} for _ in range(n)
    ]


class RecordingTrainer(Trainer):
    """Keeps the loss of every step, unrounded."""

    def training_step(self, model, inputs, num_items_in_batch=None):
        loss = super().training_step(model, inputs, num_items_in_batch)
        self.losses = [*getattr(self, "losses", []), loss.item()]
        return loss


def no_dropout_model():
    return tiny_model(*CLASSIFIER, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_tokenizer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-vocab")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(94)]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    return BertTokenizer(str(folder / "vocab.txt"))


# -- torch_compile ----------------------------------------------------------------------------------------
def test_compiled_training_equals_eager_and_saves_canonical_names(tmp_path):
    common = dict(
        per_device_train_batch_size=8,
        learning_rate=1e-3,
        max_steps=2,
        logging_steps=1,
        save_strategy="steps",
        save_steps=2,
        disable_tqdm=True,
    )
    data = classification_data()
    eager = RecordingTrainer(
        no_dropout_model(),
        TrainingArguments(output_dir=str(tmp_path / "eager"), **common),
        train_dataset=data,
    )
    eager.train()
    # aot_eager: TorchDynamo captures forward and backward (AOTAutograd) as inductor does, without its C++
    # codegen, which takes over a minute on a cold CPU cache (inductor gives the same losses within 1e-5).
    args = TrainingArguments(
        output_dir=str(tmp_path / "compiled"), torch_compile=True, torch_compile_backend="aot_eager", **common
    )
    compiled = RecordingTrainer(no_dropout_model(), args, train_dataset=data)
    compiled.train()

    assert isinstance(compiled._compiled_model, torch._dynamo.eval_frame.OptimizedModule)
    assert compiled._compiled_model._orig_mod is compiled.model
    np.testing.assert_allclose(compiled.losses, eager.losses, rtol=0, atol=1e-5)
    for name, value in eager.model.state_dict().items():
        torch.testing.assert_close(compiled.model.state_dict()[name], value, rtol=0, atol=1e-5, msg=name)
    folder = tmp_path / "compiled" / "checkpoint-2"
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        names = set(f.keys())
    assert not any("_orig_mod" in n for n in names)
    assert names == set(BertForSequenceClassification.from_pretrained(folder).state_dict())
    assert json.loads((folder / "training_args.json").read_text())["torch_compile"] is True


def test_compile_backend_or_mode_turns_compile_on_and_bad_values_are_refused(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), torch_compile_mode="reduce-overhead")
    assert args.torch_compile and args.torch_compile_backend == "inductor"
    assert TrainingArguments(output_dir=str(tmp_path), torch_compile_backend="aot_eager").torch_compile
    with pytest.raises(ConfigError, match="'fastest' is not a torch.compile mode"):
        TrainingArguments(output_dir=str(tmp_path), torch_compile=True, torch_compile_mode="fastest")
    with pytest.raises(ConfigError, match="'no_such_backend' is not a torch.compile backend"):
        TrainingArguments(output_dir=str(tmp_path), torch_compile_backend="no_such_backend")


def test_compile_unavailable_is_a_clear_error(tmp_path, monkeypatch):
    import torch._dynamo

    monkeypatch.setattr(torch._dynamo, "is_dynamo_supported", lambda: False)
    with pytest.raises(ConfigError, match="torch_compile=True needs torch.compile, which is unavailable"):
        TrainingArguments(output_dir=str(tmp_path), torch_compile=True)
    assert training_args_module.compile_unavailable_reason() is not None
    TrainingArguments(output_dir=str(tmp_path))  # compile off: nothing checked


# -- push_to_hub --------------------------------------------------------------------------------------------
def hub_args(tmp_path, repo_id: str, **overrides) -> TrainingArguments:
    defaults = dict(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=8,
        learning_rate=1e-3,
        max_steps=4,
        save_strategy="steps",
        save_steps=2,
        disable_tqdm=True,
        push_to_hub=True,
        hub_model_id=repo_id,
    )
    return TrainingArguments(**{**defaults, **overrides})


def test_push_at_every_save_and_at_the_end(hub_server, fresh_hf_cache, tmp_path, tiny_tokenizer):
    repo_id = hub_server.new_repo_id("trained")
    trainer = Trainer(
        no_dropout_model(),
        hub_args(tmp_path, repo_id, hub_token="hf_rosetta_test_token", hub_private_repo=True),
        train_dataset=classification_data(),
        processing_class=tiny_tokenizer,
    )
    trainer.train()

    repo = hub_server.repo(repo_id)
    assert repo.private
    messages = [commit.message for commit in _history(repo)]
    assert messages == [
        "initial commit",
        "Training in progress, step 2",
        "Training in progress, step 4",
        "End of training",
    ]  # one commit per save, then the end of training
    files = repo.files()
    assert {"config.json", "model.safetensors", "README.md", "training_args.json", "tokenizer.json"} <= set(
        files
    )
    assert not any(name in files for name in ("optimizer.pt", "scheduler.pt", "trainer_state.json"))
    assert not any(name.startswith("last-checkpoint/") for name in files)  # every_save: the model only
    assert json.loads(files["training_args.json"])["hub_token"] == "<HUB_TOKEN>"  # the secret stays local
    assert (
        f"# {repo_id.split('/')[-1]}" in files["README.md"].decode() or repo_id in files["README.md"].decode()
    )
    # the canonical checkpoint, loadable back from the Hub, equal to the trained weights
    loaded = BertForSequenceClassification.from_pretrained(repo_id, token="hf_rosetta_test_token")
    for name, value in trainer.model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], value, rtol=0, atol=0, msg=name)
    pushed_at_step_2 = _history(repo)[1].files["model.safetensors"]
    local_step_2 = (tmp_path / "out" / "checkpoint-2" / "model.safetensors").read_bytes()
    assert pushed_at_step_2 == local_step_2


def test_hub_strategy_checkpoint_pushes_the_last_checkpoint_to_resume_from(
    hub_server, fresh_hf_cache, tmp_path
):
    repo_id = hub_server.new_repo_id("ckpt")
    trainer = Trainer(
        no_dropout_model(),
        hub_args(tmp_path, repo_id, hub_strategy="checkpoint"),
        train_dataset=classification_data(),
    )
    trainer.train()
    files = hub_server.repo(repo_id).files()
    assert {
        "last-checkpoint/optimizer.pt",
        "last-checkpoint/trainer_state.json",
        "last-checkpoint/model.safetensors",
    } <= set(files)
    assert json.loads(files["last-checkpoint/trainer_state.json"])["global_step"] == 4
    assert len(_history(hub_server.repo(repo_id))) == 4  # initial, two saves, the end


def test_hub_strategy_end_pushes_once(hub_server, fresh_hf_cache, tmp_path):
    repo_id = hub_server.new_repo_id("end")
    trainer = Trainer(
        no_dropout_model(),
        hub_args(tmp_path, repo_id, hub_strategy="end"),
        train_dataset=classification_data(),
    )
    assert (
        trainer.hub_model_id == repo_id and repo_id in hub_server.repos
    )  # created when the Trainer is built
    trainer.train()
    assert [c.message for c in _history(hub_server.repo(repo_id))] == ["initial commit", "End of training"]
    assert "model.safetensors" in hub_server.repo(repo_id).files()


def test_unknown_hub_strategy_is_refused_by_name(tmp_path):
    with pytest.raises(ConfigError, match="hub_strategy='sometimes' is not supported; use one of 'end'"):
        TrainingArguments(output_dir=str(tmp_path), push_to_hub=True, hub_strategy="sometimes")


def test_hub_model_id_defaults_to_the_output_dir_name(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path / "my-model"), push_to_hub=True)
    assert args.hub_model_id == "my-model" and args.hub_strategy == "every_save"


def _history(repo) -> list:
    """The commits of main, oldest first."""
    commits, oid = [], repo.refs["main"]
    while oid is not None:
        commits.append(repo.commits[oid])
        oid = repo.commits[oid].parent
    return commits[::-1]


def test_an_unreachable_hub_is_a_clear_error_before_training(tmp_path, monkeypatch):
    import huggingface_hub.constants

    from rosetta.core.errors import HubUnreachableError

    with socket_on_a_dead_port() as port:
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{port}")
        with pytest.raises(HubUnreachableError, match="push_to_hub=True: the Hub .* could not be reached"):
            Trainer(no_dropout_model(), hub_args(tmp_path, "user/never"), train_dataset=classification_data())


def socket_on_a_dead_port():
    """A port nothing listens on (bound, never listening, so connections are refused)."""
    import contextlib
    import socket

    @contextlib.contextmanager
    def dead():
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            yield sock.getsockname()[1]

    return dead()
