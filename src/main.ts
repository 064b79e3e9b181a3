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
import { isTrustedSource, loadRoutesFile, singleTargetTable, type RouteTable } from './b2bua/routes.js';
import { resolveLegInterfaces } from './b2bua/policy.js';
import { AccessControl } from './edge/acl.js';
import { addressList } from './common/cidr.js';
import { SourceLimits } from './edge/acl-sources.js';
import { Pike } from './edge/pike.js';
import { LagSampler, OverloadControl, type OverloadInputs } from './edge/overload.js';
import type { AdmitHook } from './sip/transport/admit.js';
import { exposedListeners } from './b2bua/exposure.js';
import { Authenticator } from './edge/auth.js';
import { UserStore, loadUsersFile } from './edge/auth-users.js';
import { registerAuthorizer } from './edge/auth-gate.js';
import { Registrar } from './edge/registrar.js';
import { OutboundRegistrar } from './b2bua/outbound-registration.js';
import { primaryInterface } from './config/interface-options.js';
import { readPem } from './config/values.js';
import { mediaRecordingOptions } from './config/recording-options.js';
import { advertisedEndpoints, advertisingSender } from './sip/transport/advertise.js';
import { Ops } from './ops/start.js';
import { reloadFailure, type ReloadResult } from './ops/admin-api.js';

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

export interface Edge {
  acl: AccessControl;
  sourceLimits: SourceLimits;
  /** undefined with --pike=off. */
  pike?: Pike;
  overload: OverloadControl;
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

/** Access lists, flood defence and overload control (edge/), and the transport's admit hook over them. */
function startEdge(config: TandemConfig, routes: RouteTable, inputs: OverloadInputs, log: Logger): { edge: Edge; admit: AdmitHook } {
  const exempt = addressList(config.floodExempt);
  const isTrusted = (address: string): boolean => exempt.has(address) || isTrustedSource(routes, address);
  const acl = new AccessControl({ allow: config.sipAllow, deny: config.sipDeny, listeners: config.listenSip });
  const sourceLimits = new SourceLimits({ maxCallsPerSource: config.maxCallsPerSource, maxRegistrationsPerSource: config.maxRegistrationsPerSource, isTrusted });
  const pike =
    config.pike === undefined
      ? undefined
      : new Pike({ limit: config.pike.limit, windowMs: config.pike.windowMs, banMs: config.pikeBan * 1000, maxBanMs: config.pikeBanMax * 1000, maxSources: config.pikeSources, isTrusted, clock: systemClock, log: log.child({ component: 'pike' }) });
  const overload = new OverloadControl(
    { maxLagMs: config.overloadLag, maxServerTransactions: config.overloadTransactions, minFreePorts: config.overloadMinPorts, retryAfterMin: config.overloadRetryAfter.min, retryAfterMax: config.overloadRetryAfter.max },
    inputs,
    log.child({ component: 'overload' }),
  );
  // Responses, ACKs and keepalives weigh nothing: a banned source is still dropped, but a trunk's replies do not count.
  const admit: AdmitHook = (source, local, kind) => acl.admit(source.address, local) && (pike === undefined || pike.check(source.address, kind === 'other' ? 0 : 1));
  return { edge: { acl, sourceLimits, overload, ...(pike !== undefined ? { pike } : {}) }, admit };
}

function routeTable(config: TandemConfig): RouteTable {
  let table: RouteTable;
  if (config.routesFile !== undefined) table = loadRoutesFile(config.routesFile);
  else if (config.route !== undefined) {
    table = singleTargetTable(config.route, {
      ...(config.bCodecs !== undefined ? { codecs: config.bCodecs } : {}),
      ...(config.bPtime !== undefined ? { ptime: config.bPtime } : {}),
      ...(config.bSrtp !== undefined ? { srtp: config.bSrtp } : {}),
      ...(config.bIce !== undefined ? { ice: config.bIce } : {}),
      transcode: config.bTranscode,
    });
  } else table = { routes: [], trustedProxySources: [], trusted: [] };
  // Our own media plane knows the interface names; a remote one (--media=ng) judges them itself.
  if (config.media.kind === 'local') {
    const names = (config.interfaces ?? [primaryInterface(config)]).map((i) => i.name);
    for (const r of table.routes) resolveLegInterfaces(r.policy, names, `${config.routesFile ?? '--route'}: route ${r.name}`);
  }
  return { ...table, trustedProxySources: [...table.trustedProxySources, ...config.trustedProxies], trusted: [...table.trusted, ...config.trusted] };
}

/**
 * The digest authenticator of `--auth-users`, or undefined. A route that names a user or asks for
 * authentication cannot be honoured without one: that is a configuration error, not an open door.
 */
function authenticator(config: TandemConfig, routes: RouteTable, log: Logger, onFailure: (source: string) => void): Authenticator | undefined {
  if (config.authUsers === undefined) {
    const needy = routes.routes.find((r) => r.auth === 'required' || r.match.user !== undefined);
    if (needy !== undefined) throw new TandemError('CONFIG', `route ${needy.name}: "auth": "required" or match.user needs --auth-users`);
    return undefined;
  }
  const entries = loadUsersFile(config.authUsers);
  const first = config.listenSip[0]?.address;
  const realm = config.realm ?? (first === undefined || /^(0\.0\.0\.0|::)$/.test(first) ? 'tandem' : first);
  const users = entries.filter((e) => e.realm === realm);
  if (users.length === 0) log.warn({ file: config.authUsers, realm, realmsInFile: [...new Set(entries.map((e) => e.realm))].slice(0, 10) }, 'no user in the users file belongs to this realm (see --realm): nobody can authenticate');
  log.info({ realm, users: new Set(users.map((e) => e.user)).size, algorithms: config.authAlgorithms }, 'digest authentication on');
  return new Authenticator({ users: new UserStore(users), realm, clock: systemClock, log: log.child({ component: 'auth' }), algorithms: config.authAlgorithms, onFailure });
}

const AUTH_FAILURE_WEIGHT = 5; // requests one failed authentication counts as in the flood defence

/** SIP side: transports → transaction layer → B2BUA, which drives `media`. */
async function startSip(config: TandemConfig, media: MediaControl, localPorts: (() => number) | undefined, log: Logger, ops: Ops, state?: SharedState): Promise<RunningSip & { stopEdge(): void }> {
  const routes = routeTable(config);
  // Each second: overload is re-read (so its end is logged without traffic) and ended bans are logged.
  const lag = new LagSampler(1000, () => {
    edge.overload.evaluate();
    edge.pike?.sweep();
  });
  let transactions: TransactionLayer | undefined;
  const { edge, admit } = startEdge(
    config,
    routes,
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
  const registrar = (config.registrar ?? auth !== undefined) ? newRegistrar(config, routes, auth, edge.sourceLimits, log, state) : undefined;
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
  // SIGHUP and `tandem ctl reload`: the routes file again; a bad one is refused and the old routes stay.
  const reload = config.routesFile === undefined ? undefined : (): ReloadResult => {
    try {
      const table = routeTable(config);
      if (config.authUsers === undefined) authenticator(config, table, log, () => undefined);
      b2bua.setRoutes(table);
      log.info({ file: config.routesFile, routes: table.routes.map((r) => r.name) }, 'routes reloaded');
      return { ok: true, routes: table.routes.map((r) => r.name) };
    } catch (err) {
      log.error({ err, file: config.routesFile }, 'routes reload refused; the old routes stay');
      return reloadFailure(err);
    }
  };
  ops.attachSip({ b2bua, transportStats: () => transport.stats(), transactionStats: () => layer.counters, sipMedia: media, ...(auth !== undefined ? { auth } : {}), ...(edge.pike !== undefined ? { pike: edge.pike } : {}), ...(reload !== undefined ? { reload } : {}) });
  return { b2bua, transport, transactions, listeners, media, edge, stopEdge, ...(auth !== undefined ? { auth } : {}), ...(registrar !== undefined ? { registrar } : {}), ...(outReg !== undefined ? { outboundRegistrar: outReg } : {}) };
}

/** The registrar: Path and (without authentication) REGISTER itself only from --trusted/--trusted-proxy sources. */
function newRegistrar(config: TandemConfig, routes: RouteTable, auth: Authenticator | undefined, sourceLimits: SourceLimits, log: Logger, state?: SharedState): Registrar {
  const trusted = addressList([...routes.trusted, ...routes.trustedProxySources]);
  return new Registrar({
    clock: systemClock,
    log: log.child({ component: 'registrar' }),
    isTrusted: (address) => trusted.has(address),
    ...(auth !== undefined ? { authorizer: registerAuthorizer(auth) } : {}),
    // --max-registrations-per-source: one slot per binding, given back when the binding goes.
    sourceLimits,
    ...(state !== undefined ? { store: state.locationStore(systemClock) } : {}),
    limits: {
      minExpires: config.registrarMinExpires,
      maxExpires: config.registrarMaxExpires,
      defaultExpires: config.registrarDefaultExpires,
      expiryJitter: config.registrarExpiryJitter / 100,
      maxBindingsPerAor: config.registrarMaxBindingsPerAor,
      maxBindings: config.registrarMaxBindings,
    },
  });
}

/** Composition root: config → media plane → ng listener → SIP B2BUA. */
export async function startTandem(config: TandemConfig, log: Logger = createLogger({ level: config.logLevel })): Promise<RunningTandem> {
  // Routes and certificates are read before anything binds, so a bad file fails fast and clean.
  if (config.listenSip.length > 0) {
    const routes = routeTable(config);
    if (config.authUsers !== undefined) loadUsersFile(config.authUsers);
    else authenticator(config, routes, log, () => undefined);
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
