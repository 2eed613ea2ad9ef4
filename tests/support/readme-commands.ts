/**
 * The `quorum` commands a README names, and the command tree `quorum --help` shows, so a test can
 * check that every command the README offers exists and is exercised.
 */

/** One entry of a commander "Commands:" section: its name, signature and description. */
export interface HelpEntry {
  name: string;
  signature: string;
  description: string;
}

/** The entries of the "Commands:" section of a commander help text (without `help`). */
export function helpCommands(help: string): HelpEntry[] {
  const lines = help.split('\n');
  const start = lines.findIndex((l) => l.trim() === 'Commands:');
  if (start < 0) return [];
  const entries: HelpEntry[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') break;
    const entry = /^ {2}(\S.*?)(?: {2,}(.*))?$/.exec(line);
    if (entry && !line.startsWith('   ')) {
      const signature = entry[1] ?? '';
      entries.push({ name: signature.split(' ')[0] ?? '', signature, description: entry[2] ?? '' });
    } else if (entries.length > 0) {
      const last = entries[entries.length - 1];
      if (last) last.description += ` ${line.trim()}`;
    }
  }
  return entries.filter((e) => e.name !== 'help');
}

/** The command tree: every top-level command, with its subcommands when it is a group. */
export interface CommandTree {
  top: Map<string, HelpEntry>;
  subs: Map<string, Map<string, HelpEntry>>;
}

/** Builds the tree from `quorum --help` and the help of each group (`groupHelp(name)`). */
export async function commandTree(topHelp: string, groupHelp: (name: string) => Promise<string>): Promise<CommandTree> {
  const top = new Map(helpCommands(topHelp).map((e) => [e.name, e]));
  // A group has neither options nor arguments of its own: its signature is its bare name.
  const candidates = [...top.values()].filter((e) => e.signature === e.name).map((e) => e.name);
  const helps = await Promise.all(candidates.map(async (name) => [name, await groupHelp(name)] as const));
  const subs = new Map<string, Map<string, HelpEntry>>();
  for (const [name, help] of helps) {
    const entries = helpCommands(help);
    if (entries.length > 0) subs.set(name, new Map(entries.map((e) => [e.name, e])));
  }
  return { top, subs };
}

/** Where a README names a command: the words after `quorum`, and the line. */
export interface Mention {
  words: string[];
  /** For a continuation (`… / resume --reason R` in a table cell): the command of the cell's first span. */
  after: string[] | null;
  /** The flags the mention gives (`--as-of`, `-k`). */
  flags: string[];
  line: number;
  text: string;
}

/** The leading command words of a code span or shell line (stops at flags, placeholders, quotes). */
function commandWords(text: string): string[][] {
  const words: string[][] = [];
  for (const raw of text.trim().split(/\s+/)) {
    const token = raw.replace(/^\[|\]$/g, '');
    const alternatives = token.split(/\\?\|/);
    if (!alternatives.every((a) => /^[a-z][a-z0-9-]*$/.test(a))) break;
    words.push(alternatives);
  }
  return words;
}

function expand(words: string[][]): string[][] {
  // `approve|reject ID` names two commands; alternatives only ever appear in one position.
  const [first = [], second] = words;
  const out: string[][] = [];
  for (const a of first) {
    if (second) for (const b of second) out.push([a, b]);
    else out.push([a]);
  }
  return out;
}

/**
 * Every `quorum <command>` a README offers: in inline code spans that start with `quorum `, in
 * `npx quorum …` (code spans and fenced blocks), and the further commands of a command-table cell
 * (`quorum halt --reason R` / `resume --reason R`).
 */
export function readmeMentions(readme: string): Mention[] {
  const mentions: Mention[] = [];
  let fenced = false;
  readme.split('\n').forEach((line, index) => {
    const lineNo = index + 1;
    if (line.trimStart().startsWith('```')) {
      fenced = !fenced;
      return;
    }
    const push = (raw: string, after: string[] | null): string[] | null => {
      const text = (raw.split(/\s#/)[0] ?? '').trim();
      const flags = [
        ...new Set(
          text
            .split(/\s+/)
            .map((t) => /^\[?(--?[a-zA-Z][\w-]*)/.exec(t)?.[1])
            .filter((f): f is string => f !== undefined),
        ),
      ];
      let first: string[] | null = null;
      for (const words of expand(commandWords(text))) {
        mentions.push({ words, after, flags, line: lineNo, text });
        first ??= words;
      }
      return first;
    };
    const afterNpx = (text: string): void => {
      for (const m of text.matchAll(/(?:^|[\s($])npx\s+quorum\s+([^|;&`)]+)/g)) push(m[1] ?? '', null);
    };
    if (fenced) {
      afterNpx(line);
      return;
    }
    const spans = [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
    // A command-table row: its first cell's later spans continue the first one's command.
    const tableCell = line.startsWith('| `quorum ') ? (line.split(/(?<!\\)\|/)[1] ?? '') : null;
    if (tableCell !== null) {
      const cellSpans = [...tableCell.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
      const first = push((cellSpans[0] ?? '').replace(/^quorum\s+/, ''), null);
      for (const span of cellSpans.slice(1)) push(span, first);
      for (const span of spans.filter((s) => !cellSpans.includes(s))) if (span.startsWith('quorum ')) push(span.slice(7), null);
      return;
    }
    for (const span of spans) {
      if (span.startsWith('quorum ')) push(span.slice(7), null);
      else afterNpx(span);
    }
  });
  return mentions;
}

/**
 * The command a mention names (`token create`, `doctor`), `{ argument }` when a continuation is an
 * argument its command's help names (`alpaca` of `ingest prices`), or an error saying why it is
 * no command of the tree.
 */
export function resolveMention(m: Mention, tree: CommandTree): { command: string } | { argument: string } | { error: string } {
  const [w1 = '', w2] = m.words;
  const where = `README.md:${m.line} \`${m.text}\``;
  const inTree = (words: string[]): { command: string } | { error: string } => {
    const [a = '', b] = words;
    if (!tree.top.has(a)) return { error: `${where}: "quorum ${a}" is not a command of quorum --help` };
    const subs = tree.subs.get(a);
    if (!subs) return { command: a };
    if (b === undefined) return { command: a };
    if (!subs.has(b)) return { error: `${where}: "quorum ${a} ${b}" is not a command of quorum ${a} --help` };
    return { command: `${a} ${b}` };
  };
  if (m.after === null) return inTree(m.words);
  const [c1 = '', c2] = m.after;
  const parentSubs = tree.subs.get(c1);
  if (parentSubs?.has(w1)) return inTree([c1, w1]);
  if (tree.top.has(w1)) return inTree(w2 === undefined ? [w1] : [w1, w2]);
  const owner = c2 !== undefined ? parentSubs?.get(c2) : tree.top.get(c1);
  if (owner && new RegExp(`\\b${w1}\\b`).test(owner.description)) return { argument: w1 };
  return { error: `${where}: "${w1}" is neither a command nor an argument quorum ${m.after.join(' ')} --help names` };
}
