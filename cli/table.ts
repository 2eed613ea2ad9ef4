/**
 * cli-table3's style for a table on stdout: its colours (red heads, grey borders) only on a terminal
 * and only without NO_COLOR (https://no-color.org). cli-table3 asks for colour support without a
 * stream, so it would colour piped output; every table takes its style from here instead.
 */
export function tableStyle(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): { head: string[]; border: string[] } {
  const colour = stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
  return colour ? { head: ['red'], border: ['grey'] } : { head: [], border: [] };
}
