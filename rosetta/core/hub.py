"""Resolve a local folder or a Hub repo id to files, and push folders to the Hub.

Everything that touches the network goes through `huggingface_hub`, so its cache layout,
`revision` pinning, `local_files_only` and `HF_HUB_OFFLINE` behave exactly as users expect.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import HubUnreachableError, MissingFileError, PathNotFoundError, RepositoryNotFoundError

_TRUE = {"1", "on", "yes", "true"}
# One short request, no retries, tells whether anything answers at the endpoint before huggingface_hub's
# own download (which, with no cached copy, retries a dead endpoint for a minute per file).
HUB_PROBE_TIMEOUT_S = 5.0
_PROBE_TTL_S = {True: 5.0, False: 30.0}  # how long an answer is trusted: reachable, unreachable
_probes: dict[str, tuple[str | None, float]] = {}  # endpoint -> (why unreachable or None, when probed)


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
        cache_dir = kwargs.pop("cache_dir", None)
        return cls(
            revision=kwargs.pop("revision", None),
            cache_dir=os.fspath(cache_dir) if cache_dir is not None else None,
            local_files_only=kwargs.pop("local_files_only", False),
            token=kwargs.pop("token", None),
            subfolder=kwargs.pop("subfolder", "") or "",
        )


def is_local(path_or_repo_id: str | os.PathLike) -> bool:
    """Whether `path_or_repo_id` names an existing local folder (rather than a Hub repo id)."""
    return os.path.isdir(os.fspath(path_or_repo_id))


def is_offline_mode() -> bool:
    """HF_HUB_OFFLINE as set now: huggingface_hub itself reads it only once, when imported."""
    from huggingface_hub import constants

    return constants.is_offline_mode() or os.environ.get("HF_HUB_OFFLINE", "").lower() in _TRUE


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
    if os.path.isdir(path):
        return _resolve_local(path, filename, options, required)
    if os.path.isfile(path):
        relative = os.path.join(options.subfolder, filename) if options.subfolder else filename
        raise MissingFileError(relative, f"{path!r}", hint="Pass the folder that holds the file, not a file.")
    if looks_like_local_path(path):
        raise PathNotFoundError(
            f"{path!r} does not exist (looked for {os.path.abspath(os.path.expanduser(path))}). It looks like a "
            "local path, so the Hub was not asked. Check the path; a Hub repository id has the form 'namespace/name'."
        )
    return _resolve_on_hub(path, filename, options, required)


def looks_like_local_path(path: str) -> bool:
    """Whether `path` can only mean a local path: it starts with '.', '/' or '~', has a backslash or more
    than one '/', or is not a valid Hub repo id."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if path.startswith((".", "/", "~")) or "\\" in path or path.count("/") > 1 or os.path.isabs(path):
        return True
    try:
        validate_repo_id(path)
    except HFValidationError:
        return True
    return False


def hub_unreachable_reason(endpoint: str) -> str | None:
    """Why nothing answers at `endpoint` (None when something does), from one short request without
    retries; the answer is remembered for a few seconds so resolving many files probes once."""
    from huggingface_hub.utils import get_session

    if endpoint in _probes:
        reason, when = _probes[endpoint]
        if time.monotonic() - when < _PROBE_TTL_S[reason is None]:
            return reason
    try:
        get_session().head(endpoint, timeout=HUB_PROBE_TIMEOUT_S)
        reason = None
    except Exception as err:  # any transport failure (refused, DNS, timeout, TLS) means "unreachable"
        reason = f"{type(err).__name__}: {err}"
    _probes[endpoint] = (reason, time.monotonic())
    return reason


def _resolve_local(folder: str, filename: str, options: HubOptions, required: bool) -> str | None:
    relative = os.path.join(options.subfolder, filename) if options.subfolder else filename
    candidate = os.path.join(folder, relative)
    if os.path.isfile(candidate):
        return candidate
    if required:
        raise MissingFileError(relative, f"the local folder {os.path.abspath(folder)}")
    return None


def _resolve_on_hub(repo_id: str, filename: str, options: HubOptions, required: bool) -> str | None:
    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub import errors as hf_errors

    relative = posixpath.join(options.subfolder, filename) if options.subfolder else filename
    revision = options.revision or "main"
    offline = options.local_files_only or is_offline_mode()
    endpoint = constants.ENDPOINT
    unreachable = None if offline else hub_unreachable_reason(endpoint)
    try:
        return huggingface_hub.hf_hub_download(
            repo_id,
            filename,
            subfolder=options.subfolder or None,
            revision=options.revision,
            cache_dir=options.cache_dir,
            local_files_only=offline or unreachable is not None,
            token=options.token,
            endpoint=endpoint,
        )
    except hf_errors.HFValidationError as err:
        raise RepositoryNotFoundError(
            f"{repo_id!r} is not a local folder, nor a valid Hub repository id ({err}). "
            "Check the path, or use a repo id of the form 'namespace/name'."
        ) from err
    except hf_errors.RepositoryNotFoundError as err:
        raise RepositoryNotFoundError(
            f"{repo_id!r} is neither a local folder nor a repository on the Hub ({constants.ENDPOINT}). "
            "Check the spelling, or pass `token=` for a private repository."
        ) from err
    except hf_errors.RevisionNotFoundError as err:
        raise RepositoryNotFoundError(
            f"Revision {revision!r} does not exist in the Hub repository {repo_id!r}. "
            "Pass an existing branch, tag or commit id as `revision=`."
        ) from err
    except hf_errors.LocalEntryNotFoundError as err:  # before EntryNotFoundError: it is a subclass
        if unreachable is not None:
            if not required and _known_absent(repo_id, relative, options):
                return None  # a 404 the cache remembers: absent, whether or not the Hub answers now
            raise HubUnreachableError(
                f"{repo_id!r} is not a local folder, and the Hub ({endpoint}) could not be reached to fetch "
                f"{relative!r} at revision {revision!r} ({unreachable}); it is not in the local cache either. "
                "Check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use only downloaded files."
            ) from err
        if not required:
            return None
        cache = options.cache_dir or constants.HF_HUB_CACHE
        if offline:
            hint = "Offline mode (local_files_only or HF_HUB_OFFLINE) only serves files already downloaded."
        else:
            hint = f"The Hub ({constants.ENDPOINT}) could not be reached, and the file was never downloaded."
        raise MissingFileError(
            relative, f"the local Hugging Face cache ({cache}) for {repo_id!r}", revision, hint=hint
        ) from err
    except hf_errors.EntryNotFoundError as err:
        if required:
            raise MissingFileError(relative, f"the Hub repository {repo_id!r}", revision) from err
        return None


def _known_absent(repo_id: str, relative: str, options: HubOptions) -> bool:
    """Whether the cache remembers that the repo has no such file (a 404 seen while online)."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, relative, cache_dir=options.cache_dir, revision=options.revision)
    return found is not None and not isinstance(found, str)


class PushToHubMixin:
    """`push_to_hub` for anything with a `save_pretrained(folder)`: one commit per push."""

    def _model_card(self, repo_id: str, folder: str) -> str | None:
        """Text of a README.md to push along (written from the saved `folder`), or None for no card."""
        return None

    def push_to_hub(
        self,
        repo_id: str,
        commit_message: str | None = None,
        private: bool | None = None,
        token: str | bool | None = None,
        revision: str | None = None,
        create_pr: bool = False,
        commit_description: str | None = None,
        **save_kwargs: Any,
    ) -> Any:
        """Save to a temporary folder and upload all of it as one commit; returns the `CommitInfo`.

        The repo is created if needed (`private` applies only then). `revision` names the branch to
        commit to, created from main if it does not exist (or an open `refs/pr/N` to add to);
        `create_pr=True` opens a pull request against it instead (`CommitInfo.pr_revision` is its
        `refs/pr/N`). A README.md model card is added when the class writes one and the repo has
        none yet: a card already on the Hub is kept. Other keyword arguments go to `save_pretrained`.
        """
        from huggingface_hub import HfApi, constants

        unreachable = hub_unreachable_reason(constants.ENDPOINT)
        if unreachable is not None:
            raise HubUnreachableError(
                f"Cannot push to {repo_id!r}: the Hub ({constants.ENDPOINT}) could not be reached "
                f"({unreachable}). Check the network or HF_ENDPOINT; nothing was uploaded."
            )
        api = HfApi(token=token)
        repo_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
        if revision is not None and revision != "main" and not revision.startswith("refs/pr/"):
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        with tempfile.TemporaryDirectory() as folder:
            self.save_pretrained(folder, **save_kwargs)
            self._add_model_card(api, repo_id, revision, Path(folder))
            return api.create_commit(
                repo_id,
                operations=_operations_for(Path(folder)),
                commit_message=commit_message or f"Upload {type(self).__name__}",
                commit_description=commit_description,
                revision=revision,
                create_pr=create_pr,
            )

    def _add_model_card(self, api: Any, repo_id: str, revision: str | None, folder: Path) -> None:
        readme = folder / "README.md"
        if readme.exists() or api.file_exists(repo_id, "README.md", revision=revision):
            return  # never overwrite a card the user wrote
        card = self._model_card(repo_id, str(folder))
        if card is not None:
            readme.write_text(card, encoding="utf-8")


def _operations_for(folder: Path) -> list[Any]:
    """One `CommitOperationAdd` per file under `folder`, in a stable order."""
    from huggingface_hub import CommitOperationAdd

    return [
        CommitOperationAdd(path_in_repo=path.relative_to(folder).as_posix(), path_or_fileobj=str(path))
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    ]
