import { readFileSync } from 'node:fs';
import { createLogger, type Logger } from './common/log.js';
import { systemClock } from './common/clock.js';
import { TandemError } from './common/errors.js';
import { mediaPlaneName, type TandemConfig } from './config/config.js';
import type { MediaControl } from './media/api.js';
import { LocalMedia } from './media/session/local-media.js';
import { NgServer } from './control/ng-server.js';
import { NgMediaClient } from './control/ng-media-client.js';
import { MediaNodeSet, startMediaNodeSet } from './control/media-nodes.js';
import { SharedState } from './state/state-wiring.js';
import { SipTransportLayer } from './sip/transport/transport-layer.js';
import { TransactionLayer } from './sip/transaction/layer.js';
import type { InboundMessage, SipEndpoint, SipSender } from './sip/transport/types.js';
import { B2bua } from './b2bua/b2bua.js';
import { SipResolver } from './sip/dns.js';
import { isTrustedSource } from './b2bua/routes.js';
import { addressList } from './common/cidr.js';
import { LagSampler } from './edge/overload.js';
import { exposedListeners } from './b2bua/exposure.js';
import type { Authenticator } from './edge/auth.js';
import { loadUsersFile } from './edge/auth-users.js';
import type { Registrar } from './edge/registrar.js';
import { OutboundRegistrar } from './b2bua/outbound-registration.js';
import { primaryInterface } from './config/interface-options.js';
import { newRegistrar, startEdge, type Edge } from './main/edge-wiring.js';
import { aclLists, authenticator, routeTable } from './main/sip-files.js';
import { reloadParts } from './main/reload-parts.js';
import { readPem } from './config/values.js';
import { mediaRecordingOptions } from './config/recording-options.js';
import { advertisedEndpoints, advertisingSender } from './sip/transport/advertise.js';
import { Ops } from './ops/start.js';
import { Reloader } from './ops/reload.js';

export type { Edge } from './main/edge-wiring.js';

export interface RunningSip {
  b2bua: B2bua;
  transport: SipTransportLayer;
  transactions: TransactionLayer;
  listeners: SipEndpoint[];
  /** the media plane the B2BUA drives (the local one, or an ng client). */
  media: MediaControl;
  /** digest authentication, when `--auth-users` is set (its `stats()` count failures per source and user). */
  auth?: Authenticator;
  /** present with --registrar=on. */
  registrar?: Registrar;
  /** present when the routes file has `registrations` (Tandem registering at providers). */
  outboundRegistrar?: OutboundRegistrar;
  /** the request path's guard: access lists, per-source limits, flood bans (list/lift), overload. */
  edge: Edge;
}

export interface RunningTandem {
  media: LocalMedia;
  ng: NgServer;
  ngAddress: { address: string; port: number };
  /** present with --listen-tcp-ng. */
  ngTcpAddress?: { address: string; port: number };
  /** present when SIP listeners are configured. */
  sip?: RunningSip;
  log: Logger;
  /** operations: metrics, the admin HTTP listener (`ops.address`), the drain, call records. */
  ops: Ops;
  close(): Promise<void>;
}

const AUTH_FAILURE_WEIGHT = 5; // requests one failed authentication counts as in the flood defence

/** SIP side: transports → transaction layer → B2BUA, which drives `media`. */
async function startSip(config: TandemConfig, media: MediaControl, localPorts: (() => number) | undefined, log: Logger, ops: Ops, state?: SharedState): Promise<RunningSip & { stopEdge(): void }> {
  let routes = routeTable(config);
  // Trusted sources (--trusted, the routes file's) are exempt from the flood defence and the per-source limits, and may send Path; a reload changes them.
  let trusted = addressList([...routes.trusted, ...routes.trustedProxySources]);
  // Each second: overload is re-read (so its end is logged without traffic) and ended bans are logged.
  const lag = new LagSampler(1000, () => {
    edge.overload.evaluate();
    edge.pike?.sweep();
  });
  let transactions: TransactionLayer | undefined;
  const { edge, admit } = startEdge(
    config,
    (address) => isTrustedSource(routes, address),
    { lagMs: () => lag.lagMs(), serverTransactions: () => transactions?.counters.serverTransactions ?? 0, freePorts: () => localPorts?.() },
    log,
  );
  const cert = readPem('tls-cert', config.tlsCert);
  const key = readPem('tls-key', config.tlsKey);
  const ca = readPem('tls-ca', config.tlsCa);
  const noVerify = routes.routes.flatMap((r) => r.targets.filter((t) => t.tlsVerify === false).map((t) => ({ route: r.name, uri: t.uri, endpoint: t.endpoint })));
  // An unverified TLS peer can be impersonated: say so at every start, not only in the routes file.
  for (const t of noVerify) log.warn({ route: t.route, target: t.uri }, 'TLS certificate of this target is not verified (tlsVerify: false)');
  let deliver: ((inbound: InboundMessage) => void) | undefined;
  // A wrong password weighs as much as several requests in the flood defence, so a password guesser
  // (svcrack) is banned after a handful of tries while a phone that mistypes once is not.
  const auth = authenticator(config, routes, log, (source) => edge.pike?.penalize(source, AUTH_FAILURE_WEIGHT));
  // With authentication on, the registrar is too unless --registrar=off says otherwise.
  const registrar = (config.registrar ?? auth !== undefined) ? newRegistrar(config, () => trusted, auth, edge.sourceLimits, log, state) : undefined;
  const transport = await SipTransportLayer.start({
    listen: config.listenSip,
    ...(cert !== undefined && key !== undefined ? { tls: { cert, key } } : {}),
    tlsClient: { ...(ca !== undefined ? { ca } : {}), noVerify: noVerify.map((t) => t.endpoint) },
    limits: {
      maxConnections: config.sipMaxConnections,
      maxConnectionsPerSource: config.sipMaxConnectionsPerSource,
      idleMs: config.sipIdleTimeout,
      messageMs: config.sipMessageTimeout,
      tlsHandshakeMs: config.tlsHandshakeTimeout,
      wsPingMs: config.wsPingInterval,
    },
    log: log.child({ component: 'sip' }),
    onMessage: (inbound) => {
      ops.sipMessage('in', inbound.message);
      deliver?.(inbound);
    },
    // A binding made over a connection cannot be reached once it closes (RFC 5626 flows).
    ...(registrar !== undefined ? { onConnectionClosed: (remote: SipEndpoint) => void registrar.flowClosed(remote).catch((err: unknown) => log.warn({ err }, 'registrar: dropping bindings of a closed connection failed')) } : {}),
    admit,
  });
  const listeners = transport.listeners();
  // What Tandem sends, counted for /metrics (retransmissions included: they are on the wire too).
  const sender: SipSender = { send: (m, d, watcher) => (ops.sipMessage('out', m), transport.send(m, d, watcher)), localEndpoint: (p) => transport.localEndpoint(p) };
  // Named targets and X-Outbound-Proxy are resolved per call (RFC 3263), so TTLs and failover hold.
  const dns = new SipResolver({ ...(config.dnsServers !== undefined ? { servers: config.dnsServers } : {}), maxCacheEntries: config.dnsCacheSize, maxEndpoints: config.dnsMaxEndpoints });
  const b2bua = new B2bua({
    ...(auth !== undefined ? { auth } : {}),
    // Behind a 1:1 NAT, Via/Contact name the listener's advertised host; a request naming it is ours too.
    sender: advertisingSender(sender, config.listenSip),
    media,
    routes,
    ownEndpoints: [...listeners, ...advertisedEndpoints(listeners, config.listenSip)],
    copyHeaders: config.copyHeaders,
    uaDeny: config.uaDeny,
    clock: systemClock,
    log: log.child({ component: 'b2bua' }),
    ...(config.serverHeader !== undefined ? { userAgent: config.serverHeader } : {}),
    ...(registrar !== undefined ? { registrar } : {}),
    // A drain refuses new calls first, whatever the load (ops/drain.ts).
    overload: { refuse: () => ops.drainRefusal() ?? edge.overload.refuse() },
    onCallEnded: (call, reason) => ops.callEnded(call, reason),
    sourceLimits: edge.sourceLimits,
    dns,
    ...(state !== undefined ? { persist: state.dialogs() } : {}),
  });
  transactions = new TransactionLayer({
    sender,
    clock: systemClock,
    timers: { t1: config.sipT1, t2: config.sipT2, t4: config.sipT4 },
    inviteDeadlineMs: config.sipTimerC,
    log: log.child({ component: 'sip-transaction' }),
    user: b2bua,
  });
  b2bua.attach(transactions);
  await state?.takeOver('dialog', (stored, dropped) => b2bua.restore(stored, dropped));
  const layer = transactions;
  const outReg = routes.registrations === undefined ? undefined : new OutboundRegistrar({ registrations: routes.registrations, transactions, sender: advertisingSender(sender, config.listenSip), resolver: dns, clock: systemClock, log: log.child({ component: 'outbound-registration' }), ...(config.serverHeader !== undefined ? { userAgent: config.serverHeader } : {}) });
  deliver = (inbound) => {
    if (b2bua.screen(inbound)) layer.receive(inbound);
  };
  const limits = transport.stats();
  log.info({ listeners: listeners.map((l) => `${l.protocol}:${l.address}:${l.port}`), routes: routes.routes.map((r) => r.name), maxConnections: limits.maxConnections, maxConnectionsPerSource: config.sipMaxConnectionsPerSource }, 'SIP ready');
  const exposed = exposedListeners(listeners);
  if (exposed.length > 0 && auth === undefined) {
    // Without --auth-users, whoever reaches such a listener can place calls on every route.
    log.warn(
      { listeners: exposed, routes: routes.routes.map((r) => r.name) },
      'SIP listens beyond loopback without authentication: any caller that reaches it can use every route (trusted networks only; restrict with match.source or a firewall)',
    );
  }
  // The ban list on demand (kill -USR2): what an admin tool will read from edge.pike.bans().
  const onUsr2 = (): void => log.info({ bans: edge.pike?.bans() ?? [], pike: edge.pike?.counters, acl: edge.acl.counters, overload: { active: edge.overload.active, ...edge.overload.counters }, dns: { ...dns.counters, cached: dns.cacheSize }, ...(outReg !== undefined ? { outboundRegistration: outReg.stats() } : {}), ...(media instanceof MediaNodeSet ? { mediaNodes: media.nodes(), mediaNodeCounters: media.counters } : {}), ...(state !== undefined ? { redis: state.counters } : {}) }, 'edge state (SIGUSR2)');
  process.on('SIGUSR2', onUsr2);
  log.info({ sipAllow: config.sipAllow, sipDeny: config.sipDeny, pike: config.pike ?? 'off', maxCallsPerSource: config.maxCallsPerSource }, 'edge ready');
  const stopEdge = (): void => {
    lag.close();
    process.off('SIGUSR2', onUsr2);
  };
  outReg?.start();
  // SIGHUP and `tandem ctl reload`: the files again, all or nothing (ops/reload.ts); calls in progress keep what they started with.
  const parts = reloadParts({
    config,
    log,
    setRoutes: (table) => {
      routes = table;
      trusted = addressList([...table.trusted, ...table.trustedProxySources]);
      b2bua.setRoutes(table);
    },
    ...(auth !== undefined ? { auth } : {}),
    acl: edge.acl,
  });
  const reloader = parts.length === 0 ? undefined : new Reloader(parts, log.child({ component: 'reload' }));
  ops.attachSip({ b2bua, transportStats: () => transport.stats(), transactionStats: () => layer.counters, sipMedia: media, ...(auth !== undefined ? { auth } : {}), ...(edge.pike !== undefined ? { pike: edge.pike } : {}), ...(reloader !== undefined ? { reloader } : {}) });
  return { b2bua, transport, transactions, listeners, media, edge, stopEdge, ...(auth !== undefined ? { auth } : {}), ...(registrar !== undefined ? { registrar } : {}), ...(outReg !== undefined ? { outboundRegistrar: outReg } : {}) };
}

/** Composition root: config → media plane → ng listener → SIP B2BUA. */
export async function startTandem(config: TandemConfig, log: Logger = createLogger({ level: config.logLevel })): Promise<RunningTandem> {
  // Routes and certificates are read before anything binds, so a bad file fails fast and clean.
  if (config.listenSip.length > 0) {
    const routes = routeTable(config);
    if (config.authUsers !== undefined) loadUsersFile(config.authUsers);
    else authenticator(config, routes, log, () => undefined);
    aclLists(config);
    readPem('tls-cert', config.tlsCert);
    readPem('tls-key', config.tlsKey);
    readPem('tls-ca', config.tlsCa);
  }
  const mediaIf = primaryInterface(config);
  const state = config.redis === undefined ? undefined : await SharedState.connect(config.redis, mediaIf.address, log);
  // The media plane's hook is made before operations, which read the media plane.
  let ops: Ops;
  const media = new LocalMedia({
    ...(state !== undefined ? state.mediaOptions() : {}),
    interface: mediaIf.address,
    ...(mediaIf.advertise !== undefined ? { advertise: mediaIf.advertise } : {}),
    ...(config.interfaces !== undefined ? { interfaces: config.interfaces } : {}),
    portMin: config.portMin,
    portMax: config.portMax,
    workers: config.numThreads,
    maxSessions: config.maxSessions,
    maxTranscodes: config.maxTranscodes,
    onCallClosed: (stats, reason) => ops.mediaClosed(stats, reason),
    maxMediaPerCall: config.maxMediaPerCall,
    mediaTimeoutMs: config.timeout * 1000,
    io: config.io ?? 'batch',
    ioRequired: config.io === 'batch',
    logLevel: config.logLevel,
    log,
    ...mediaRecordingOptions(config),
  });
  ops = new Ops({ version: packageVersion(), ...(config.listenHttp !== undefined ? { listenHttp: config.listenHttp } : {}), drainTimeoutS: config.drainTimeout, ...(config.cdr !== undefined ? { cdr: config.cdr } : {}), ...(config.cdrUrl !== undefined ? { cdrUrl: config.cdrUrl } : {}), ...(state !== undefined ? { redis: state.counters } : {}), media, log });
  await media.ready();
  await state?.takeOver('media', (stored, dropped) => media.restore(stored, dropped));
  const ng = new NgServer({
    address: config.listenNg.address,
    port: config.listenNg.port,
    ...(config.ngAllow !== undefined ? { allow: config.ngAllow } : {}),
    ...(config.listenTcpNg !== undefined
      ? { tcp: { ...config.listenTcpNg, limits: { maxConnections: config.ngTcpMaxConnections, maxMessageBytes: config.ngTcpMaxMessage, idleMs: config.ngTcpIdleTimeout, messageMs: config.ngTcpMessageTimeout } } }
      : {}),
    context: { media },
    log,
    onCommand: (command, result) => ops.ngCommand(command, result),
  });
  ops.attachNg(ng);
  let ngAddress: { address: string; port: number };
  let sip: (RunningSip & { stopEdge(): void }) | undefined;
  let remote: MediaControl | undefined;
  try {
    ngAddress = await ng.listen();
    if (config.listenSip.length > 0) {
      if (config.media.kind === 'ng') remote = new NgMediaClient({ host: config.media.address, port: config.media.port });
      else if (config.media.kind === 'set') remote = startMediaNodeSet(config.media.nodes, media, { retryMs: config.mediaNodeRetry * 1000, log: log.child({ component: 'media-nodes' }) });
      sip = await startSip(config, remote ?? media, remote === undefined ? () => media.freePorts : undefined, log, ops, state);
    }
    await ops.listen();
  } catch (err) {
    sip?.stopEdge();
    await sip?.transport.close().catch(() => undefined);
    await ops.close().catch(() => undefined);
    await ng.close().catch(() => undefined);
    await remote?.close();
    await media.close();
    await state?.close();
    throw err;
  }
  log.info(
    { interfaces: (config.interfaces ?? [mediaIf]).map((i) => `${i.name}/${i.address}${i.advertise !== undefined ? `!${i.advertise}` : ''}`), ports: `${config.portMin}-${config.portMax}`, workers: config.numThreads, io: media.pool.ioBackends()[0], sipMedia: mediaPlaneName(config.media) },
    'tandem ready',
  );
  return {
    media,
    ng,
    ngAddress,
    ...(ng.tcpAddress !== undefined ? { ngTcpAddress: ng.tcpAddress } : {}),
    ...(sip !== undefined ? { sip } : {}),
    log,
    ops,
    async close() {
      await ops.closeListener();
      if (sip !== undefined) {
        sip.stopEdge();
        // Our bindings go first (expires=0), while the transaction layer can still carry them.
        await sip.outboundRegistrar?.close();
        sip.b2bua.close();
        // The BYEs just sent are retransmitted and answered before the transport goes (RFC 3261 §17.1.2).
        await sip.transactions.settle(config.shutdownGrace * 1000);
        sip.registrar?.close();
        sip.transactions.close();
        await sip.transport.close();
      }
      await remote?.close();
      await ng.close();
      await media.close();
      await ops.close();
      await state?.close();
    },
  };
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
