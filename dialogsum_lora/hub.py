"""The Hugging Face hub: which names are hub ids, and failing fast when it cannot be reached."""

import os
from pathlib import Path

from dialogsum_lora.errors import UserError

CONNECT_TIMEOUT_S = 3.0


def local_directory(name: str, revision: str | None, key: str, example: str) -> Path | None:
    """The local directory the param `key` (e.g. model.name) names, or None for a hub id; anything else, or a
    revision with a directory, is a UserError."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    path = Path(name)
    if path.is_dir():
        if revision is not None:
            raise UserError(
                f"params.yaml: {key} is the local directory {name}, so {key.split('.')[0]}.revision must be null "
                f"(a revision names a hub commit, branch or tag), got {revision!r}"
            )
        return path
    try:
        validate_repo_id(name)
        looks_like_a_path = path.exists() or name.startswith((".", "/", "~"))
    except HFValidationError:
        looks_like_a_path = True
    if looks_like_a_path:
        raise UserError(f"{key} {name!r} is neither a directory nor a hub id such as {example}")
    return None


def offline_unless_reachable() -> str | None:
    """Switch huggingface_hub and datasets offline if the hub does not answer, and say why (else None).

    huggingface_hub retries an unreachable host for most of a minute: one short request through its own client
    (proxies apply) tells the same in seconds, and offline, what is in the local cache still loads."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set (offline mode)"
    try:
        get_session().head(constants.ENDPOINT, timeout=CONNECT_TIMEOUT_S, follow_redirects=False)
        return None
    except Exception:  # any failure to get an answer (DNS, refused, timeout, proxy) means unreachable
        pass
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True
    import datasets.config

    datasets.config.HF_HUB_OFFLINE = True
    return f"the hub at {constants.ENDPOINT} does not answer from here"


def hub_failure(what: str, revision: str | None, offline: str | None, error: Exception) -> str:
    """Why `what` (e.g. "model 'org/x'") could not be loaded: offline, from the cache; online, the hub's answer."""
    at = f" at revision {revision}" if revision is not None else ""
    if offline:
        return f"could not load {what}{at}: {offline}, and it is not in the local Hugging Face cache"
    first_line = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
    return f"could not load {what}{at} from the Hugging Face hub ({type(error).__name__}: {first_line.rstrip('.')})"
