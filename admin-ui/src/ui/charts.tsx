// Charts as plain SVG: bars are placed in percentages of the chart's width so text
// keeps its size on a narrow window. Each chart has a title and a description for
// screen readers, and its numbers as a table underneath (a `<details>` to open).
import { useId, type ReactNode } from "react";
import { count, percent } from "../lib/format";

export type Tone = "success" | "muted" | "danger" | "pending" | "neutral" | "primary";

export function Legend({ items }: { items: { name: string; tone: Tone }[] }) {
  return (
    <ul className="legend" aria-hidden="true">
      {items.map((item) => (
        <li key={item.name}>
          <span className={`swatch fill-${item.tone}`} /> {item.name}
        </li>
      ))}
    </ul>
  );
}

export function ChartTable({ caption, head, rows }: { caption: string; head: string[]; rows: (string | number)[][] }) {
  return (
    <details className="chart-table">
      <summary>{caption} as a table</summary>
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">{caption}</caption>
          <thead>
            <tr>
              {head.map((h, i) => (
                <th key={h} scope="col" className={i > 0 ? "num" : undefined}>
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row, index) => (
              <tr key={index}>
                {row.map((cell, i) =>
                  i === 0 ? (
                    <th key={i} scope="row">
                      {cell}
                    </th>
                  ) : (
                    <td key={i} className="num">
                      {typeof cell === "number" ? count(cell) : cell}
                    </td>
                  ),
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

function Svg({ title, description, height, children }: { title: string; description: string; height: number; children: ReactNode }) {
  const id = useId();
  return (
    <svg className="chart" width="100%" height={height} role="img" aria-labelledby={`${id}-t ${id}-d`}>
      <title id={`${id}-t`}>{title}</title>
      <desc id={`${id}-d`}>{description}</desc>
      {children}
    </svg>
  );
}

/// Horizontal bars, one per stage, each as wide as its share of `total`; the label in
/// the first quarter, the bar in the rest.
export function FunnelBars({ title, stages, total }: { title: string; stages: { name: string; value: number; tone: Tone }[]; total: number }) {
  const row = 26;
  const description = stages.map((s) => `${s.name} ${s.value}`).join(", ");
  return (
    <Svg title={title} description={description} height={stages.length * row}>
      {stages.map((stage, i) => {
        const share = total === 0 ? 0 : stage.value / total;
        const y = i * row;
        return (
          <g key={stage.name}>
            <text x="0" y={y + 16} className="chart-label">
              {stage.name}
            </text>
            <rect x="28%" y={y + 4} width="50%" height="16" className="chart-track" />
            <rect x="28%" y={y + 4} width={`${share * 50}%`} height="16" className={`fill-${stage.tone}`} />
            <text x="100%" y={y + 16} textAnchor="end" className="chart-value">
              {count(stage.value)} <tspan className="chart-share">{percent(stage.value, total)}</tspan>
            </text>
          </g>
        );
      })}
    </Svg>
  );
}

export type Column = { label: string; parts: { name: string; value: number; tone: Tone }[] };

/// Vertical stacked columns, one per category (a day), on a shared scale.
export function StackedColumns({ title, columns }: { title: string; columns: Column[] }) {
  const plot = 120;
  const top = 14;
  const max = Math.max(1, ...columns.map((c) => c.parts.reduce((sum, p) => sum + p.value, 0)));
  const n = Math.max(columns.length, 1);
  const step = 100 / n;
  const labelEvery = Math.ceil(n / 8);
  const description = columns
    .map((c) => `${c.label}: ${c.parts.filter((p) => p.value > 0).map((p) => `${p.value} ${p.name}`).join(", ") || "none"}`)
    .join("; ");
  return (
    <Svg title={title} description={description} height={top + plot + 20}>
      <text x="0" y="10" className="chart-axis">
        {count(max)}
      </text>
      <line x1="0" x2="100%" y1={top + plot} y2={top + plot} className="chart-baseline" />
      {columns.map((column, i) => {
        let y = top + plot;
        return (
          <g key={column.label}>
            {column.parts
              .filter((p) => p.value > 0)
              .map((p) => {
                const h = (p.value / max) * plot;
                y -= h;
                return (
                  <rect key={p.name} x={`${i * step + step * 0.2}%`} y={y} width={`${step * 0.6}%`} height={h} className={`fill-${p.tone}`}>
                    <title>{`${column.label}: ${p.value} ${p.name}`}</title>
                  </rect>
                );
              })}
            {i % labelEvery === 0 && (
              <text x={`${i * step + step / 2}%`} y={top + plot + 15} textAnchor="middle" className="chart-axis">
                {column.label}
              </text>
            )}
          </g>
        );
      })}
    </Svg>
  );
}
