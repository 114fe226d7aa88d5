"""Hub round trips against the local test Hub (tests/hub_server.py), driven by the real huggingface_hub client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rosetta.core import hub
from rosetta.core.errors import (
    HubUnreachableError,
    MissingFileError,
    PathNotFoundError,
    RepositoryNotFoundError,
)
from rosetta.core.hub import HubOptions, resolve_file
from rosetta.models.bert.configuration_bert import BertConfig
from tests.hub_server import HubServer

FAST_S = 10.0  # huggingface_hub alone retries a dead endpoint for 20+ s per file


def _pushed_config(hub_server, config: BertConfig, name: str = "repo", **push_kwargs) -> str:
    repo_id = hub_server.new_repo_id(name)
    config.push_to_hub(repo_id, **push_kwargs)
    return repo_id


def test_push_config_and_load_it_back_into_an_empty_cache(hub_server, fresh_hf_cache, tiny_bert_config):
    repo_id = hub_server.new_repo_id("repo")

    info = tiny_bert_config.push_to_hub(repo_id, commit_message="Add config")

    repo = hub_server.repo(repo_id)
    assert info.oid == repo.refs["main"]
    assert repo.commits[info.oid].message == "Add config"
    assert "config.json" in repo.files()
    loaded = BertConfig.from_pretrained(repo_id)
    assert loaded == tiny_bert_config
    assert (
        fresh_hf_cache / f"models--{repo_id.replace('/', '--')}" / "snapshots" / info.oid / "config.json"
    ).exists()


def test_revision_pins_a_commit_or_a_branch(hub_server, fresh_hf_cache, tiny_bert_config):
    repo_id = hub_server.new_repo_id("repo")
    first = tiny_bert_config.push_to_hub(repo_id)
    tiny_bert_config.hidden_act = "relu"
    second = tiny_bert_config.push_to_hub(repo_id)
    tiny_bert_config.hidden_act = "silu"
    on_branch = tiny_bert_config.push_to_hub(repo_id, revision="stable")  # creates the branch from main

    assert first.oid != second.oid
    assert hub_server.repo(repo_id).refs == {"main": second.oid, "stable": on_branch.oid}
    assert BertConfig.from_pretrained(repo_id, revision=first.oid).hidden_act == "gelu"
    assert BertConfig.from_pretrained(repo_id, revision=first.oid[:10]).hidden_act == "gelu"
    assert BertConfig.from_pretrained(repo_id).hidden_act == "relu"
    assert BertConfig.from_pretrained(repo_id, revision="stable").hidden_act == "silu"


@pytest.mark.parametrize("how", ["HF_HUB_OFFLINE", "huggingface_hub offline constant", "local_files_only"])
def test_offline_mode_serves_from_the_cache_only(
    how, hub_server, fresh_hf_cache, tiny_bert_config, monkeypatch
):
    downloaded = _pushed_config(hub_server, tiny_bert_config)
    never_downloaded = _pushed_config(hub_server, tiny_bert_config)
    BertConfig.from_pretrained(downloaded)
    kwargs = {}
    if how == "HF_HUB_OFFLINE":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    elif how == "local_files_only":
        kwargs["local_files_only"] = True
    else:  # HF_HUB_OFFLINE set before huggingface_hub was imported
        import huggingface_hub.constants

        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    requests_before = len(hub_server.requests)

    assert BertConfig.from_pretrained(downloaded, **kwargs) == tiny_bert_config
    with pytest.raises(MissingFileError) as err:
        BertConfig.from_pretrained(never_downloaded, **kwargs)

    assert hub_server.requests[requests_before:] == []
    message = str(err.value)
    assert "config.json" in message and never_downloaded in message
    assert "cache" in message and str(fresh_hf_cache) in message


def test_a_missing_repo_or_revision_raises_repository_not_found(
    hub_server, fresh_hf_cache, tiny_bert_config, tmp_path: Path
):
    with pytest.raises(RepositoryNotFoundError, match="user/no-such-repo"):
        BertConfig.from_pretrained("user/no-such-repo")
    with pytest.raises(
        PathNotFoundError, match="does not exist"
    ):  # a path, not a repo id: the Hub is not asked
        BertConfig.from_pretrained(tmp_path / "no" / "such" / "folder")

    repo_id = _pushed_config(hub_server, tiny_bert_config)
    with pytest.raises(RepositoryNotFoundError, match="no-such-branch") as err:
        BertConfig.from_pretrained(repo_id, revision="no-such-branch")
    assert isinstance(err.value, OSError)  # what code written against transformers catches


def test_a_missing_file_names_the_file_the_repo_and_the_revision(
    hub_server, fresh_hf_cache, tiny_bert_config
):
    repo_id = _pushed_config(hub_server, tiny_bert_config)
    sha = hub_server.repo(repo_id).refs["main"]

    for revision in (None, sha):
        with pytest.raises(MissingFileError) as err:
            resolve_file(repo_id, "tokenizer.json", HubOptions(revision=revision))
        message = str(err.value)
        assert "tokenizer.json" in message and repo_id in message and (revision or "main") in message
        assert err.value.filename == "tokenizer.json"
    assert resolve_file(repo_id, "tokenizer.json", required=False) is None


def test_a_private_repo_needs_a_token(hub_server, fresh_hf_cache, tiny_bert_config):
    from huggingface_hub import HfApi

    repo_id = _pushed_config(hub_server, tiny_bert_config, private=True)

    assert hub_server.repo(repo_id).private
    assert HfApi().repo_exists(repo_id)  # HF_TOKEN is set by conftest
    assert not HfApi(token=False).repo_exists(repo_id)
    with pytest.raises(RepositoryNotFoundError, match="token"):
        BertConfig.from_pretrained(repo_id, token=False)
    assert BertConfig.from_pretrained(repo_id) == tiny_bert_config


def test_create_pr_leaves_main_untouched(hub_server, fresh_hf_cache, tiny_bert_config):
    repo_id = _pushed_config(hub_server, tiny_bert_config)
    main = hub_server.repo(repo_id).refs["main"]
    tiny_bert_config.hidden_act = "relu"

    info = tiny_bert_config.push_to_hub(repo_id, create_pr=True)

    assert info.pr_revision == "refs/pr/1" and info.pr_num == 1
    assert hub_server.repo(repo_id).refs == {"main": main, "refs/pr/1": info.oid}
    assert hub_server.repo(repo_id).commits[info.oid].parent == main
    assert BertConfig.from_pretrained(repo_id).hidden_act == "gelu"
    assert BertConfig.from_pretrained(repo_id, revision=info.pr_revision).hidden_act == "relu"

    tiny_bert_config.hidden_act = "silu"
    update = tiny_bert_config.push_to_hub(repo_id, revision=info.pr_revision)  # one more commit on the PR
    assert hub_server.repo(repo_id).refs == {"main": main, "refs/pr/1": update.oid}
    assert BertConfig.from_pretrained(repo_id, revision="refs/pr/1").hidden_act == "silu"


class _ConfigWithCard(BertConfig):
    def _model_card(self, repo_id: str, folder: str) -> str:
        return f"---\nlibrary_name: rosetta\n---\n# {repo_id}\n"


def test_the_model_card_is_pushed_once_and_an_existing_card_is_kept(hub_server, tiny_bert_config):
    from huggingface_hub import HfApi

    config = _ConfigWithCard(**tiny_bert_config.to_dict())
    repo_id = _pushed_config(hub_server, config)
    assert (
        hub_server.repo(repo_id).files()["README.md"]
        == f"---\nlibrary_name: rosetta\n---\n# {repo_id}\n".encode()
    )

    HfApi().upload_file(path_or_fileobj=b"# my own card\n", path_in_repo="README.md", repo_id=repo_id)
    config.hidden_act = "relu"
    config.push_to_hub(repo_id)

    files = hub_server.repo(repo_id).files()
    assert files["README.md"] == b"# my own card\n"
    assert b'"relu"' in files["config.json"]


def test_the_server_speaks_the_client_protocol(hub_server, fresh_hf_cache, tmp_path: Path):
    """upload_folder, list_repo_files, repo_exists and snapshot_download, as the Hub answers them."""
    from huggingface_hub import HfApi, snapshot_download

    folder = tmp_path / "upload"
    (folder / "nested").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "nested" / "b.bin").write_bytes(bytes(range(256)))
    api = HfApi()
    repo_id = api.create_repo(hub_server.new_repo_id("raw")).repo_id

    api.upload_folder(repo_id=repo_id, folder_path=folder)

    assert api.repo_exists(repo_id) and not api.repo_exists("user/absent")
    assert sorted(api.list_repo_files(repo_id)) == [".gitattributes", "a.txt", "nested/b.bin"]
    snapshot = Path(snapshot_download(repo_id))
    assert (snapshot / "nested" / "b.bin").read_bytes() == bytes(range(256))
    assert snapshot.is_relative_to(fresh_hf_cache)


def test_push_a_torch_model_and_load_it_back(hub_server, fresh_hf_cache, tiny_bert_config):
    torch = pytest.importorskip("torch")
    from rosetta.models.bert.modeling_bert import BertModel

    torch.manual_seed(0)
    model = BertModel(tiny_bert_config).eval()
    repo_id = hub_server.new_repo_id("tiny-bert")

    model.push_to_hub(repo_id, verify=True)  # verification on push is opt-in

    files = hub_server.repo(repo_id).files()
    assert {"config.json", "model.safetensors", "README.md"} <= set(files)
    card = files["README.md"].decode()
    assert repo_id in card and "## Cross-framework verification" in card
    assert "Verified in: PyTorch, TensorFlow, JAX/Flax, Hugging Face transformers." in card
    loaded = BertModel.from_pretrained(repo_id)
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    input_ids = torch.tensor([[2, 15, 40, 7, 0], [3, 98, 1, 0, 0]])
    attention_mask = (input_ids != 0).long()
    with torch.no_grad():
        expected = model(input_ids, attention_mask=attention_mask).last_hidden_state
        actual = loaded(input_ids, attention_mask=attention_mask).last_hidden_state
    torch.testing.assert_close(actual, expected)


def test_push_from_torch_load_in_flax_from_an_empty_cache(hub_server, fresh_hf_cache, tiny_bert_config):
    torch = pytest.importorskip("torch")
    pytest.importorskip("flax")
    import numpy as np

    from rosetta import BertModel, FlaxBertModel

    torch.manual_seed(1)
    model = BertModel(tiny_bert_config).eval()
    repo_id = hub_server.new_repo_id("tiny-bert-flax")
    model.push_to_hub(repo_id)
    assert not any(fresh_hf_cache.iterdir())

    flax_model = FlaxBertModel.from_pretrained(repo_id)

    assert any(fresh_hf_cache.iterdir())
    input_ids = np.array([[2, 15, 40, 7, 0], [3, 98, 1, 0, 0]])
    attention_mask = (input_ids != 0).astype(np.int64)
    with torch.no_grad():
        expected = model(
            torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention_mask)
        ).last_hidden_state.numpy()
    actual = np.asarray(flax_model(input_ids, attention_mask=attention_mask).last_hidden_state)
    np.testing.assert_allclose(actual, expected, atol=2e-5)


def _closed_port_endpoint() -> str:
    with socket.socket() as sock:  # bound, never listening, then released: nothing answers there
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def endpoint(monkeypatch):
    """Point our Hub calls at another endpoint for one test."""
    import huggingface_hub.constants

    def point_at(url: str) -> None:
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", url)
        template = url + "/{repo_id}/resolve/{revision}/{filename}"  # derived from HF_ENDPOINT at import
        monkeypatch.setattr(huggingface_hub.constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)

    return point_at


@pytest.mark.parametrize(
    "path", ["./no-such-folder", "../no/such", "/no/such/folder", "a/b/c", "~/nothing", "bad name!", "x\\y"]
)
def test_a_local_looking_path_that_does_not_exist_fails_at_once(path, hub_server, fresh_hf_cache):
    requests_before = len(hub_server.requests)
    with pytest.raises(PathNotFoundError) as err:
        BertConfig.from_pretrained(path)
    assert repr(path) in str(err.value) and "does not exist" in str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    assert hub_server.requests[requests_before:] == []  # the Hub was never asked


def test_a_closed_port_is_reported_unreachable_within_seconds(endpoint, fresh_hf_cache):
    url = _closed_port_endpoint()
    endpoint(url)
    start = time.monotonic()
    with pytest.raises(HubUnreachableError) as err:
        BertConfig.from_pretrained("does-not-exist")
    assert time.monotonic() - start < FAST_S
    message = str(err.value)
    assert (
        "'does-not-exist' is not a local folder" in message
        and url in message
        and "HF_HUB_OFFLINE=1" in message
    )
    with pytest.raises(HubUnreachableError):  # optional files too: "unknown" is not "absent"
        resolve_file("user/some-repo", "model.safetensors", required=False)


def test_push_to_an_unreachable_hub_fails_within_seconds(endpoint, tiny_bert_config):
    endpoint(_closed_port_endpoint())
    start = time.monotonic()
    with pytest.raises(HubUnreachableError, match="Cannot push to 'user/anything'.*nothing was uploaded"):
        tiny_bert_config.push_to_hub("user/anything")
    assert time.monotonic() - start < FAST_S


def test_a_stopped_hub_serves_the_cache_and_names_what_it_cannot_fetch(
    endpoint, fresh_hf_cache, tiny_bert_config, monkeypatch
):
    server = HubServer().start()
    endpoint(server.url)
    repo_id = server.new_repo_id("repo")
    server.create_repo(repo_id)
    server.commit(
        server.repo(repo_id), "main", "add", {"config.json": tiny_bert_config.to_json_string().encode()}
    )
    assert BertConfig.from_pretrained(repo_id) == tiny_bert_config
    assert resolve_file(repo_id, "model.safetensors", required=False) is None  # a 404 the cache remembers
    server.stop()
    monkeypatch.setattr(hub, "_probes", {})  # forget that it answered a moment ago

    start = time.monotonic()
    assert BertConfig.from_pretrained(repo_id) == tiny_bert_config  # from the cache
    assert resolve_file(repo_id, "model.safetensors", required=False) is None  # known absent, no error
    with pytest.raises(HubUnreachableError, match=r"could not be reached to fetch 'tokenizer\.json'"):
        resolve_file(repo_id, "tokenizer.json")
    assert time.monotonic() - start < FAST_S


def test_hf_hub_offline_never_probes_the_endpoint(endpoint, fresh_hf_cache, monkeypatch):
    endpoint(_closed_port_endpoint())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingFileError, match="Offline mode"):
        BertConfig.from_pretrained("user/never-downloaded")


def test_the_cli_says_a_missing_local_path_does_not_exist(tmp_path):
    env = {**os.environ, "HF_ENDPOINT": _closed_port_endpoint()}
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "rosetta", "convert", "./does-not-exist", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode != 0
    assert "'./does-not-exist' does not exist" in result.stderr
    assert "Retry" not in result.stderr and time.monotonic() - start < 60
