/**
 * The dashboard's HTML. It contains no data: the script `main.js` reads
 * `/v1/fluxen/dashboard-data` with the admin key from the page's URL and
 * fills the elements below by their ids.
 */
export const dashboardHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Fluxen dashboard</title>
<link rel="stylesheet" href="/dashboard/assets/uPlot.min.css">
<link rel="stylesheet" href="/dashboard/assets/dashboard.css">
<script src="/dashboard/assets/uPlot.iife.min.js" defer></script>
<script type="module" src="/dashboard/assets/main.js"></script>
</head>
<body>
<header class="page-header">
  <h1>Fluxen</h1>
  <p id="range" class="muted">Loading usage…</p>
</header>
<main>
  <p id="status" class="status" role="status" hidden></p>

  <section class="tiles" aria-label="Totals over the range">
    <div class="tile"><h2>Spend</h2><p class="value" id="total-spend">–</p><p class="detail" id="total-spend-detail"></p></div>
    <div class="tile"><h2>Requests</h2><p class="value" id="total-requests">–</p><p class="detail" id="total-requests-detail"></p></div>
    <div class="tile"><h2>Tokens</h2><p class="value" id="total-tokens">–</p><p class="detail" id="total-tokens-detail"></p></div>
    <div class="tile"><h2>Error rate</h2><p class="value" id="error-rate">–</p><p class="detail" id="error-rate-detail"></p></div>
    <div class="tile"><h2>Cache hit rate</h2><p class="value" id="cache-hit-rate">–</p><p class="detail" id="cache-hit-rate-detail"></p></div>
    <div class="tile"><h2>Saved by the cache</h2><p class="value" id="cost-saved">–</p><p class="detail">upstream cost avoided</p></div>
    <div class="tile"><h2>Latency p50 / p95 / p99</h2><p class="value small" id="latency-total">–</p><p class="detail" id="latency-total-detail"></p></div>
    <div class="tile"><h2>First byte p50 / p95 / p99</h2><p class="value small" id="latency-first-byte">–</p><p class="detail" id="latency-first-byte-detail"></p></div>
  </section>

  <section class="charts" aria-label="Charts per day">
    <figure class="card chart-card wide">
      <figcaption>Spend per day, USD</figcaption>
      <div class="chart" id="chart-spend"></div>
      <p class="note" id="forecast-note"></p>
    </figure>
    <figure class="card chart-card">
      <figcaption>Tokens per day</figcaption>
      <div class="chart" id="chart-tokens"></div>
    </figure>
    <figure class="card chart-card">
      <figcaption>Requests and error rate per day</figcaption>
      <div class="chart" id="chart-requests"></div>
    </figure>
    <figure class="card chart-card">
      <figcaption>Cache hit rate and money saved per day</figcaption>
      <div class="chart" id="chart-cache"></div>
    </figure>
    <figure class="card chart-card">
      <figcaption>Latency per day, all successful requests of each day</figcaption>
      <div class="chart" id="chart-latency"></div>
    </figure>
  </section>

  <section class="tables" aria-label="Top spenders">
    <div class="card"><h2>Top models</h2><table id="top-models"></table></div>
    <div class="card"><h2>Top keys</h2><table id="top-keys"></table></div>
    <div class="card"><h2>Top teams</h2><table id="top-teams"></table></div>
  </section>

  <section class="plugin-panels" aria-label="Budgets and recommendations">
    <div class="card"><h2>Budgets</h2><div id="budgets"><p class="muted">Loading…</p></div></div>
    <div class="card"><h2>Recommendations</h2><div id="recommendations"><p class="muted">Loading…</p></div></div>
  </section>
</main>
</body>
</html>
`
