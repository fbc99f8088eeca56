// Drive mcpd with a real MCP TypeScript SDK client (tests/ts_sdk.rs runs this).
//
// Usage: node client.mjs SDK TRANSPORT URL SERVER ERA
//   SDK        '1' (@modelcontextprotocol/sdk 1.x, handshake only) or
//              '2' (@modelcontextprotocol/client 2.x, versionNegotiation mode 'auto')
//   TRANSPORT  'http' (Streamable HTTP) or 'sse' (2024-11-05 HTTP+SSE; URL is the /sse URL)
//   SERVER     'builtin' (mcpd's own server), 'everything' (npm server-everything behind the
//              bridge), 'time' (PyPI mcp-server-time behind the bridge) or 'ask'
//              (tests/ts/ask_while_working.py behind the bridge)
//   ERA        the protocol revision the client must end up speaking
// TS_MODULES names the node_modules directory holding the SDK (installed under target/ by the
// test); its modules are imported by path. With SERVER 'everything', EVERYTHING_DOCS names server-everything's docs directory
// (its static resources are those files). Prints "ok: ..." / "FAIL: ..." per step, then
// "NEGOTIATED <version> <era>" and "ALL OK"; exits 1 on any failure. Gives up after 45 s.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [sdk, transportKind, url, server, era] = process.argv.slice(2);
const failures = [];
/** A module of the installed SDK, by its path under TS_MODULES. */
const load = (spec) => import(pathToFileURL(join(process.env.TS_MODULES, spec)).href);
/** Progress notifications the 1.x SDK saw only after their call had finished. */
const lateProgress = [];

function check(ok, what) {
  console.log((ok ? "ok: " : "FAIL: ") + what);
  if (!ok) failures.push(what);
}

const texts = (result) =>
  (result.content || []).filter((c) => c.type === "text").map((c) => c.text);
const show = (value) => JSON.stringify(value);

// What the client answers when the server asks (sampling, elicitation, roots).
// "slow question" (tests/ts/ask_while_working.py) is a slow LLM: one second.
const sampled = async (request) => {
  const text = request.params.messages[0].content.text;
  if (text === "slow question") await new Promise((resolve) => setTimeout(resolve, 1000));
  return { role: "assistant", model: "test-model", content: { type: "text", text: `sampled: ${text}` } };
};
const elicited = () => ({ action: "accept", content: { color: "blue" } });
const roots = () => ({ roots: [{ uri: "file:///tmp/mcpd-root", name: "root" }] });
const capabilities = { sampling: {}, elicitation: {}, roots: {} };
const info = { name: `mcpd-ts-sdk${sdk}`, version: "1.0.0" };

/** The SDK's client and transport behind one small interface. */
async function connect() {
  let negotiated;
  const remember = (transport) => {
    const set = transport.setProtocolVersion?.bind(transport);
    transport.setProtocolVersion = (version) => {
      negotiated = version;
      set?.(version);
    };
    return transport;
  };
  if (sdk === "1") {
    const { Client } = await load("@modelcontextprotocol/sdk/dist/esm/client/index.js");
    const { StreamableHTTPClientTransport } = await load(
      "@modelcontextprotocol/sdk/dist/esm/client/streamableHttp.js",
    );
    const { SSEClientTransport } = await load("@modelcontextprotocol/sdk/dist/esm/client/sse.js");
    const types = await load("@modelcontextprotocol/sdk/dist/esm/types.js");
    const client = new Client(info, { capabilities });
    // A progress notification sharing a network read with its call's result reaches this
    // SDK after the result (protocol.js runs notification handlers a microtask late, but
    // drops the call's progress handler at once): it comes out here instead. Count it.
    client.onerror = (e) => {
      const late = /progress notification for an unknown token: (\{.*\})$/.exec(e?.message);
      if (late) {
        lateProgress.push(JSON.parse(late[1]).params);
        console.log(`note: the SDK reported a late progress notification: ${late[1]}`);
      } else {
        console.log(`note: client error: ${e?.message}`);
      }
    };
    client.setRequestHandler(types.CreateMessageRequestSchema, sampled);
    client.setRequestHandler(types.ElicitRequestSchema, elicited);
    client.setRequestHandler(types.ListRootsRequestSchema, roots);
    const Transport = transportKind === "sse" ? SSEClientTransport : StreamableHTTPClientTransport;
    await client.connect(remember(new Transport(new URL(url))));
    return {
      client,
      version: () => negotiated,
      era: () => "legacy",
      rounds: () => 0,
      call: async (name, args, onprogress) => {
        lateProgress.length = 0;
        const result = await client.callTool({ name, arguments: args }, types.CallToolResultSchema, {
          onprogress,
          timeout: 20000,
        });
        // The late ones are dispatched a microtask after the result: let them arrive.
        await new Promise((resolve) => setImmediate(resolve));
        for (const p of lateProgress) onprogress?.(p);
        return result;
      },
    };
  }
  const { Client, StreamableHTTPClientTransport } = await load(
    "@modelcontextprotocol/client/dist/index.mjs",
  );
  const client = new Client(info, { capabilities, versionNegotiation: { mode: "auto" } });
  client.setRequestHandler("sampling/createMessage", sampled);
  client.setRequestHandler("elicitation/create", elicited);
  client.setRequestHandler("roots/list", roots);
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  // While it fulfils an input_required result, this SDK reports a progress of its own to the
  // call's onprogress (`runInputRequiredDriver`: {progress: round, message: "Fulfilling input
  // required by ..."}): keep those apart from the server's.
  const ours = (p) => typeof p.message === "string" && p.message.startsWith("Fulfilling input required");
  let rounds = 0;
  return {
    client,
    version: () => client.getNegotiatedProtocolVersion(),
    era: () => client.getProtocolEra(),
    /** input_required rounds the last call went through. */
    rounds: () => rounds,
    call: (name, args, onprogress) => {
      rounds = 0;
      return client.callTool(
        { name, arguments: args },
        {
          timeout: 20000,
          onprogress: (p) => {
            if (ours(p)) {
              rounds += 1;
              console.log(`note: ${name}: the SDK fulfilled an input_required round: ${show(p)}`);
            } else {
              onprogress?.(p);
            }
          },
        },
      );
    },
  };
}

/** The server's question reached the client by an input_required round iff it speaks 2026. */
function checkRounds(c, name, asked) {
  const expected = asked && c.era() === "modern" ? 1 : 0;
  check(c.rounds() === expected, `${name}: ${expected} input_required round(s) (got ${c.rounds()})`);
}

async function builtinSteps(c) {
  const names = (await c.client.listTools()).tools.map((t) => t.name);
  for (const tool of ["echo", "test_simple_text", "test_tool_with_progress", "test_sampling"]) {
    check(names.includes(tool), `list tools: ${tool} listed (got ${show(names)})`);
  }
  let got = texts(await c.call("echo", { message: "hi" }));
  check(show(got) === show(["hi"]), `echo hi: exact text (got ${show(got)})`);

  const uris = (await c.client.listResources()).resources.map((r) => r.uri);
  check(uris.includes("test://static-text"), `list resources: test://static-text (got ${show(uris)})`);
  const read = await c.client.readResource({ uri: "test://static-text" });
  got = read.contents.map((x) => x.text);
  check(
    show(got) === show(["This is the content of the static text resource."]),
    `read test://static-text: exact text (got ${show(got)})`,
  );

  const prompts = (await c.client.listPrompts()).prompts.map((p) => p.name);
  check(
    prompts.includes("test_simple_prompt") && prompts.includes("test_prompt_with_arguments"),
    `list prompts: test_simple_prompt, test_prompt_with_arguments (got ${show(prompts)})`,
  );
  const prompt = await c.client.getPrompt({
    name: "test_prompt_with_arguments",
    arguments: { arg1: "a", arg2: "b" },
  });
  got = prompt.messages.map((m) => m.content.text);
  check(
    show(got) === show(["Prompt with arguments: arg1='a', arg2='b'"]),
    `get test_prompt_with_arguments: exact text (got ${show(got)})`,
  );

  const progress = [];
  got = texts(await c.call("test_tool_with_progress", {}, (p) => progress.push(p.progress)));
  check(show(got) === show(["Progress test completed"]), `progress tool: result (got ${show(got)})`);
  check(show(progress) === show([0, 50, 100]), `progress 0, 50, 100 (got ${show(progress)})`);
  checkRounds(c, "test_tool_with_progress", false);

  got = texts(await c.call("test_sampling", { prompt: "hi" }));
  check(
    show(got) === show(["LLM response: sampled: hi"]),
    `test_sampling: the client's sampled text comes back (got ${show(got)})`,
  );
  checkRounds(c, "test_sampling", true);
}

async function everythingSteps(c) {
  const names = (await c.client.listTools()).tools.map((t) => t.name);
  for (const tool of ["echo", "get-sum", "trigger-long-running-operation", "trigger-sampling-request"]) {
    check(names.includes(tool), `list tools: ${tool} listed (got ${show(names)})`);
  }
  let got = texts(await c.call("echo", { message: "hi" }));
  check(show(got) === show(["Echo: hi"]), `echo hi: exact text (got ${show(got)})`);
  got = texts(await c.call("get-sum", { a: 2, b: 3 }));
  check(show(got) === show(["The sum of 2 and 3 is 5."]), `get-sum 2 3: exact text (got ${show(got)})`);

  const uri = "demo://resource/static/document/features.md";
  const uris = (await c.client.listResources()).resources.map((r) => r.uri);
  check(uris.includes(uri), `list resources: ${uri} listed (got ${uris.length})`);
  const read = await c.client.readResource({ uri });
  const expected = readFileSync(join(process.env.EVERYTHING_DOCS, "features.md"), "utf-8");
  got = read.contents.map((x) => x.text);
  check(got.length === 1 && got[0] === expected, `read ${uri}: the file's exact text`);

  const prompts = (await c.client.listPrompts()).prompts.map((p) => p.name);
  check(
    prompts.includes("simple-prompt") && prompts.includes("args-prompt"),
    `list prompts: simple-prompt, args-prompt (got ${show(prompts)})`,
  );
  const prompt = await c.client.getPrompt({ name: "args-prompt", arguments: { city: "Paris" } });
  got = prompt.messages.map((m) => m.content.text);
  check(show(got) === show(["What's weather in Paris?"]), `get args-prompt: exact text (got ${show(got)})`);

  const progress = [];
  got = texts(
    await c.call("trigger-long-running-operation", { duration: 0.3, steps: 3 }, (p) =>
      progress.push([p.progress, p.total]),
    ),
  );
  check(
    show(got) === show(["Long running operation completed. Duration: 0.3 seconds, Steps: 3."]),
    `long-running operation: result (got ${show(got)})`,
  );
  check(show(progress) === show([[1, 3], [2, 3], [3, 3]]), `progress 1/3, 2/3, 3/3 (got ${show(progress)})`);
  checkRounds(c, "trigger-long-running-operation", false);

  // A server-to-client request in the handshake era, an input_required round trip in
  // 2026-07-28 (mcpd translates for this handshake-only server).
  got = texts(await c.call("trigger-sampling-request", { prompt: "hi", maxTokens: 10 }));
  check(
    got.length === 1 &&
      got[0].includes('"text": "sampled: Resource trigger-sampling-request context: hi"'),
    `trigger-sampling-request: the client's sampled text comes back (got ${show(got)})`,
  );
  checkRounds(c, "trigger-sampling-request", true);
  got = texts(await c.call("trigger-elicitation-request", {}));
  check(
    got.some((t) => t.includes("Favorite Color: blue")),
    `trigger-elicitation-request: the client's answer comes back (got ${show(got)})`,
  );
  checkRounds(c, "trigger-elicitation-request", true);
  got = texts(await c.call("get-roots-list", {}));
  check(
    got.length === 1 && got[0].includes("URI: file:///tmp/mcpd-root"),
    `get-roots-list: the client's root (got ${show(got)})`,
  );
  checkRounds(c, "get-roots-list", true);
}

async function timeSteps(c) {
  const names = (await c.client.listTools()).tools.map((t) => t.name).sort();
  check(
    show(names) === show(["convert_time", "get_current_time"]),
    `list tools: exactly the two time tools (got ${show(names)})`,
  );
  const now = await c.call("get_current_time", { timezone: "UTC" });
  check(!now.isError, "get_current_time: not an error");
  const [text] = texts(now);
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  check(parsed?.timezone === "UTC", `get_current_time UTC: JSON text with timezone UTC (got ${text})`);
  check(
    now.structuredContent?.timezone === "UTC",
    `get_current_time UTC: structuredContent.timezone (got ${show(now.structuredContent)})`,
  );
  const converted = await c.call("convert_time", {
    source_timezone: "UTC",
    time: "12:00",
    target_timezone: "Asia/Tokyo",
  });
  const data = converted.structuredContent || {};
  check(data.target?.timezone === "Asia/Tokyo", `convert_time: target timezone (got ${show(data.target)})`);
  check(
    String(data.target?.datetime).endsWith("T21:00:00+09:00"),
    `convert_time: 12:00 UTC is 21:00 in Tokyo (got ${data.target?.datetime})`,
  );
  check(data.time_difference === "+9.0h", `convert_time: +9.0h (got ${data.time_difference})`);
  // It has neither resources nor prompts (its SDK still declares both capabilities).
  const resources = (await c.client.listResources()).resources;
  check(show(resources) === "[]", `list resources: none (got ${show(resources)})`);
  const prompts = (await c.client.listPrompts()).prompts;
  check(show(prompts) === "[]", `list prompts: none (got ${show(prompts)})`);
}

/** tests/ts/ask_while_working.py: progress sent while the client is answering still arrives. */
async function askSteps(c) {
  const progress = [];
  const got = texts(
    await c.call("ask_while_working", {}, (p) => progress.push([p.progress, p.total])),
  );
  check(
    show(got) === show(["answered: sampled: slow question"]),
    `ask_while_working: the sampled text (got ${show(got)})`,
  );
  check(
    show(progress) === show([[1, 3], [2, 3], [3, 3]]),
    `progress 1/3, 2/3 (sent while the client answered), 3/3 (got ${show(progress)})`,
  );
  checkRounds(c, "ask_while_working", true);
}

async function main() {
  const c = await connect();
  const version = c.version();
  console.log(`NEGOTIATED ${version} ${c.era()}`);
  check(version === era, `negotiated ${era} (got ${version}, era ${c.era()})`);
  const steps = { builtin: builtinSteps, everything: everythingSteps, time: timeSteps, ask: askSteps }[
    server
  ];
  await steps(c);
  await c.client.close();
}

const deadline = setTimeout(() => {
  check(false, "did not finish within 45 s");
  process.exit(1);
}, 45000);
try {
  await main();
} catch (e) {
  check(false, `client raised ${e?.name}: ${e?.message} ${e?.code !== undefined ? `(code ${e.code})` : ""}`);
}
clearTimeout(deadline);
if (failures.length > 0) process.exit(1);
console.log("ALL OK");
process.exit(0);
