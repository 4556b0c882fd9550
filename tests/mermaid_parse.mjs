// Parse Mermaid diagrams with mermaid's own parser (the library GitHub renders them with); a DOM
// from jsdom gives mermaid's sanitizer (DOMPurify) the window it needs under node.
// Usage: node mermaid_parse.mjs <node_modules dir> < diagrams.json; prints [{ok, type | error}].
import { createRequire } from "module";
const modules = process.argv[2];
const require = createRequire(modules + "/");
const { JSDOM } = require("jsdom");
const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const mermaid = (await import(modules + "/mermaid/dist/mermaid.core.mjs")).default;
let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const text of JSON.parse(input)) {
  try {
    const parsed = await mermaid.parse(text);
    results.push({ ok: true, type: parsed.diagramType });
  } catch (error) {
    results.push({ ok: false, error: String(error.message || error).split("\n").slice(0, 4).join(" ") });
  }
}
process.stdout.write(JSON.stringify(results));
