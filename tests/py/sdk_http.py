"""Drive mcpd over Streamable HTTP with the official MCP Python SDK (1.x client API).

Usage: python sdk_http.py URL
Exits 0 and prints "ALL OK" when every step matched; otherwise prints "FAIL: ..." and exits 1.
"""

import sys
import traceback

import anyio
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.version import SUPPORTED_PROTOCOL_VERSIONS
from pydantic import AnyUrl

OVERALL_TIMEOUT_S = 45

SAMPLING_REPLY = "sampled by the python harness"
SAMPLING_PROMPT = "What is the harness prompt?"
ELICIT_MESSAGE = "Who runs this harness?"
ELICIT_CONTENT = {"username": "harness-user", "email": "harness@example.test"}


class Mismatch(Exception):
    pass


def check(ok, what):
    if not ok:
        raise Mismatch(what)
    print(f"ok: {what.split(' (')[0]}", flush=True)


def texts(result):
    return [c.text for c in result.content if isinstance(c, types.TextContent)]


def only_text(result, what):
    check(not result.isError, f"{what}: isError is not set (content={result.content!r})")
    got = texts(result)
    check(
        len(result.content) == 1 and len(got) == 1,
        f"{what}: exactly one text content item (content={result.content!r})",
    )
    return got[0]


async def run(url):
    seen = {"sampling": [], "elicitation": [], "progress": []}

    async def sampling_callback(context, params: types.CreateMessageRequestParams):
        seen["sampling"].append(params)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=SAMPLING_REPLY),
            model="harness-model",
            stopReason="endTurn",
        )

    async def elicitation_callback(context, params: types.ElicitRequestParams):
        seen["elicitation"].append(params)
        return types.ElicitResult(action="accept", content=dict(ELICIT_CONTENT))

    async def progress_callback(progress, total, message):
        seen["progress"].append((progress, total, message))

    async with streamable_http_client(url) as (read, write, get_session_id):
        async with ClientSession(
            read,
            write,
            sampling_callback=sampling_callback,
            elicitation_callback=elicitation_callback,
        ) as session:
            init = await session.initialize()
            check(
                init.protocolVersion in SUPPORTED_PROTOCOL_VERSIONS,
                f"initialize: protocolVersion {init.protocolVersion!r} is one the SDK supports",
            )
            check(bool(init.serverInfo.name), f"initialize: serverInfo.name {init.serverInfo.name!r}")
            check(init.capabilities.tools is not None, "initialize: capabilities.tools present")
            sid = get_session_id()
            check(bool(sid), f"initialize: Mcp-Session-Id issued ({sid!r})")

            await session.send_ping()
            check(True, "ping: answered")

            tools = (await session.list_tools()).tools
            names = [t.name for t in tools]
            check("echo" in names, f"list_tools: 'echo' listed (got {names})")
            for name in ["test_simple_text", "test_tool_with_progress", "test_sampling", "test_elicitation"]:
                check(name in names, f"list_tools: {name!r} listed (got {names})")
            undescribed = [t.name for t in tools if not t.description]
            check(not undescribed, f"list_tools: every tool has a description (missing: {undescribed})")

            text = only_text(await session.call_tool("echo", {"message": "hi"}), "call_tool echo")
            check(text == "hi", f"call_tool echo: text is exactly 'hi' (got {text!r})")

            text = only_text(await session.call_tool("test_simple_text"), "call_tool test_simple_text")
            want = "This is a simple text response for testing."
            check(text == want, f"call_tool test_simple_text: exact text (got {text!r})")

            res = await session.read_resource(AnyUrl("test://static-text"))
            check(len(res.contents) == 1, f"read_resource: one content item (got {res.contents!r})")
            item = res.contents[0]
            check(isinstance(item, types.TextResourceContents), f"read_resource: text contents ({item!r})")
            check(str(item.uri) == "test://static-text", f"read_resource: uri echoed (got {item.uri!r})")
            check(item.mimeType == "text/plain", f"read_resource: mimeType text/plain (got {item.mimeType!r})")
            want = "This is the content of the static text resource."
            check(item.text == want, f"read_resource: exact text (got {item.text!r})")

            prompts = (await session.list_prompts()).prompts
            pnames = [p.name for p in prompts]
            check(
                "test_prompt_with_arguments" in pnames,
                f"list_prompts: 'test_prompt_with_arguments' listed (got {pnames})",
            )
            undescribed = [p.name for p in prompts if not p.description]
            check(not undescribed, f"list_prompts: every prompt has a description (missing: {undescribed})")

            prompt = await session.get_prompt("test_prompt_with_arguments", {"arg1": "a", "arg2": "b"})
            check(len(prompt.messages) == 1, f"get_prompt: one message (got {prompt.messages!r})")
            msg = prompt.messages[0]
            check(msg.role == "user", f"get_prompt: role user (got {msg.role!r})")
            check(isinstance(msg.content, types.TextContent), f"get_prompt: text content ({msg.content!r})")
            want = "Prompt with arguments: arg1='a', arg2='b'"
            check(msg.content.text == want, f"get_prompt: exact text (got {msg.content.text!r})")

            result = await session.call_tool("test_tool_with_progress", {}, progress_callback=progress_callback)
            check(not result.isError, f"call_tool test_tool_with_progress: not an error ({result.content!r})")
            values = [p for (p, _, _) in seen["progress"]]
            check(
                values == [0, 50, 100],
                f"call_tool test_tool_with_progress: 3 progress callbacks 0, 50, 100 (got {seen['progress']})",
            )
            totals = [t for (_, t, _) in seen["progress"]]
            check(totals == [100, 100, 100], f"progress: total 100 each time (got {totals})")

            text = only_text(
                await session.call_tool("test_sampling", {"prompt": SAMPLING_PROMPT}),
                "call_tool test_sampling",
            )
            check(len(seen["sampling"]) == 1, f"test_sampling: one sampling request (got {len(seen['sampling'])})")
            sent = seen["sampling"][0].messages
            check(
                len(sent) == 1 and getattr(sent[0].content, "text", None) == SAMPLING_PROMPT,
                f"test_sampling: the prompt was passed to the client (got {sent!r})",
            )
            want = f"LLM response: {SAMPLING_REPLY}"
            check(text == want, f"test_sampling: result text is {want!r} (got {text!r})")

            text = only_text(
                await session.call_tool("test_elicitation", {"message": ELICIT_MESSAGE}),
                "call_tool test_elicitation",
            )
            check(
                len(seen["elicitation"]) == 1,
                f"test_elicitation: one elicitation request (got {len(seen['elicitation'])})",
            )
            asked = seen["elicitation"][0]
            check(
                asked.message == ELICIT_MESSAGE,
                f"test_elicitation: the message was passed to the client (got {asked.message!r})",
            )
            missing = [v for v in ["accept", *ELICIT_CONTENT.values()] if v not in text]
            check(
                not missing,
                f"test_elicitation: result contains 'accept' and the accepted content (missing {missing}, got {text!r})",
            )


def find(exc, kind):
    """The first `kind` exception in `exc` or, through exception groups, inside it."""
    if isinstance(exc, kind):
        return exc
    for sub in getattr(exc, "exceptions", []):
        found = find(sub, kind)
        if found is not None:
            return found
    return None


async def report(run, *args):
    """Runs `run(*args)` under the overall timeout; prints ALL OK, or FAIL and the reason, and
    exits 1 on failure."""
    try:
        with anyio.fail_after(OVERALL_TIMEOUT_S):
            await run(*args)
    except BaseException as e:  # noqa: BLE001 - report anything, including exception groups
        mismatch = find(e, Mismatch)
        if mismatch is not None:
            print(f"FAIL: {mismatch}", flush=True)
            sys.exit(1)
        if isinstance(e, TimeoutError):
            print(f"FAIL: timed out after {OVERALL_TIMEOUT_S} s", flush=True)
        else:
            print(f"FAIL: exception {type(e).__name__}: {e}", flush=True)
        traceback.print_exc()
        sys.exit(1)
    print("ALL OK", flush=True)


if __name__ == "__main__":
    anyio.run(report, run, sys.argv[1])
