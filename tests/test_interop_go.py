"""The plugin under HashiCorp go-plugin's real client, the Go library the Mattermost server uses.

``tests/interop/gohost`` is a small Go program built here against Debian's go-plugin, hclog and
grpc-go (GOPATH mode, nothing downloaded). It starts the plugin the way Mattermost does, pings it,
calls hooks with protobuf bytes that this test encodes, kills it, and reports JSON lines; go-plugin's
own log comes back as hclog JSON on its stderr. The Go packages are installed with apt-get when
missing (root only); without them the tests skip, or fail when ``CI=true``.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mmplugin.manifest import load_manifest
from mmplugin.proto import pb
from mmplugin.wire.codec import decode, encode
from mmplugin.wire.logline import parse_line

# The first run installs packages and builds grpc-go; pyproject's 300 s default is too tight for that.
pytestmark = pytest.mark.timeout(900)

INTEROP = Path(__file__).parent / "interop"
ROOT = Path(__file__).resolve().parent.parent
GOHOST_SOURCE = INTEROP / "gohost"
SYSTEM_GOPATH = Path("/usr/share/gocode")
GO_PACKAGES = (
    "golang-go",
    "golang-github-hashicorp-go-plugin-dev",
    "golang-github-hashicorp-go-hclog-dev",
    "golang-google-grpc-dev",
    "golang-google-protobuf-dev",
)
GO_SOURCES = (
    "github.com/hashicorp/go-plugin",
    "github.com/hashicorp/go-hclog",
    "google.golang.org/grpc",
    "google.golang.org/protobuf",
)
HOOKS = "/mattermost.pluginapi.v1.PluginHooks/"
UNGRACEFUL = "plugin failed to exit gracefully"
BODY = random.Random(9).randbytes(1 << 20)
CHUNK = 64 * 1024


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Serialise pytest-xdist workers (and concurrent sessions) around one installation or build."""
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _go_missing() -> str | None:
    if shutil.which("go") is None:
        return "the `go` command is not installed"
    for source in GO_SOURCES:
        if not (SYSTEM_GOPATH / "src" / source).is_dir():
            return f"the Go source {source} is not installed under {SYSTEM_GOPATH}"
    return None


def _install_go() -> str | None:
    """apt-get the Debian Go packages; None when they are there afterwards, else why not."""
    if os.geteuid() != 0:
        return "not root, so apt-get cannot install " + " ".join(GO_PACKAGES)
    if shutil.which("apt-get") is None:
        return "no apt-get to install " + " ".join(GO_PACKAGES)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *GO_PACKAGES],
    ):
        try:
            done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=600, check=False)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(argv)}` did not finish within 600 s"
        if done.returncode != 0:
            return f"`{' '.join(argv)}` failed with exit {done.returncode}: {done.stderr.strip()[-2000:]}"
    return _go_missing()


@pytest.fixture(scope="session")
def go_command() -> str:
    """The ``go`` command, with go-plugin and grpc-go under the system GOPATH (installed if need be)."""
    with _exclusive(Path(tempfile.gettempdir()) / "mmplugin-go-packages.lock"):
        reason = _go_missing() and _install_go()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Go interop test cannot run: {reason}", pytrace=False)
        pytest.skip(f"Go interop test cannot run: {reason}")
    go = shutil.which("go")
    assert go is not None
    return go


@pytest.fixture(scope="session")
def gohost(go_command: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Go host binary, built once per test session (shared by xdist workers)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    binary = root / "gohost" / "gohost"
    with _exclusive(root / "gohost.lock"):
        if not binary.exists():
            env = {**os.environ, "GO111MODULE": "off", "GOPATH": str(SYSTEM_GOPATH), "GOPROXY": "off",
                   "GOFLAGS": ""}
            done = subprocess.run([go_command, "build", "-o", str(binary), "."], cwd=GOHOST_SOURCE, env=env,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600,
                                  check=False)
            if done.returncode != 0:
                pytest.fail(f"building {GOHOST_SOURCE} failed:\n{done.stderr}", pytrace=False)
    return binary


@dataclass(frozen=True)
class PluginUnderTest:
    """The plugin the Go host starts: its directory, command line, id and the hooks it implements."""

    directory: Path
    command: tuple[str, ...]
    plugin_id: str
    hooks: frozenset[str]
    is_standin: bool


@pytest.fixture(scope="session")
def plugin() -> PluginUnderTest:
    """examples/hello on the real mmplugin runtime."""
    directory = ROOT / "examples" / "hello"
    manifest = load_manifest(directory)
    hooks = {"OnActivate", "MessageWillBePosted", "UserHasLoggedIn", "ExecuteCommand", "ServeHTTP"}
    return PluginUnderTest(directory, (sys.executable, manifest.executable), manifest.id,
                           frozenset(hooks), is_standin=False)


@dataclass
class GoHostRun:
    """What the Go host reported: its start record, one record per step, and go-plugin's log."""

    start: dict[str, Any]
    steps: list[dict[str, Any]]
    log: list[dict[str, Any]]

    def messages(self) -> list[str]:
        return [str(record.get("@message")) for record in self.log]

    def plugin_lines(self) -> list[dict[str, Any]]:
        """Log records made from the plugin's stderr (go-plugin names them after the command)."""
        return [record for record in self.log if str(record.get("@module", "")).startswith("plugin.")]


def _b64(message: Any) -> str:
    return base64.b64encode(encode(message)).decode()


def _unary(hook: str, message: Any) -> dict[str, Any]:
    return {"op": "unary", "method": HOOKS + hook, "request": _b64(message)}


def _unb64(data: str) -> bytes:
    return base64.b64decode(data)


def _run_gohost(gohost: Path, plugin: PluginUnderTest, steps: list[dict[str, Any]], workdir: Path,
                env: dict[str, str] | None = None) -> GoHostRun:
    script = workdir / "script.json"
    command = {"command": list(plugin.command), "dir": str(plugin.directory), "steps": steps}
    script.write_text(json.dumps(command))
    done = subprocess.run([str(gohost), str(script)], env={**os.environ, **(env or {})},
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False)
    log = []
    for line in done.stderr.splitlines():
        try:
            log.append(json.loads(line))
        except ValueError:
            log.append({"@level": "raw", "@message": line})
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0, f"gohost exited {done.returncode}: {records}\n{done.stderr}"
    assert len(records) == len(steps) + 1, records
    return GoHostRun(records[0], records[1:], log)


def _serve_http_requests(plugin_id: str) -> list[pb.ServeHttpRequest]:
    """A 1 MiB POST the way the Go host sends it: init with the first 64 KiB chunk, then chunks."""
    init = pb.ServeHttpRequestInit(
        method="POST", url="/echo", proto="HTTP/1.1", proto_major=1, proto_minor=1,
        headers=[pb.HttpHeader(key="Content-Type", values=["application/octet-stream"])],
        host="localhost:8065", remote_addr="127.0.0.1:40000", request_uri=f"/plugins/{plugin_id}/echo",
        content_length=len(BODY))
    chunks = [BODY[i:i + CHUNK] for i in range(0, len(BODY), CHUNK)]
    return [
        pb.ServeHttpRequest(init=init, body_chunk=chunks[0]),
        *(pb.ServeHttpRequest(body_chunk=chunk) for chunk in chunks[1:]),
        pb.ServeHttpRequest(body_complete=True),
    ]


def _post_request(message: str) -> pb.MessageWillBePostedRequest:
    return pb.MessageWillBePostedRequest(
        plugin_context=pb.PluginContext(request_id="req-1"),
        post=pb.Post(id="post-1", channel_id="channel-1", user_id="user-1", message=message))


@pytest.fixture(scope="module")
def lifetime(gohost: Path, plugin: PluginUnderTest, tmp_path_factory: pytest.TempPathFactory) -> GoHostRun:
    """One plugin lifetime under the Go host: start, health, hooks, a 1 MiB ServeHTTP, Kill."""
    steps: list[dict[str, Any]] = [
        {"op": "ping"},
        _unary("Implemented", pb.ImplementedRequest()),
        _unary("MessageWillBePosted", _post_request("shout: hello from go")),
        _unary("MessageWillBePosted", _post_request("buy spam now")),
        _unary("NoSuchHook", pb.ImplementedRequest()),
        {"op": "stream", "method": HOOKS + "ServeHTTP",
         "requests": [_b64(m) for m in _serve_http_requests(plugin.plugin_id)]},
        _unary("UserHasLoggedIn", pb.UserHasLoggedInRequest(user=pb.User(id="user-1", username="ann"))),
        {"op": "kill"},
    ]
    return _run_gohost(gohost, plugin, steps, tmp_path_factory.mktemp("gohost-session"))


def test_handshake_negotiates_grpc_and_health_passes(lifetime: GoHostRun) -> None:
    assert lifetime.start["protocol"] == "grpc"
    assert lifetime.start["version"] == 1
    assert lifetime.steps[0] == {"op": "ping", "ok": True}


def test_implemented_lists_the_plugin_hooks(lifetime: GoHostRun, plugin: PluginUnderTest) -> None:
    record = lifetime.steps[1]
    assert record["code_name"] == "OK", record
    response = decode(pb.ImplementedResponse, _unb64(record["response"]))
    assert response.error is None
    assert set(response.hooks) == plugin.hooks


def test_message_will_be_posted_answers_decode(lifetime: GoHostRun, plugin: PluginUnderTest) -> None:
    allowed, rejected = lifetime.steps[2], lifetime.steps[3]
    assert allowed["code_name"] == rejected["code_name"] == "OK", (allowed, rejected)

    modified = decode(pb.MessageWillBePostedResponse, _unb64(allowed["response"]))
    assert modified.rejection_reason == ""
    assert modified.modified_post is not None
    assert modified.modified_post.id == "post-1"
    assert modified.modified_post.message == "HELLO FROM GO"

    rejection = decode(pb.MessageWillBePostedResponse, _unb64(rejected["response"]))
    assert rejection.modified_post is None
    assert rejection.rejection_reason == "Hello plugin: that word is not allowed here."


def test_unknown_method_is_unimplemented(lifetime: GoHostRun, plugin: PluginUnderTest,
                                         request: pytest.FixtureRequest) -> None:
    if plugin.is_standin:
        request.applymarker(pytest.mark.xfail(strict=True, reason=(
            "plain grpclib answers an unknown path without content-type; grpc-go reads Unknown")))
    record = lifetime.steps[4]
    assert record["code_name"] == "Unimplemented", record


def test_serve_http_echoes_one_mib_byte_exact(lifetime: GoHostRun) -> None:
    record = lifetime.steps[5]
    assert record["code_name"] == "OK", record
    assert "send_error" not in record, record
    responses = [decode(pb.ServeHttpResponse, _unb64(data)) for data in record["responses"]]
    first = responses[0]
    assert first.init is not None
    assert first.init.status_code == 200
    headers = {h.key.lower(): h.values for h in first.init.headers}
    assert headers["content-type"] == ["application/octet-stream"]
    assert all(r.init is None for r in responses[1:])
    assert b"".join(r.body_chunk for r in responses) == BODY
    assert responses[-1].body_complete


def test_kill_is_graceful_and_the_process_is_gone(lifetime: GoHostRun) -> None:
    assert lifetime.steps[6]["code_name"] == "OK", lifetime.steps[6]
    assert lifetime.steps[7]["exited"] is True
    messages = lifetime.messages()
    assert UNGRACEFUL not in messages
    assert "plugin exited" in messages
    exit_record = next(r for r in lifetime.log if r.get("@message") == "plugin process exited")
    assert exit_record["pid"] == lifetime.start["pid"]
    assert "error" not in exit_record, exit_record
    with pytest.raises(ProcessLookupError):
        os.kill(lifetime.start["pid"], 0)


def test_plugin_log_lines_keep_their_level(lifetime: GoHostRun) -> None:
    lines = lifetime.plugin_lines()
    demoted = [r for r in lines if r["@level"] == "debug" and parse_line(r["@message"]).level != "debug"]
    assert not demoted, "go-plugin filed these leveled plugin lines at debug"
    structured = [r for r in lines if r["@level"] != "debug"
                  and set(r) - {"@level", "@message", "@module", "@timestamp", "timestamp"}]
    assert structured, "no hclog JSON line with fields reached go-plugin at its own level"


def test_standin_without_controller_is_killed_ungracefully(
        gohost: Path, tmp_path: Path) -> None:
    """The graceful-exit check above can fail: without Shutdown, go-plugin SIGKILLs after its grace period."""
    standin = INTEROP / "standin"
    target = PluginUnderTest(standin, (sys.executable, "plugin.py"), "", frozenset(), is_standin=True)
    steps = [{"op": "ping"}, {"op": "kill"}]
    run = _run_gohost(gohost, target, steps, tmp_path, {"STANDIN_NO_CONTROLLER": "1"})
    assert UNGRACEFUL in run.messages()
    exit_record = next(r for r in run.log if r.get("@message") == "plugin process exited")
    assert exit_record["error"] == "signal: killed"
