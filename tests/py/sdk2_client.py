"""Drive mcpd with the MCP Python SDK 2.x `Client` against a bridged real server.

Usage: python sdk2_client.py MODE URL SERVER ERA
  MODE   'auto' (probe server/discover, fall back to initialize), 'legacy' (handshake only) or
         'sse' (the 2024-11-05 HTTP+SSE transport, `sse_client`; URL is the /sse URL)
  SERVER 'time' (PyPI mcp-server-time), 'everything' (npm @modelcontextprotocol/server-everything)
         or 'builtin' (mcpd's own server)
  ERA    the protocol revision the client must end up speaking
Exits 0 and prints "ALL OK" when every step matched; otherwise prints "FAIL: ..." and exits 1.
"""

import os
import sys

import anyio
import mcp_types as types
from mcp import Client
from mcp.client.sse import sse_client

failures = []


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        failures.append(what)


def texts(result):
    return [c.text for c in result.content if getattr(c, "type", None) == "text"]


async def time_steps(client):
    names = sorted(t.name for t in (await client.list_tools()).tools)
    check(names == ["convert_time", "get_current_time"], f"list_tools: exactly the two time tools (got {names})")
    result = await client.call_tool(
        "convert_time", {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}
    )
    check(not result.is_error, "convert_time: not an error")
    data = result.structured_content or {}
    target = data.get("target", {})
    check(target.get("timezone") == "Asia/Tokyo", f"convert_time: target timezone (got {target})")
    check(
        str(target.get("datetime", "")).endswith("T21:00:00+09:00"),
        f"convert_time: 12:00 UTC is 21:00 in Tokyo (got {target.get('datetime')!r})",
    )
    check(data.get("time_difference") == "+9.0h", f"convert_time: +9.0h (got {data.get('time_difference')!r})")
    now = await client.call_tool("get_current_time", {"timezone": "UTC"})
    tz = (now.structured_content or {}).get("timezone")
    check(tz == "UTC", f"get_current_time: timezone UTC (got {tz!r})")


async def everything_steps(client):
    names = [t.name for t in (await client.list_tools()).tools]
    check("echo" in names and "get-sum" in names, f"list_tools: echo and get-sum listed (got {names})")
    check(texts(await client.call_tool("echo", {"message": "through mcpd"})) == ["Echo: through mcpd"], "echo: exact text")
    got = texts(await client.call_tool("get-sum", {"a": 2, "b": 3}))
    check(got == ["The sum of 2 and 3 is 5."], f"get-sum 2 3: exact text (got {got})")
    prompts = [p.name for p in (await client.list_prompts()).prompts]
    check("simple-prompt" in prompts, f"list_prompts: simple-prompt listed (got {prompts})")
    resources = (await client.list_resources()).resources
    check(len(resources) > 0, f"list_resources: some listed (got {len(resources)})")
    doc = "demo://resource/static/document/architecture.md"
    read = (await client.read_resource(doc)).contents
    check(
        len(read) == 1 and str(read[0].uri) == doc and read[0].text.startswith("# Everything Server – Architecture"),
        f"read_resource {doc}: its markdown (got {str(read)[:200]})",
    )
    prompt = (await client.get_prompt("args-prompt", {"city": "Paris", "state": "TX"})).messages
    got = [m.content.text for m in prompt]
    check(got == ["What's weather in Paris, TX?"], f"get_prompt args-prompt: exact text (got {got})")

    # What the server asks of the client while serving a call: server-to-client requests in the
    # handshake era, input_required round trips in 2026-07-28 (mcpd translates for this server).
    got = texts(await client.call_tool("trigger-sampling-request", {"prompt": "hello", "maxTokens": 10}))
    check(len(got) == 1 and '"text": "sampled: Resource trigger-sampling-request context: hello"' in got[0],
          f"trigger-sampling-request: the client's sampled text comes back (got {got})")
    got = texts(await client.call_tool("get-roots-list", {}))
    check(len(got) == 1 and "URI: file:///tmp/mcpd-root" in got[0], f"get-roots-list: the client's root (got {got})")
    got = texts(await client.call_tool("trigger-elicitation-request", {}))
    check(any("Favorite Color: blue" in t for t in got), f"trigger-elicitation-request: the answer (got {got})")
    progress = []

    async def on_progress(value, total, message):
        progress.append(value)

    result = await client.call_tool(
        "trigger-long-running-operation", {"duration": 0.3, "steps": 3}, progress_callback=on_progress
    )
    check(not result.is_error, "trigger-long-running-operation: not an error")
    check(progress == [1, 2, 3], f"progress 1, 2, 3 (got {progress})")

    uri = str(resources[0].uri)
    if client.protocol_version < "2026-07-28":
        # Handshake era: resources/subscribe, then the update on the standalone stream; and
        # logging/setLevel, then log messages.
        await client.subscribe_resource(uri)
        await client.call_tool("toggle-subscriber-updates", {})
        with anyio.fail_after(15):
            await UPDATED.wait()
        check(True, f"subscribe: an update of {uri} arrived")
        await client.set_logging_level("debug")
        LOGS.clear()
        await client.call_tool("toggle-simulated-logging", {})
        with anyio.fail_after(25):
            while not LOGS:
                await anyio.sleep(0.1)
        check(bool(LOGS[0].level), f"logging: a log message arrived (got {LOGS[0]})")
    else:
        # subscriptions/listen: mcpd subscribes on the handshake-only child; updates arrive.
        async with client.listen(resource_subscriptions=[uri]) as sub:
            check(list(sub.honored.resource_subscriptions or []) == [uri], f"listen: {uri} honored")
            await client.call_tool("toggle-subscriber-updates", {})
            with anyio.fail_after(15):
                async for event in sub:
                    check(getattr(event, "uri", None) == uri, f"listen: an update of {uri} (got {event})")
                    break


UPDATED = None  # an anyio.Event, made inside the event loop
LOGS = []


async def on_message(message):
    root = getattr(message, "root", message)
    if type(root).__name__ == "ResourceUpdatedNotification" and UPDATED is not None:
        UPDATED.set()


async def on_log(params):
    LOGS.append(params)


async def sampling(ctx, params):
    text = params.messages[0].content.text
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text=f"sampled: {text}"), model="test-model"
    )


async def elicitation(ctx, params):
    return types.ElicitResult(action="accept", content={"color": "blue"})


async def roots(ctx):
    return types.ListRootsResult(roots=[types.Root(uri="file:///tmp/mcpd-root", name="root")])


async def git_steps(client):
    repo = os.environ["MCPD_TEST_DIR"]
    names = sorted(t.name for t in (await client.list_tools()).tools)
    check("git_status" in names and "git_log" in names, f"list_tools: git_status and git_log (got {names})")
    got = texts(await client.call_tool("git_status", {"repo_path": repo}))
    want = "Repository status:\nOn branch main\nnothing to commit, working tree clean"
    check(got == [want], f"git_status: clean main (got {got})")
    got = texts(await client.call_tool("git_log", {"repo_path": repo, "max_count": 1}))
    check(len(got) == 1 and "Message: first commit" in got[0], f"git_log: the one commit (got {got})")


async def filesystem_steps(client):
    root = os.environ["MCPD_TEST_DIR"]
    got = texts(await client.call_tool("list_directory", {"path": root}))
    check(got == ["[FILE] note.txt"], f"list_directory: exactly note.txt (got {got})")
    got = texts(await client.call_tool("read_text_file", {"path": os.path.join(root, "note.txt")}))
    check(got == ["hi there\n"], f"read_text_file: exact content (got {got})")


async def builtin_steps(client):
    names = [t.name for t in (await client.list_tools()).tools]
    check("echo" in names, f"list_tools: echo listed (got {names})")
    got = texts(await client.call_tool("echo", {"message": "built in"}))
    check(got == ["built in"], f"echo: exact text (got {got})")


async def run(url, mode, server, era):
    global UPDATED
    UPDATED = anyio.Event()
    # Only server-everything is asked to use them: server-filesystem would take the client's
    # roots as its allowed directories.
    callbacks = (
        dict(
            sampling_callback=sampling,
            elicitation_callback=elicitation,
            list_roots_callback=roots,
            message_handler=on_message,
            logging_callback=on_log,
        )
        if server == "everything"
        else {}
    )
    server_arg = sse_client(url) if mode == "sse" else url
    mode = "legacy" if mode == "sse" else mode
    async with Client(server_arg, mode=mode, **callbacks) as client:
        check(client.protocol_version == era, f"negotiated {era} (got {client.protocol_version})")
        steps = {
            "time": time_steps,
            "everything": everything_steps,
            "builtin": builtin_steps,
            "git": git_steps,
            "filesystem": filesystem_steps,
        }
        await steps[server](client)


def main():
    mode, url, server, era = sys.argv[1:5]
    try:
        anyio.run(_bounded, url, mode, server, era)
    except BaseException as e:  # noqa: BLE001 - report anything as a failure line
        check(False, f"client raised {type(e).__name__}: {e}")
    if failures:
        sys.exit(1)
    print("ALL OK", flush=True)


async def _bounded(url, mode, server, era):
    with anyio.fail_after(45):
        await run(url, mode, server, era)


if __name__ == "__main__":
    main()
