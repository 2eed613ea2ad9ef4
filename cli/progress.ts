import cliProgress from 'cli-progress';

/**
 * A progress bar on stderr (stdout stays clean for tables and --json); cli-progress draws only on a
 * TTY, so logs and CI output are not flooded. Starts on the first update, when the total is known.
 */
export function progressBar(label: string): { update: (done: number, total: number) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} [{bar}] {value}/{total} {percentage}% eta {eta}s`, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
    },
    stop: () => (started ? bar.stop() : undefined),
  };
}
