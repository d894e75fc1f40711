/** The dashboard's stylesheet, served as `/dashboard/assets/dashboard.css`. Laid out for screens from 1280 px wide. */
export const dashboardCss = `
:root {
  --background: #f4f5f7;
  --card: #ffffff;
  --text: #1d2330;
  --muted: #667085;
  --border: #e3e6ea;
  --accent: #2f6fde;
  --danger: #c4321c;
  --warning: #b7791f;
  --ok: #2f855a;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 14px;
  color: var(--text);
  background: var(--background);
}
* { box-sizing: border-box; }
body { margin: 0; }
main { padding: 0 24px 32px; max-width: 1600px; margin: 0 auto; }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 13px; font-weight: 600; margin: 0 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.03em; }
.page-header { display: flex; align-items: baseline; gap: 16px; padding: 16px 24px 12px; max-width: 1600px; margin: 0 auto; }
.muted { color: var(--muted); margin: 0; }
.status { padding: 10px 14px; border-radius: 6px; background: #fdecea; color: var(--danger); margin: 0 0 16px; }
.card { background: var(--card); border: 1px solid var(--border); border-radius: 8px; padding: 14px 16px; margin: 0; min-width: 0; }
.tiles { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 12px; margin-bottom: 16px; }
.tile { background: var(--card); border: 1px solid var(--border); border-radius: 8px; padding: 12px 16px; }
.tile .value { font-size: 24px; font-weight: 600; margin: 0; font-variant-numeric: tabular-nums; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.tile .value.small { font-size: 18px; line-height: 29px; }
.tile .detail { color: var(--muted); margin: 4px 0 0; font-size: 12px; min-height: 1em; }
.charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 12px; margin-bottom: 16px; }
.chart-card.wide { grid-column: 1 / -1; }
figcaption { font-weight: 600; margin-bottom: 8px; }
.chart { width: 100%; min-height: 220px; }
.note { color: var(--muted); font-size: 12px; margin: 6px 0 0; min-height: 1em; }
.tables { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 12px; margin-bottom: 16px; }
.plugin-panels { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 12px; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: 5px 6px; border-bottom: 1px solid var(--border); white-space: nowrap; }
th:first-child, td:first-child { text-align: left; max-width: 220px; overflow: hidden; text-overflow: ellipsis; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
tr:last-child td { border-bottom: none; }
.meter { height: 8px; background: var(--border); border-radius: 4px; overflow: hidden; min-width: 80px; }
.meter > span { display: block; height: 100%; background: var(--ok); }
.meter.warning > span { background: var(--warning); }
.meter.over > span { background: var(--danger); }
.recommendations { margin: 0; padding-left: 18px; }
.recommendations li { margin-bottom: 6px; }
.saving { color: var(--ok); font-weight: 600; }
@media (max-width: 1100px) {
  .tiles { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .charts, .tables, .plugin-panels { grid-template-columns: minmax(0, 1fr); }
}
`
