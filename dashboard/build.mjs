// Bundles src/ into public/app.js (committed, so `vayu dashboard` and
// `vayu demo` serve the site with no npm on the machine). `--check` fails
// when the committed bundle differs from a fresh build (CI runs it).
import { build } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const out = `${here}public/app.js`;
const result = await build({
  entryPoints: [`${here}src/main.js`],
  bundle: true,
  format: 'esm',
  minify: true,
  target: ['chrome110', 'firefox110', 'safari16'],
  legalComments: 'eof',
  write: false,
  logLevel: 'warning',
});
const text = result.outputFiles[0].text;
if (process.argv.includes('--check')) {
  let committed = '';
  try { committed = readFileSync(out, 'utf8'); } catch { /* missing */ }
  if (committed !== text) {
    console.error('dashboard/public/app.js is stale: run `npm run build` in dashboard/ and commit it');
    process.exit(1);
  }
  console.log(`dashboard/public/app.js is up to date (${text.length} bytes)`);
} else {
  writeFileSync(out, text);
  console.log(`wrote public/app.js (${text.length} bytes)`);
}
