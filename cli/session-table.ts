import Table from 'cli-table3';
import { riskReason, type ReportData } from '../sessions/index.ts';
import { tableStyle } from './table.ts';

type Item = ReportData['items'][number];

/** An order as a row shows it: side, qty, status, fill price. */
function orderCell(i: Item): string {
  return i.orders.map((o) => `${o.side} ${o.qty} ${o.status}${o.filledAvgPrice ? ` @ ${o.filledAvgPrice.toFixed(2)}` : ''}`).join('; ') || '-';
}

/**
 * A session's judged proposals as a table (ticker, side, p, verdict, size, risk, qty, why, order), then
 * one line per order with the id to pass to `quorum audit`.
 */
export function sessionTable(report: Pick<ReportData, 'items'>): string {
  const table = new Table({ head: ['ticker', 'side', 'p', 'verdict', 'size x', 'risk', 'qty', 'why', 'order'], style: tableStyle() });
  const judged = report.items.filter((i) => i.verdict);
  for (const i of judged) {
    table.push([
      i.ticker,
      i.side,
      i.probability.toFixed(3),
      i.verdict?.decision ?? 'not judged',
      i.verdict ? i.verdict.sizeMultiplier.toFixed(2) : '-',
      i.risk?.action ?? '-',
      i.risk ? `${i.risk.finalQty}/${i.risk.requestedQty}` : '-',
      riskReason(i),
      orderCell(i),
    ]);
  }
  const lines = [table.toString()];
  const orders = judged.flatMap((i) => i.orders.map((o) => ({ ticker: i.ticker, id: o.id })));
  const count = report.items.reduce((n, i) => n + i.orders.length, 0);
  lines.push(`${report.items.length} proposals, the top ${judged.length} judged, ${count} paper order(s)`);
  if (orders.length > 0) {
    lines.push('orders (trace one with quorum audit <id>):');
    for (const o of orders) lines.push(`  ${o.ticker}  ${o.id}`);
  }
  return `${lines.join('\n')}\n`;
}
