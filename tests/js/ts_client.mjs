// Drive mcpd with the official MCP TypeScript SDK client: 1.x (`@modelcontextprotocol/sdk`,
// handshake only) or 2.x (`@modelcontextprotocol/client`, `versionNegotiation: {mode: "auto"}`).
//
// Usage: node ts_client.mjs MODULES_DIR SDK TRANSPORT URL SERVER ERA
//   SDK        v1 | v2
//   TRANSPORT  http (Streamable HTTP) | sse (2024-11-05 HTTP+SSE; URL is the /sse URL)
//   SERVER     time | everything | builtin
//   ERA        the protocol revision the client must end up speaking ("-": not checked, for
//              1.x over SSE, which keeps no record of it)
// Prints "ALL OK" and exits 0 when every step matched; otherwise "FAIL: ..." and exits 1.

import { pathToFileURL } from "node:url";
import path from "node:path";

const [modules, sdk, transportKind, url, server, era] = process.argv.slice(2);
const failures = [];
const check = (ok, what) => {
  console.log((ok ? "ok: " : "FAIL: ") + what);
  if (!ok) failures.push(what);
};
const load = (spec) => import(pathToFileURL(path.join(modules, spec)).href);

// What the client answers when the server asks (server-everything's trigger tools).
const capabilities = { sampling: {}, elicitation: {}, roots: { listChanged: true } };
const sampled = async (request) => ({
  model: "test-model",
  role: "assistant",
  content: { type: "text", text: `sampled: ${request.params.messages.at(-1).content.text}` },
});
const elicited = async () => ({ action: "accept", content: { color: "blue" } });
const rooted = async () => ({ roots: [{ uri: "file:///tmp/mcpd-ts-root", name: "root" }] });

async function connect() {
  if (sdk === "v1") {
    const { Client } = await load("@modelcontextprotocol/sdk/dist/esm/client/index.js");
    const types = await load("@modelcontextprotocol/sdk/dist/esm/types.js");
    const { StreamableHTTPClientTransport } = await load("@modelcontextprotocol/sdk/dist/esm/client/streamableHttp.js");
    const { SSEClientTransport } = await load("@modelcontextprotocol/sdk/dist/esm/client/sse.js");
    const client = new Client({ name: "mcpd-ts-v1", version: "1.0.0" }, { capabilities });
    client.setRequestHandler(types.CreateMessageRequestSchema, sampled);
    client.setRequestHandler(types.ElicitRequestSchema, elicited);
    client.setRequestHandler(types.ListRootsRequestSchema, rooted);
    const transport = transportKind === "sse"
      ? new SSEClientTransport(new URL(url))
      : new StreamableHTTPClientTransport(new URL(url));
    await client.connect(transport);
    // 1.x has no accessor; the Streamable HTTP transport keeps what initialize negotiated.
    return { client, version: transport.protocolVersion };
  }
  const mod = await load("@modelcontextprotocol/client/dist/index.mjs");
  const client = new mod.Client(
    { name: "mcpd-ts-v2", version: "2.0.0" },
    { capabilities, versionNegotiation: { mode: "auto" } },
  );
  client.setRequestHandler("sampling/createMessage", sampled);
  client.setRequestHandler("elicitation/create", elicited);
  client.setRequestHandler("roots/list", rooted);
  const transport = transportKind === "sse"
    ? new mod.SSEClientTransport(new URL(url))
    : new mod.StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  return { client, version: client.getNegotiatedProtocolVersion() };
}

const texts = (result) => (result.content ?? []).filter((c) => c.type === "text").map((c) => c.text);

async function run() {
  const { client, version } = await connect();
  if (era !== "-") check(version === era, `negotiated ${era} (got ${version})`);
  const names = (await client.listTools()).tools.map((t) => t.name).sort();
  if (server === "time") {
    check(JSON.stringify(names) === '["convert_time","get_current_time"]', `listTools: the two time tools (got ${names})`);
    const result = await client.callTool({
      name: "convert_time",
      arguments: { source_timezone: "UTC", time: "12:00", target_timezone: "Asia/Tokyo" },
    });
    const data = result.structuredContent ?? {};
    check(String(data.target?.datetime ?? "").endsWith("T21:00:00+09:00"), `convert_time: 21:00 in Tokyo (got ${JSON.stringify(data.target)})`);
    check(data.time_difference === "+9.0h", `convert_time: +9.0h (got ${data.time_difference})`);
  } else if (server === "everything") {
    check(names.includes("echo") && names.includes("get-sum"), `listTools: echo and get-sum (got ${names})`);
    const echo = texts(await client.callTool({ name: "echo", arguments: { message: "from ts" } }));
    check(JSON.stringify(echo) === '["Echo: from ts"]', `echo: exact text (got ${echo})`);
    const sum = texts(await client.callTool({ name: "get-sum", arguments: { a: 2, b: 3 } }));
    check(JSON.stringify(sum) === '["The sum of 2 and 3 is 5."]', `get-sum: exact text (got ${sum})`);
    const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
    check(prompts.includes("simple-prompt"), `listPrompts: simple-prompt (got ${prompts})`);
    // Server-to-client requests in the handshake era, input_required round trips when mcpd
    // translates for 2026-07-28.
    const sampling = texts(await client.callTool({ name: "trigger-sampling-request", arguments: { prompt: "ts", maxTokens: 5 } }));
    check(sampling.length === 1 && sampling[0].includes('"text": "sampled: Resource trigger-sampling-request context: ts"'), `trigger-sampling-request: the sampled text (got ${sampling})`);
    const roots = texts(await client.callTool({ name: "get-roots-list", arguments: {} }));
    check(roots.length === 1 && roots[0].includes("URI: file:///tmp/mcpd-ts-root"), `get-roots-list: the client's root (got ${roots})`);
    const elicit = texts(await client.callTool({ name: "trigger-elicitation-request", arguments: {} }));
    check(elicit.some((t) => t.includes("Favorite Color: blue")), `trigger-elicitation-request: the answer (got ${elicit})`);
  } else {
    check(names.includes("echo"), `listTools: echo (got ${names})`);
    const echo = texts(await client.callTool({ name: "echo", arguments: { message: "from ts" } }));
    check(JSON.stringify(echo) === '["from ts"]', `echo: exact text (got ${echo})`);
  }
  await client.close();
}

const timer = setTimeout(() => {
  console.log("FAIL: gave up after 45 s");
  process.exit(1);
}, 45000);
try {
  await run();
} catch (e) {
  check(false, `client threw: ${e?.stack ?? e}`);
}
clearTimeout(timer);
if (failures.length) process.exit(1);
console.log("ALL OK");
process.exit(0);
