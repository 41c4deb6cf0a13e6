"""A stand-in for the Hugging Face Hub at the HTTP boundary: huggingface_hub's own httpx2 client
is pointed at a mock transport that answers the five calls a push makes and keeps the commit."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx2


class FakeHub:
    def __init__(self, refuse: int | None = None) -> None:
        self.refuse = refuse
        self.requests: list[tuple[str, str, bytes]] = []
        self.files: dict[str, bytes] = {}
        self.created: dict[str, Any] | None = None

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        self.requests.append((request.method, path, request.content))
        if request.headers.get("authorization") != "Bearer hf_fake_token":
            return httpx2.Response(401, json={"error": "Invalid credentials"})
        if path == "/api/repos/create":
            if self.refuse:
                return httpx2.Response(
                    self.refuse, json={"error": "You don't have the rights to create a dataset under this namespace"}
                )
            self.created = json.loads(request.content)
            return httpx2.Response(
                200,
                json={"url": f"https://huggingface.co/datasets/{self.created['organization']}/{self.created['name']}"},
            )
        if path == "/api/validate-yaml":
            return httpx2.Response(200, json={"errors": [], "warnings": []})
        if "/preupload/" in path:
            files = json.loads(request.content)["files"]
            return httpx2.Response(
                200,
                json={"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]},
            )
        if "/commit/" in path:
            for line in request.content.splitlines():
                item = json.loads(line)
                if item["key"] == "file":
                    self.files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            return httpx2.Response(
                200, json={"commitUrl": "https://huggingface.co/datasets/me/traces/commit/1", "commitOid": "1" * 40}
            )
        return httpx2.Response(404, json={"error": "Repository not found"}, headers={"x-error-code": "RepoNotFound"})

    def install(self) -> None:
        import huggingface_hub

        huggingface_hub.set_client_factory(lambda: httpx2.Client(transport=httpx2.MockTransport(self.handler)))

    def materialise(self, folder: Path) -> Path:
        """What landed on the 'Hub', as files, so a test can load it like a clone of the repo."""
        for name, data in self.files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        return folder
