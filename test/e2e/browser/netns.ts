// Runs a browser scenario inside a new network namespace that has only `lo`. Chromium gathers
// candidates on every interface it sees; in the namespace the only one is 127.0.0.1, so no packet
// can leave loopback whatever pair ICE picks. Tandem, the peers and the browser all run inside.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface ScenarioRun<T> {
  result: T | undefined;
  code: number | null;
  /** Everything the scenario wrote on stderr (its progress log) and stdout. */
  output: string;
}

/** `script` prints one line `RESULT <json>` on stdout; anything else is log. */
export function runScenarioInNetns<T>(script: string, args: string[], timeoutMs: number): Promise<ScenarioRun<T>> {
  const inner = `ip link set lo up && exec node --import tsx ${JSON.stringify(script)} ${args.map((a) => JSON.stringify(a)).join(' ')}`;
  const child = spawn('unshare', ['--net', '--', 'sh', '-c', inner], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  let result: T | undefined;
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  return new Promise((resolve) => {
    const kill = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    };
    const timer = setTimeout(() => {
      output += `\n[runner] killed after ${timeoutMs} ms`;
      kill();
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      kill(); // a browser the scenario failed to close dies with its group
      const line = output.split('\n').find((l) => l.startsWith('RESULT '));
      if (line !== undefined) result = JSON.parse(line.slice(7)) as T;
      resolve({ result, code, output });
    });
  });
}
