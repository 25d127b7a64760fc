import type { ModelCard } from '../model/card';
import type { Registry } from '../model/registry';
import { allowedRange, type RangePolicy } from '../validation';

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

const fmt = (n: number): string => String(Number(n.toPrecision(6)));

/**
 * The web form of the original Flask app: one number input per model feature (from the card),
 * submitted as JSON to POST /v1/predictions?wait=…; shows the prediction and the model version.
 * Self-contained: inline CSS and JS, no external assets.
 */
/** The live version and the last few promotions of this machine's registry (GET /v1/models has all). */
export function renderRegistry(reg: Registry | undefined, last = 5): string {
  if (!reg) return '';
  const score = (n: number | null) => (n === null ? '–' : fmt(n));
  const rows = reg.history
    .slice(0, last)
    .map((h) => {
      const what = h.kind === 'rollback' ? 'rollback to' : 'promoted';
      const g = h.gate;
      const gate = g && g.score !== null ? `${esc(g.metric)} ${score(g.score)} (live was ${score(g.liveScore)})` : '';
      return `<tr class="promotion ${h.kind}"><td>${esc(h.at)}</td><td>${what}</td><td><code>${esc(h.version)}</code></td><td>${gate}</td></tr>`;
    })
    .join('\n');
  return `<section id="registry"><h2>Models on this machine</h2>
<p>Live: <code id="registry-live">${esc(reg.live ?? 'none')}</code> · ${reg.versions.length} version(s) kept · <a href="/v1/models">/v1/models</a></p>
${rows ? `<table id="promotions"><thead><tr><th>when (UTC)</th><th></th><th>version</th><th>gate score on the evaluation set</th></tr></thead><tbody>\n${rows}\n</tbody></table>` : '<p>No promotion recorded yet.</p>'}
</section>`;
}

export function renderPage(card: ModelCard | undefined, policy: RangePolicy, waitMs: number, registry?: Registry): string {
  if (!card) {
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>rayswarm prediction</title></head>
<body><h1>rayswarm prediction</h1><p id="error">No model is loaded yet. Try again shortly.</p>${renderRegistry(registry)}</body></html>`;
  }
  const fields = card.features
    .map((f) => {
      const [lo, hi] = allowedRange(f, policy);
      const mid = (f.min + f.max) / 2;
      const bounds = policy.mode === 'reject' ? ` min="${fmt(lo)}" max="${fmt(hi)}"` : '';
      return `<label><span>${esc(f.name)}</span><input type="number" step="any" required name="${esc(f.name)}" id="f-${esc(f.name)}" value="${fmt(mid)}"${bounds}>
<small>seen ${fmt(f.min)} … ${fmt(f.max)}</small></label>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>rayswarm prediction — ${esc(card.target)}</title><link rel="icon" href="data:,">
<style>
body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}
form{display:grid;grid-template-columns:1fr 1fr;gap:.6rem 1.2rem}
label{display:flex;flex-direction:column}label span{font-weight:600}small{color:#777}
button{grid-column:1/-1;padding:.6rem;font-size:1rem}
#result{margin-top:1.5rem;padding:1rem;background:#f3f6fa;border-radius:6px;min-height:1.5rem}
.err{color:#a00}
#registry{margin-top:2rem;font-size:.9rem}#registry table{border-collapse:collapse;width:100%}
#registry td,#registry th{text-align:left;padding:.2rem .4rem;border-bottom:1px solid #ddd}
.rollback td:nth-child(2){color:#a60}
</style></head>
<body>
<h1>Predict ${esc(card.target)}</h1>
<p>Model version <code id="page-model-version">${esc(card.version)}</code>${card.metric ? ` · ${esc(card.metric.name)} ${fmt(card.metric.value)}` : ''}</p>
<form id="predict-form">
${fields}
<button type="submit" id="submit">Predict</button>
</form>
<div id="result" aria-live="polite"></div>
${renderRegistry(registry)}
<script>
(function () {
  var form = document.getElementById('predict-form');
  var out = document.getElementById('result');
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var features = {};
    Array.prototype.forEach.call(form.querySelectorAll('input'), function (i) { features[i.name] = Number(i.value); });
    out.className = ''; out.textContent = 'Predicting…';
    fetch('/v1/predictions?wait=${waitMs}', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features: features }) })
      .then(function (r) { return r.json().then(function (b) { return { status: r.status, body: b }; }); })
      .then(function (res) {
        var b = res.body;
        out.textContent = '';
        if (b.status === 'done') {
          out.innerHTML = 'Prediction: <strong id="prediction"></strong> <br>Model version: <code id="model-version"></code><br>Task <code id="task-id"></code>';
          document.getElementById('prediction').textContent = String(Math.round(b.result * 1000) / 1000);
          document.getElementById('model-version').textContent = b.modelVersion;
          document.getElementById('task-id').textContent = b.id;
        } else if (b.status === 'queued') {
          out.textContent = 'Still queued (task ' + b.id + '); check GET /v1/predictions/' + b.id;
        } else {
          out.className = 'err';
          out.textContent = 'Error: ' + (b.error && b.error.message ? b.error.message : (b.error || ('HTTP ' + res.status)));
        }
      })
      .catch(function (e) { out.className = 'err'; out.textContent = 'Request failed: ' + e; });
  });
})();
</script>
</body></html>`;
}
