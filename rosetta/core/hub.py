"""Resolve a local folder or a Hub repo id to files, and push folders to the Hub.

Everything that touches the network goes through `huggingface_hub`, so its cache layout,
`revision` pinning, `local_files_only` and `HF_HUB_OFFLINE` behave exactly as users expect.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any

from .errors import MissingFileError, RepositoryNotFoundError


@dataclass(frozen=True)
class HubOptions:
    """The download options every `from_pretrained` accepts, passed around as one value."""

    revision: str | None = None
    cache_dir: str | None = None
    local_files_only: bool = False
    token: str | bool | None = None
    subfolder: str = ""

    @classmethod
    def pop_from(cls, kwargs: dict[str, Any]) -> HubOptions:
        """Take the hub options out of a `from_pretrained(**kwargs)` dict, leaving the rest."""
        return cls(
            revision=kwargs.pop("revision", None),
            cache_dir=kwargs.pop("cache_dir", None),
            local_files_only=kwargs.pop("local_files_only", False),
            token=kwargs.pop("token", None),
            subfolder=kwargs.pop("subfolder", "") or "",
        )


def is_local(path_or_repo_id: str | os.PathLike) -> bool:
    return os.path.isdir(os.fspath(path_or_repo_id))


def resolve_file(
    path_or_repo_id: str | os.PathLike,
    filename: str,
    options: HubOptions | None = None,
    *,
    required: bool = True,
) -> str | None:
    """Return the local path of `filename` in a folder or Hub repo, downloading it if needed.

    A missing file raises `MissingFileError` naming the file, where it was looked for and the
    revision; with `required=False` it returns None instead (missing repos still raise).
    """
    options = options or HubOptions()
    path = os.fspath(path_or_repo_id)
    relative = os.path.join(options.subfolder, filename) if options.subfolder else filename
    if os.path.isdir(path):
        candidate = os.path.join(path, relative)
        if os.path.isfile(candidate):
            return candidate
        if required:
            raise MissingFileError(relative, f"the local folder {os.path.abspath(path)}")
        return None
    if os.path.isfile(path):
        raise MissingFileError(relative, f"{path!r}", hint="Pass the folder that holds the file, not a file.")

    import huggingface_hub
    from huggingface_hub import errors as hf_errors

    try:
        return huggingface_hub.hf_hub_download(
            path,
            filename,
            subfolder=options.subfolder or None,
            revision=options.revision,
            cache_dir=options.cache_dir,
            local_files_only=options.local_files_only,
            token=options.token,
        )
    except hf_errors.RepositoryNotFoundError as err:
        raise RepositoryNotFoundError(
            f"{path!r} is neither a local folder nor a repository on the Hub ({huggingface_hub.constants.ENDPOINT}). "
            "Check the spelling, or pass `token=` for a private repository."
        ) from err
    except hf_errors.RevisionNotFoundError as err:
        raise RepositoryNotFoundError(
            f"Revision {options.revision!r} does not exist in the Hub repository {path!r}."
        ) from err
    except hf_errors.EntryNotFoundError as err:
        if required:
            raise MissingFileError(relative, f"the Hub repository {path!r}", options.revision or "main") from err
        return None
    except hf_errors.LocalEntryNotFoundError as err:
        if required:
            raise MissingFileError(
                relative,
                f"the local Hugging Face cache for {path!r}",
                options.revision or "main",
                hint="Offline mode (local_files_only or HF_HUB_OFFLINE) only serves files already cached.",
            ) from err
        return None


def first_existing(
    path_or_repo_id: str | os.PathLike, filenames: list[str], options: HubOptions | None = None
) -> str | None:
    """The local path of the first of `filenames` the folder or repo holds, else None."""
    for name in filenames:
        found = resolve_file(path_or_repo_id, name, options, required=False)
        if found is not None:
            return found
    return None


class PushToHubMixin:
    """`push_to_hub` for anything with a `save_pretrained(folder)`: one commit per push."""

    def _model_card(self, repo_id: str) -> str | None:
        """Text of a README.md to push along, or None for no card."""
        return None

    def push_to_hub(
        self,
        repo_id: str,
        commit_message: str | None = None,
        private: bool | None = None,
        token: str | bool | None = None,
        revision: str | None = None,
        create_pr: bool = False,
        **save_kwargs: Any,
    ) -> Any:
        from huggingface_hub import CommitOperationAdd, HfApi

        api = HfApi(token=token)
        repo_url = api.create_repo(repo_id, private=private, exist_ok=True)
        repo_id = repo_url.repo_id
        if revision is not None and revision != "main":
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        with tempfile.TemporaryDirectory() as folder:
            self.save_pretrained(folder, **save_kwargs)
            card = self._model_card(repo_id)
            if card is not None and not os.path.exists(os.path.join(folder, "README.md")):
                with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as f:
                    f.write(card)
            operations = [
                CommitOperationAdd(path_in_repo=os.path.relpath(os.path.join(root, name), folder), path_or_fileobj=os.path.join(root, name))
                for root, _, names in os.walk(folder)
                for name in sorted(names)
            ]
            return api.create_commit(
                repo_id,
                operations=operations,
                commit_message=commit_message or f"Upload {type(self).__name__}",
                revision=revision,
                create_pr=create_pr,
            )
