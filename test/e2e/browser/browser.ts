// Headless Chromium from Debian as a real WebRTC peer: launched with playwright-core (never a
// downloaded browser), a fake microphone fed from a WAV file, pages served from 127.0.0.1 so
// getUserMedia sees a secure context.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'esbuild';

/** Debian's binary itself: /usr/bin/chromium is a shell wrapper that adds flags of its own. */
/** Debian's real Chromium binary (/usr/bin/chromium is a wrapper script; peers.ts checks both). */
export const CHROMIUM_BIN = '/usr/lib/chromium/chromium';

const PAGE_DIR = fileURLToPath(new URL('./page/', import.meta.url));

/** A mono 16-bit PCM WAV of a sine (what Chromium's fake capture device plays, looped). */
export function writeToneWav(file: string, o: { hz: number; rate: number; seconds: number; amplitude: number }): void {
  const n = o.rate * o.seconds;
  const data = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) data.writeInt16LE(Math.round(o.amplitude * 32767 * Math.sin((2 * Math.PI * o.hz * i) / o.rate)), i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(o.rate, 24);
  h.writeUInt32LE(o.rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  writeFileSync(file, Buffer.concat([h, data]));
}

/** JsSIP bundled for the page (it ships CommonJS only). */
async function jssipBundle(): Promise<string> {
  const r = await build({ entryPoints: [fileURLToPath(import.meta.resolve('jssip'))], bundle: true, format: 'iife', globalName: 'JsSIP', platform: 'browser', write: false, minify: true, logLevel: 'silent' });
  return r.outputFiles[0].text;
}

async function servePage(): Promise<{ server: Server; url: string }> {
  const files: Record<string, { type: string; body: string }> = {
    '/': { type: 'text/html', body: '<!doctype html><html><head><meta charset="utf-8"><script src="/jssip.js"></script><script src="/webrtc.js"></script></head><body></body></html>' },
    '/webrtc.js': { type: 'text/javascript', body: readFileSync(join(PAGE_DIR, 'webrtc.js'), 'utf8') },
    '/jssip.js': { type: 'text/javascript', body: await jssipBundle() },
  };
  const server = createServer((req, res) => {
    const f = files[req.url ?? ''];
    if (f === undefined) {
      res.writeHead(req.url === '/favicon.ico' ? 204 : 404).end();
      return;
    }
    res.writeHead(200, { 'content-type': f.type }).end(f.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('page server has no port');
  return { server, url: `http://127.0.0.1:${a.port}/` };
}

export interface BrowserPeer {
  page: Page;
  /** What the page logged (console and page errors), for failure messages. */
  log: string[];
  close(): Promise<void>;
}

/** Starts Chromium with the fake microphone playing `wav`, on the test page. */
export async function startBrowser(o: { wav: string }): Promise<BrowserPeer> {
  const profile = mkdtempSync(join(tmpdir(), 'tandem-chromium-'));
  const { server, url } = await servePage();
  let ctx: BrowserContext | undefined;
  try {
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_BIN,
      headless: true,
      timeout: 30_000,
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
        `--use-file-for-fake-audio-capture=${o.wav}`, '--allow-loopback-in-peer-connection',
        '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required',
        // The WSS listener's certificate is self-signed.
        '--ignore-certificate-errors',
      ],
    });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const log: string[] = [];
    page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
    await page.goto(url);
    const c = ctx;
    return {
      page,
      log,
      async close() {
        await c.close().catch(() => undefined);
        server.close();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await ctx?.close().catch(() => undefined);
    server.close();
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
}

export interface Listened {
  peakHz: number;
  peakDb: number;
  at: Record<string, number>;
  frames: number;
}

export interface RtcState {
  ice: string;
  connection: string;
  inbound: number;
  outbound: number;
  codec: string;
}
