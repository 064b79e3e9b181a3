// A scripted DNS server on loopback (UDP): answers what a test tells it to, including what no real
// server would send (CNAME loops, garbage, wrong IDs), so Tandem's resolver meets hostile answers
// through node:dns (c-ares) as it would on the network. Only the few record types RFC 3263 uses.
import dgram from 'node:dgram';

export const TYPE = { A: 1, CNAME: 5, AAAA: 28, SRV: 33, NAPTR: 35 } as const;

export interface DnsQuery {
  id: number;
  name: string;
  type: number;
  /** the question section as it came, for echoing back. */
  question: Buffer;
}

export type DnsRecord =
  | { name: string; type: 'CNAME'; target: string }
  | { name: string; type: 'A'; address: string }
  | { name: string; type: 'SRV'; priority: number; weight: number; port: number; target: string };

export interface ScriptedDns {
  port: number;
  queries: DnsQuery[];
  close(): void;
}

/** `answer` returns the whole reply datagram, or undefined to stay silent. */
export async function startScriptedDns(answer: (q: DnsQuery) => Buffer | undefined): Promise<ScriptedDns> {
  const sock = dgram.createSocket('udp4');
  const queries: DnsQuery[] = [];
  sock.on('message', (msg, rinfo) => {
    const q = parseQuery(msg);
    if (q === undefined) return;
    queries.push(q);
    const reply = answer(q);
    if (reply !== undefined) sock.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { port: sock.address().port, queries, close: () => sock.close() };
}

function parseQuery(msg: Buffer): DnsQuery | undefined {
  if (msg.length < 17) return undefined;
  const labels: string[] = [];
  let i = 12;
  while (i < msg.length && msg[i] !== 0) {
    const len = msg[i];
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
  if (i + 5 > msg.length) return undefined;
  return { id: msg.readUInt16BE(0), name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(i + 1), question: msg.subarray(12, i + 5) };
}

function encodeName(name: string): Buffer {
  const parts = name.split('.').filter((p) => p !== '');
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'latin1')])), Buffer.from([0])]);
}

function rr(r: DnsRecord): Buffer {
  let type: number;
  let rdata: Buffer;
  if (r.type === 'CNAME') [type, rdata] = [TYPE.CNAME, encodeName(r.target)];
  else if (r.type === 'A') [type, rdata] = [TYPE.A, Buffer.from(r.address.split('.').map(Number))];
  else {
    const head = Buffer.alloc(6);
    head.writeUInt16BE(r.priority, 0);
    head.writeUInt16BE(r.weight, 2);
    head.writeUInt16BE(r.port, 4);
    [type, rdata] = [TYPE.SRV, Buffer.concat([head, encodeName(r.target)])];
  }
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(1, 2); // IN
  fixed.writeUInt32BE(60, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([encodeName(r.name), fixed, rdata]);
}

/** A reply to `q`: authoritative, with `records` as the answer section and `rcode` (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN). */
export function reply(q: DnsQuery, records: DnsRecord[], rcode = 0): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(q.id, 0);
  head.writeUInt16BE(0x8400 | rcode, 2); // QR, AA
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(records.length, 6);
  return Buffer.concat([head, q.question, ...records.map(rr)]);
}
