#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs, helpText } from '../config/load.js';
import { logIgnoredOptions } from '../config/config-file.js';
import { startTandem } from '../main.js';
import { createLogger } from '../common/log.js';
import { errorMessage, isTandemError } from '../common/errors.js';
import { runPasswd } from './passwd.js';
import { runPhone } from '../phone/run.js';
import { runCtl } from './ctl.js';

async function main(): Promise<number> {
  if (process.argv[2] === 'passwd') return runPasswd(process.argv.slice(3));
  if (process.argv[2] === 'ctl') return runCtl(process.argv.slice(3));
  if (process.argv[2] === 'call' || process.argv[2] === 'answer') return runPhone(process.argv[2], process.argv.slice(3));
  let parsed;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`tandem: ${errorMessage(err)}\n`);
    return 2;
  }
  if (parsed.kind === 'help') {
    process.stdout.write(helpText());
    return 0;
  }
  if (parsed.kind === 'version') {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`tandem ${pkg.version}\n`);
    return 0;
  }
  const log = createLogger({ level: parsed.config.logLevel });
  // Once, at start: what of an rtpengine config file Tandem does not apply, so a migration sees it.
  logIgnoredOptions(log, parsed.ignored);
  try {
    const running = await startTandem(parsed.config, log);
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down');
      running.close().then(() => process.exit(0), () => process.exit(1));
    };
    // SIGTERM drains (new calls refused, live ones go on, then exit 0); a second SIGTERM, or SIGINT, stops at once.
    running.ops.onDrained = (why) => stop(`drained (${why})`);
    process.on('SIGTERM', () => {
      if (!running.ops.drain.start('SIGTERM')) stop('SIGTERM (second)');
    });
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      if (running.ops.reload() === undefined) log.warn('SIGHUP: no file to reload (--routes-file, --auth-users, --sip-acl-file)');
    });
    return -1;
  } catch (err) {
    if (isTandemError(err) && err.code === 'CONFIG') {
      // A configuration fault found while starting (routes file, certificates, a port in use) reads
      // like one found on the command line.
      process.stderr.write(`tandem: ${errorMessage(err)}\n`);
      return 2;
    }
    log.fatal({ err }, 'tandem failed to start');
    return 1;
  }
}

void main().then((code) => {
  if (code >= 0) process.exitCode = code;
});
