// The dashboard's tables: a header row of column names, the rows given, and a line of
// its own when there are none.
import type { ReactNode } from "react";

interface Props {
  columns: string[];
  children: ReactNode;
  /** Shown as the only row when `count` is 0. */
  empty?: string;
  count?: number;
  testId?: string;
}

export function Table({ columns, children, empty, count, testId }: Props) {
  return (
    <table data-testid={testId}>
      <thead>
        <tr>
          {columns.map((c, i) => (
            <th key={`${c}-${i}`}>{c}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {empty && count === 0 && (
          <tr>
            <td colSpan={columns.length} className="muted">
              {empty}
            </td>
          </tr>
        )}
        {children}
      </tbody>
    </table>
  );
}
