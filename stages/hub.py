"""Fail fast when the Hugging Face hub cannot be reached.

huggingface_hub retries an unreachable host for most of a minute before it
gives up. One short connection attempt first tells the same thing in seconds;
when it fails, the libraries are switched to offline mode, so a model or
dataset already in the local cache still loads and anything else fails at once.
"""

import os
import socket
from urllib.parse import urlparse

CONNECT_TIMEOUT_S = 3.0


def offline_unless_reachable() -> None:
    """Switch huggingface_hub and datasets to offline mode if the hub does not answer."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return
    endpoint = urlparse(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=CONNECT_TIMEOUT_S).close()
        return
    except OSError:
        pass
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True
    import datasets.config

    datasets.config.HF_HUB_OFFLINE = True
