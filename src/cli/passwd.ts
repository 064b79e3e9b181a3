import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { errorMessage } from '../common/errors.js';
import { withPassword } from '../edge/auth-users.js';

/**
 * `tandem passwd FILE USER [--realm R]`: sets USER's password in a users file (`--auth-users`),
 * writing both the MD5 and SHA-256 HA1 lines. The password comes from a terminal prompt (no echo,
 * asked twice) or, when stdin is not a terminal, its first line; it never appears in argv, where
 * `ps` would show it.
 */
export const PASSWD_USAGE = 'Usage: tandem passwd FILE USER [--realm=REALM]   (password from stdin or a prompt; realm default tandem)\n';

function parse(argv: string[]): { file: string; user: string; realm: string } | string {
  const rest: string[] = [];
  let realm = 'tandem';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--realm(?:=(.*))?$/.exec(a);
    if (m !== null) {
      const v = m[1] ?? argv[++i];
      if (v === undefined || v === '') return '--realm: needs a value';
      realm = v;
    } else if (a.startsWith('--')) return `unexpected option ${a}`;
    else rest.push(a);
  }
  if (rest.length !== 2) return 'needs FILE and USER';
  return { file: rest[0], user: rest[1], realm };
}

async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

/** A prompt whose answer is not echoed. */
async function prompt(question: string): Promise<string> {
  let muted = false;
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (!muted) process.stderr.write(chunk);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output: out, terminal: true });
  try {
    return await new Promise<string>((resolve) => {
      rl.question(question, (answer) => resolve(answer));
      muted = true;
    });
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

export async function runPasswd(argv: string[]): Promise<number> {
  const args = parse(argv);
  if (typeof args === 'string') {
    process.stderr.write(`tandem passwd: ${args}\n${PASSWD_USAGE}`);
    return 2;
  }
  let password: string;
  if (process.stdin.isTTY) {
    password = await prompt(`Password for ${args.user} (realm ${args.realm}): `);
    if ((await prompt('Again: ')) !== password) {
      process.stderr.write('tandem passwd: the passwords differ; nothing written\n');
      return 1;
    }
  } else password = await readStdinLine();
  if (password === '') {
    process.stderr.write('tandem passwd: empty password; nothing written\n');
    return 1;
  }
  try {
    let text = '';
    try {
      text = readFileSync(args.file, 'utf8');
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
    }
    // Written beside and renamed over: a reader never sees half a file. Mode 0600: HA1s answer challenges.
    const tmp = `${args.file}.tmp-${process.pid}`;
    writeFileSync(tmp, withPassword(text, args.user, args.realm, password), { mode: 0o600 });
    renameSync(tmp, args.file);
  } catch (err) {
    process.stderr.write(`tandem passwd: ${errorMessage(err)}\n`);
    return 1;
  }
  process.stderr.write(`tandem passwd: ${args.user} (realm ${args.realm}) written to ${args.file}\n`);
  return 0;
}
