/** Renders a {@link Report} as Markdown and HTML with SVG plots (vega-lite compiled and rendered by vega, headless and offline). */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { Report } from './report.js';

/** A vega-lite spec rendered to SVG in Node (no browser, no canvas). */
export async function svgOf(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** A bar chart of one figure per layer. */
export function barSpec(title: string, unit: string, rows: { layer: string; value: number }[], log = false): vl.TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 360,
    height: 180,
    data: { values: rows },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'layer', type: 'nominal', sort: null, title: null },
      y: { field: 'value', type: 'quantitative', title: unit, ...(log ? { scale: { type: 'symlog' } } : {}) },
      color: { field: 'layer', type: 'nominal', legend: null },
    },
    config: { font: 'sans-serif' },
  };
}

const fmt = (v: number, d = 1) => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(d)) : '—');
const sec = (ms: number) => `${fmt(ms / 1000, 2)} s`;

/** Markdown, HTML and one SVG per figure. */
export async function renderReport(r: Report): Promise<Record<string, string>> {
  const L = r.layers;
  const figures: { file: string; title: string; unit: string; rows: { layer: string; value: number }[]; log?: boolean }[] = [
    { file: 'throughput.svg', title: 'Throughput', unit: 'transfers / s', rows: L.map((l) => ({ layer: l.layer, value: l.throughput })) },
    { file: 'l1-bytes.svg', title: 'L1 bytes per transfer', unit: 'bytes', rows: L.map((l) => ({ layer: l.layer, value: l.l1BytesPerTx })) },
    { file: 'soft.svg', title: 'Time to soft confirmation (median)', unit: 'ms', rows: L.map((l) => ({ layer: l.layer, value: l.softMs.median })) },
    { file: 'final.svg', title: 'Time to final confirmation (median)', unit: 'ms', rows: L.map((l) => ({ layer: l.layer, value: l.finalMs.median })) },
    { file: 'exit.svg', title: 'Exit delay back to L1', unit: 'ms', rows: L.map((l) => ({ layer: l.layer, value: l.exitMs })) },
    { file: 'l1-fee.svg', title: 'L1 fees per transfer', unit: 'base units', rows: L.map((l) => ({ layer: l.layer, value: l.l1FeePerTx })) },
  ];
  const files: Record<string, string> = {};
  for (const f of figures) files[f.file] = await svgOf(barSpec(f.title, f.unit, f.rows, f.log));
  const table = [
    '| layer | kind | transfers | throughput (tx/s) | L1 bytes / tx | soft (median / max) | final (median / max) | exit to L1 | L1 fees / tx | layer fee / tx |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...L.map(
      (l) =>
        `| ${l.layer} | ${l.kind}${l.settlesOn && l.settlesOn !== l.layer ? ` on ${l.settlesOn}` : ''} | ${l.transfers} | ${fmt(l.throughput)} | ${fmt(l.l1BytesPerTx)} | ${sec(l.softMs.median)} / ${sec(l.softMs.max)} | ${sec(l.finalMs.median)} / ${sec(l.finalMs.max)} | ${l.exitMs ? `${sec(l.exitMs)} (${l.exitL1Blocks} ${l.settlesOn && l.settlesOn !== l.layer ? l.settlesOn : 'L1'} blocks)` : 'native'} | ${fmt(l.l1FeePerTx)} | ${fmt(l.feePerTx)} |`,
    ),
  ].join('\n');
  const trust = L.map((l) => [`### ${l.layer} (${l.kind})`, '', '| aspect | verdict | why |', '| --- | --- | --- |', ...l.risk.map((x) => `| ${x.aspect} | ${x.value} (${x.level}) | ${x.detail} |`), ''].join('\n')).join('\n');
  const md = [
    '# Strata: L1 or L2? — measured',
    '',
    `Run started ${r.startedAt}. Workload: ${r.workload.transfers} transfers from ${r.workload.senders} accounts to ${r.workload.recipients} first-time recipients (mixed amounts, ${r.workload.totalAmount} base units in all), sent over JSON-RPC to each layer of one devnet. Every figure below comes from this run (raw records in data.json).`,
    '',
    table,
    '',
    'How to read it: *soft* is the layer\'s own receipt (the L2 sequencer\'s block); *final* is the L1\'s finality depth for L1 transfers and, for a rollup, its batch in a final L1 block; *L1 bytes / tx* for a rollup are the batcher\'s and proposer\'s L1 transactions over the workload divided by the transfers; *L1 fees / tx* likewise their L1 fees; *exit* is one withdrawal from L2 submission until the coins are paid on L1 (prove + finalize after the challenge window). A layer "on X" settles on X: its *L1* columns are X\'s bytes, fees and blocks (the L3\'s are the L2 transactions of its batcher and proposer, and its exit is paid on the L2).',
    '',
    'The other layers: the *ZK-rollup*\'s soft confirmation is the operator\'s accept, final is the L1 block that verifies the Groth16 proof of the batch holding the transfer, its L1 bytes and fees are those batches\' `commitBatch` transactions (their L1 receipts), and its exit is a withdrawal paid in the verifying L1 block. The *sidechain*\'s soft is inclusion, final is the BFT commit (its finalized head), its L1 columns are the checkpoint transactions posted from the first transfer until one covered the last, shared out over the transfers, and its exit is burn → checkpoint → withdraw with a Merkle proof on the L1. The *channels* pay Carol\'s invoices from Alice over Alice → Bob → Carol: soft = final = the payment settled; their L1 columns are the channel opens and cooperative closes shared out over the payments, and the exit is Alice\'s cooperative close.',
    ...(r.notes?.length ? ['', ...r.notes.map((x) => `- ${x.layer}: ${x.note}`)] : []),
    '',
    ...figures.map((f) => `![${f.title}](${f.file})`),
    '',
    '## Trust assumptions (from the chains\' own configuration)',
    '',
    trust,
    ...(r.notMeasured.length ? ['## Not measured', '', ...r.notMeasured.map((m) => `- ${m.layer} (${m.kind}): ${m.why}`), ''] : []),
  ].join('\n');
  files['report.md'] = md;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const htmlTable = (lines: string[]) => {
    const rows = lines.filter((x) => !/^\| ---/.test(x)).map((x) => x.split('|').slice(1, -1).map((c) => c.trim()));
    return `<table>${rows.map((cells, i) => `<tr>${cells.map((c) => (i === 0 ? `<th>${esc(c)}</th>` : `<td>${esc(c)}</td>`)).join('')}</tr>`).join('')}</table>`;
  };
  files['report.html'] = `<!doctype html><html><head><meta charset="utf-8"><title>Strata: L1 or L2?</title>
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#222}table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:14px}th{background:#f3f3f3}.plots{display:flex;flex-wrap:wrap;gap:12px}</style></head><body>
<h1>Strata: L1 or L2? — measured</h1>
<p>${esc(md.split('\n')[2] as string)}</p>
${htmlTable(table.split('\n'))}
<div class="plots">${figures.map((f) => files[f.file]).join('\n')}</div>
<h2>Trust assumptions</h2>
${L.map((l) => `<h3>${esc(l.layer)} (${esc(l.kind)})</h3>${htmlTable(['| aspect | verdict | why |', ...l.risk.map((x) => `| ${x.aspect} | ${x.value} (${x.level}) | ${x.detail} |`)])}`).join('\n')}
${r.notMeasured.length ? `<h2>Not measured</h2><ul>${r.notMeasured.map((m) => `<li>${esc(`${m.layer} (${m.kind}): ${m.why}`)}</li>`).join('')}</ul>` : ''}
</body></html>`;
  return files;
}
