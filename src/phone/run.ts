import { errorMessage, isTandemError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { runAnswer } from './answerer.js';
import { runCall } from './caller.js';
import { warmCodecs } from './audio-codec.js';
import type { AudioSource } from './media.js';
import { ANSWER_USAGE, CALL_USAGE, parsePhoneArgs, type PhoneOptions } from './options.js';
import { EXIT, formatSummary } from './summary.js';
import { LoopSource, ToneSource } from './tone.js';
import { readWav, to8k } from './wav.js';

/** `tandem call …` / `tandem answer …`: the exit code (see CALL_USAGE). */
export async function runPhone(mode: 'call' | 'answer', argv: readonly string[]): Promise<number> {
  const usage = mode === 'call' ? CALL_USAGE : ANSWER_USAGE;
  let o: PhoneOptions;
  let source: AudioSource | undefined;
  try {
    const parsed = parsePhoneArgs(mode, argv);
    if (parsed === 'help') {
      process.stdout.write(usage);
      return EXIT.ok;
    }
    o = parsed;
    if (o.play !== undefined) {
      const samples = to8k(readWav(o.play, `--play ${o.play}`));
      source = new LoopSource(samples);
    } else if (o.tone > 0) source = new ToneSource(o.tone);
  } catch (err) {
    process.stderr.write(`tandem ${mode}: ${errorMessage(err)}\n${usage}`);
    return EXIT.usage;
  }
  const log = createLogger({ level: o.logLevel, name: `tandem-${mode}` });
  try {
    warmCodecs(o.codecs);
    const summary =
      mode === 'call'
        ? await runCall(o, source, log)
        : await runAnswer(o, source, log, (l) => process.stderr.write(`tandem answer: listening on ${l.protocol}:${l.address}:${l.port}\n`));
    process.stdout.write(o.json ? `${JSON.stringify(summary)}\n` : formatSummary(summary));
    return summary.exitCode;
  } catch (err) {
    if (isTandemError(err) && err.code === 'CONFIG') {
      process.stderr.write(`tandem ${mode}: ${errorMessage(err)}\n`);
      return EXIT.usage;
    }
    log.error({ err }, `tandem ${mode} failed`);
    return EXIT.internal;
  }
}
