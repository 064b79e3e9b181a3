/*
 * udp_batch: the media workers' batched UDP layer (issue 14).
 *
 * One instance per JS environment (each worker thread loads its own), kept as Node-API instance
 * data: no globals, so worker threads never share state. An instance owns one epoll set holding
 * every media socket it opened, watched by a single uv_poll on the epoll fd. On readiness every
 * ready socket is drained with recvmmsg into a ring of fixed slots that JavaScript sees as one
 * ArrayBuffer, and JavaScript is called once per filled ring. Sends made during that call (and
 * any made since) are copied into an outgoing queue and leave with sendmmsg, grouped per socket,
 * before control returns to the loop. Nothing on the flush path throws into JavaScript: faults
 * are counted (stats()).
 *
 * Slot layout (little-endian host order, read by src/media/worker/batch-io.ts):
 *   0 u32 socket id   4 u32 length   8 u16 source port   10 u8 family (4|6)   11 u8 flags (1 = truncated)
 *   12 4 bytes IPv4 source (network order)   16 u8 text length   17.. IPv6 source as text   64.. data
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define SLOT_HEADER 64
#define SLOT_DATA 2048
#define SLOT_SIZE (SLOT_HEADER + SLOT_DATA)
#define RING_SLOTS 256
#define OUT_SLOTS 256
#define EPOLL_BATCH 128
/* Ring fills per readiness callback: a flood cannot keep the loop from timers and control. */
#define MAX_FILLS 16
#define FLAG_TRUNCATED 1

typedef union {
  struct sockaddr sa;
  struct sockaddr_in v4;
  struct sockaddr_in6 v6;
} addr_t;

typedef struct {
  int fd; /* -1 when the id is free */
  int family;
  int next_free;
  int out_first; /* first queued send in this flush, -1 if none */
  int out_last;
} sock_t;

typedef struct {
  uint32_t id;
  uint32_t len;
  int has_to;
  socklen_t tolen;
  addr_t to;
  int next;
} out_t;

typedef struct {
  uint64_t received, truncated, recv_errors, drains, callbacks, callback_errors;
  uint64_t sent, send_errors, send_dropped, queue_full_flushes;
} counters_t;

typedef struct {
  napi_env env;
  int initialised;
  int epfd;
  uv_poll_t poll;
  napi_ref on_drain;
  napi_ref ring_ref;
  napi_async_context async_ctx;
  napi_async_cleanup_hook_handle cleanup;
  uint8_t *ring;
  struct mmsghdr in_msgs[RING_SLOTS];
  struct iovec in_iov[RING_SLOTS];
  addr_t in_addr[RING_SLOTS];
  uint8_t *out_data;
  out_t out[OUT_SLOTS];
  int out_count;
  struct mmsghdr out_msgs[OUT_SLOTS];
  struct iovec out_iov[OUT_SLOTS];
  int touched[OUT_SLOTS];
  sock_t *socks;
  int cap;
  int free_head;
  int open;
  int in_drain;
  counters_t c;
} inst_t;

static inst_t *instance(napi_env env) {
  void *p = NULL;
  napi_get_instance_data(env, &p);
  return (inst_t *)p;
}

static napi_value throw_errno(napi_env env, int err, const char *what) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s %s (%s)", what, uv_err_name(-err), strerror(err));
  napi_value code, text, e;
  napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &e);
  napi_throw(env, e);
  return NULL;
}

static napi_value throw_msg(napi_env env, const char *msg) {
  napi_throw_error(env, "ERR_UDP_BATCH", msg);
  return NULL;
}

static sock_t *sock_by_id(inst_t *in, uint32_t id) {
  if (id >= (uint32_t)in->cap || in->socks[id].fd < 0) return NULL;
  return &in->socks[id];
}

/* ---- sending ---------------------------------------------------------------------------- */

static void flush(inst_t *in) {
  if (in->out_count == 0) return;
  int ntouched = 0;
  for (int i = 0; i < in->out_count; i++) {
    out_t *o = &in->out[i];
    o->next = -1;
    sock_t *s = sock_by_id(in, o->id);
    if (s == NULL) { in->c.send_dropped++; continue; }
    if (s->out_first < 0) { s->out_first = i; in->touched[ntouched++] = (int)o->id; }
    else in->out[s->out_last].next = i;
    s->out_last = i;
  }
  for (int t = 0; t < ntouched; t++) {
    sock_t *s = &in->socks[in->touched[t]];
    int n = 0;
    for (int i = s->out_first; i >= 0; i = in->out[i].next, n++) {
      out_t *o = &in->out[i];
      in->out_iov[n].iov_base = in->out_data + (size_t)i * SLOT_DATA;
      in->out_iov[n].iov_len = o->len;
      struct msghdr *h = &in->out_msgs[n].msg_hdr;
      memset(h, 0, sizeof *h);
      h->msg_iov = &in->out_iov[n];
      h->msg_iovlen = 1;
      if (o->has_to) { h->msg_name = &o->to; h->msg_namelen = o->tolen; }
    }
    s->out_first = -1;
    s->out_last = -1;
    int done = 0;
    /* Bounded: every round sends at least one message or skips the one that failed. */
    while (done < n) {
      int r = sendmmsg(s->fd, &in->out_msgs[done], (unsigned)(n - done), MSG_DONTWAIT);
      if (r > 0) { done += r; in->c.sent += (uint64_t)r; continue; }
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { in->c.send_errors += (uint64_t)(n - done); break; }
      in->c.send_errors++; /* e.g. ECONNREFUSED from an earlier ICMP, EINVAL for a bad address */
      done++;
    }
  }
  in->out_count = 0;
}

/* ---- receiving -------------------------------------------------------------------------- */

static void deliver(inst_t *in, uint32_t count) {
  napi_env env = in->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, argv[1], result;
  napi_get_reference_value(env, in->on_drain, &fn);
  napi_get_global(env, &recv); /* make_callback wants an object as receiver */
  napi_create_uint32(env, count, &argv[0]);
  in->in_drain = 1;
  in->c.callbacks++;
  napi_status st = napi_make_callback(env, in->async_ctx, recv, fn, 1, argv, &result);
  in->in_drain = 0;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (st != napi_ok || pending) {
    /* The JS side guards every packet; whatever still escapes is counted, never rethrown here. */
    napi_value e;
    if (pending) napi_get_and_clear_last_exception(env, &e);
    in->c.callback_errors++;
  }
  napi_close_handle_scope(env, scope);
  flush(in);
}

/* The receive headers point at their slots once and for all; only what recvmmsg writes is reset after use. */
static void init_receive_headers(inst_t *in) {
  for (int i = 0; i < RING_SLOTS; i++) {
    in->in_iov[i].iov_base = in->ring + (size_t)i * SLOT_SIZE + SLOT_HEADER;
    in->in_iov[i].iov_len = SLOT_DATA;
    struct msghdr *m = &in->in_msgs[i].msg_hdr;
    memset(m, 0, sizeof *m);
    m->msg_name = &in->in_addr[i];
    m->msg_namelen = sizeof(addr_t);
    m->msg_iov = &in->in_iov[i];
    m->msg_iovlen = 1;
  }
}

static void write_header(inst_t *in, int slot, uint32_t id) {
  uint8_t *h = in->ring + (size_t)slot * SLOT_SIZE;
  struct msghdr *m = &in->in_msgs[slot].msg_hdr;
  uint32_t len = in->in_msgs[slot].msg_len;
  uint8_t flags = 0;
  if ((m->msg_flags & MSG_TRUNC) != 0 || len > SLOT_DATA) { flags |= FLAG_TRUNCATED; in->c.truncated++; len = 0; }
  else in->c.received++;
  memcpy(h, &id, 4);
  memcpy(h + 4, &len, 4);
  addr_t *a = &in->in_addr[slot];
  uint16_t port = 0;
  if (a->sa.sa_family == AF_INET6) {
    port = ntohs(a->v6.sin6_port);
    h[10] = 6;
    const char *t = inet_ntop(AF_INET6, &a->v6.sin6_addr, (char *)h + 17, SLOT_HEADER - 17);
    h[16] = t == NULL ? 0 : (uint8_t)strlen(t);
  } else {
    port = ntohs(a->v4.sin_port);
    h[10] = 4;
    memcpy(h + 12, &a->v4.sin_addr, 4);
    h[16] = 0;
  }
  memcpy(h + 8, &port, 2);
  h[11] = flags;
  m->msg_namelen = sizeof(addr_t);
}

static void on_ready(uv_poll_t *handle, int status, int events) {
  (void)events;
  inst_t *in = (inst_t *)handle->data;
  if (status < 0) return;
  in->c.drains++;
  struct epoll_event evs[EPOLL_BATCH];
  int count = 0;
  int fills = 0;
  for (;;) {
    int n = epoll_wait(in->epfd, evs, EPOLL_BATCH, 0);
    if (n <= 0) break;
    for (int e = 0; e < n; e++) {
      uint32_t id = evs[e].data.u32;
      sock_t *s = sock_by_id(in, id);
      if (s == NULL) continue;
      for (;;) {
        int want = RING_SLOTS - count;
        int r = recvmmsg(s->fd, &in->in_msgs[count], (unsigned)want, MSG_DONTWAIT, NULL);
        if (r < 0) {
          if (errno == EINTR) continue;
          /* An ICMP error reported on the socket (ECONNREFUSED…) is read here, which clears it. */
          if (errno != EAGAIN && errno != EWOULDBLOCK) in->c.recv_errors++;
          break;
        }
        for (int i = count; i < count + r; i++) write_header(in, i, id);
        count += r;
        if (count == RING_SLOTS) {
          deliver(in, (uint32_t)count);
          count = 0;
          if (++fills >= MAX_FILLS) goto out; /* level-triggered: what is left wakes us again */
          s = sock_by_id(in, id); /* JS may have closed it */
          if (s == NULL) break;
          continue;
        }
        /* Fewer than asked: the socket is empty for now (no extra call just to see EAGAIN). */
        break;
      }
    }
    if (n < EPOLL_BATCH) break;
  }
out:
  if (count > 0) deliver(in, (uint32_t)count);
  flush(in);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static void close_all_sockets(inst_t *in) {
  for (int i = 0; i < in->cap; i++) {
    if (in->socks[i].fd >= 0) { close(in->socks[i].fd); in->socks[i].fd = -1; }
  }
  in->open = 0;
}

static void on_poll_closed(uv_handle_t *h) {
  inst_t *in = (inst_t *)h->data;
  napi_async_cleanup_hook_handle hook = in->cleanup;
  close(in->epfd);
  free(in->out_data);
  free(in->socks);
  free(in);
  napi_remove_async_cleanup_hook(hook);
}

/* The environment (a worker thread) is going away: the poll handle must be closed before its loop. */
static void on_env_cleanup(napi_async_cleanup_hook_handle hook, void *arg) {
  inst_t *in = (inst_t *)arg;
  in->cleanup = hook;
  flush(in);
  close_all_sockets(in);
  napi_delete_reference(in->env, in->on_drain);
  napi_delete_reference(in->env, in->ring_ref);
  napi_async_destroy(in->env, in->async_ctx);
  uv_poll_stop(&in->poll);
  uv_close((uv_handle_t *)&in->poll, on_poll_closed);
}

static void free_uninitialised(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  inst_t *in = (inst_t *)data;
  /* Once initialised, the async cleanup hook owns the instance (it frees it after the poll closes). */
  if (!in->initialised) free(in);
}

/* init(onDrain) → ArrayBuffer ring of RING_SLOTS slots of SLOT_SIZE bytes. */
static napi_value js_init(napi_env env, napi_callback_info info) {
  inst_t *in = instance(env);
  if (in->initialised) return throw_msg(env, "udp_batch: already initialised in this thread");
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) return throw_msg(env, "udp_batch.init(onDrain): onDrain must be a function");
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return throw_msg(env, "udp_batch: no event loop");
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return throw_errno(env, errno, "epoll_create1");
  napi_value ring;
  void *ring_data;
  if (napi_create_arraybuffer(env, (size_t)RING_SLOTS * SLOT_SIZE, &ring_data, &ring) != napi_ok) { close(epfd); return throw_msg(env, "udp_batch: no memory for the ring"); }
  in->out_data = malloc((size_t)OUT_SLOTS * SLOT_DATA);
  in->cap = 64;
  in->socks = malloc(sizeof(sock_t) * (size_t)in->cap);
  if (in->out_data == NULL || in->socks == NULL) { close(epfd); return throw_msg(env, "udp_batch: no memory"); }
  for (int i = 0; i < in->cap; i++) in->socks[i] = (sock_t){ .fd = -1, .next_free = i + 1 < in->cap ? i + 1 : -1, .out_first = -1, .out_last = -1 };
  in->free_head = 0;
  if (uv_poll_init(loop, &in->poll, epfd) != 0) { close(epfd); return throw_msg(env, "udp_batch: uv_poll_init failed"); }
  in->poll.data = in;
  in->epfd = epfd;
  in->ring = ring_data;
  init_receive_headers(in);
  napi_create_reference(env, ring, 1, &in->ring_ref);
  napi_create_reference(env, argv[0], 1, &in->on_drain);
  napi_value name;
  napi_create_string_utf8(env, "udp_batch", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &in->async_ctx);
  uv_poll_start(&in->poll, UV_READABLE, on_ready);
  /* Like dgram: open sockets keep the loop alive, the empty epoll set does not. */
  uv_unref((uv_handle_t *)&in->poll);
  in->initialised = 1;
  napi_add_async_cleanup_hook(env, on_env_cleanup, in, NULL);
  return ring;
}

static int get_u32(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok;
}

static int parse_addr(napi_env env, napi_value v, int family, uint32_t port, addr_t *a, socklen_t *len) {
  char text[64];
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, text, sizeof text, &n) != napi_ok || n >= sizeof text - 1 || port > 65535) return 0;
  memset(a, 0, sizeof *a);
  if (family == AF_INET) {
    a->v4.sin_family = AF_INET;
    a->v4.sin_port = htons((uint16_t)port);
    *len = sizeof a->v4;
    return inet_pton(AF_INET, text, &a->v4.sin_addr) == 1;
  }
  a->v6.sin6_family = AF_INET6;
  a->v6.sin6_port = htons((uint16_t)port);
  *len = sizeof a->v6;
  if (inet_pton(AF_INET6, text, &a->v6.sin6_addr) == 1) return 1;
  /* An IPv4 destination from an IPv6 socket goes as a v4-mapped address. */
  struct in_addr v4;
  if (inet_pton(AF_INET, text, &v4) != 1) return 0;
  a->v6.sin6_addr.s6_addr[10] = 0xff;
  a->v6.sin6_addr.s6_addr[11] = 0xff;
  memcpy(&a->v6.sin6_addr.s6_addr[12], &v4, 4);
  return 1;
}

/* bind(family 4|6, address, port) → socket id; throws an Error whose code is the errno name. */
static napi_value js_bind(napi_env env, napi_callback_info info) {
  inst_t *in = instance(env);
  if (!in->initialised) return throw_msg(env, "udp_batch: init() first");
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t fam, port;
  if (argc < 3 || !get_u32(env, argv[0], &fam) || (fam != 4 && fam != 6) || !get_u32(env, argv[2], &port) || port > 65535) return throw_msg(env, "udp_batch.bind(family 4|6, address, port)");
  int family = fam == 4 ? AF_INET : AF_INET6;
  addr_t a;
  socklen_t alen;
  if (!parse_addr(env, argv[1], family, port, &a, &alen)) return throw_msg(env, "udp_batch.bind: not an address of that family");
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  if (bind(fd, &a.sa, alen) != 0) { int e = errno; close(fd); return throw_errno(env, e, "bind"); }
  if (in->free_head < 0) {
    int old = in->cap;
    sock_t *grown = realloc(in->socks, sizeof(sock_t) * (size_t)old * 2);
    if (grown == NULL) { close(fd); return throw_errno(env, ENOMEM, "bind"); }
    in->socks = grown;
    in->cap = old * 2;
    for (int i = old; i < in->cap; i++) in->socks[i] = (sock_t){ .fd = -1, .next_free = i + 1 < in->cap ? i + 1 : -1, .out_first = -1, .out_last = -1 };
    in->free_head = old;
  }
  int id = in->free_head;
  struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)id };
  if (epoll_ctl(in->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) { int e = errno; close(fd); return throw_errno(env, e, "epoll_ctl"); }
  in->free_head = in->socks[id].next_free;
  in->socks[id] = (sock_t){ .fd = fd, .family = family, .next_free = -1, .out_first = -1, .out_last = -1 };
  if (in->open++ == 0) uv_ref((uv_handle_t *)&in->poll);
  napi_value r;
  napi_create_uint32(env, (uint32_t)id, &r);
  return r;
}

/* send(id, bytes, length[, port, address]) → whether it was queued; never throws. */
static napi_value js_send(napi_env env, napi_callback_info info) {
  inst_t *in = instance(env);
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_value result;
  uint32_t id, len, port;
  void *data;
  size_t blen;
  napi_typedarray_type tt;
  napi_value ab;
  size_t off;
  sock_t *s;
  int ok = argc >= 3 && in->initialised && get_u32(env, argv[0], &id) && (s = sock_by_id(in, id)) != NULL &&
           napi_get_typedarray_info(env, argv[1], &tt, &blen, &data, &ab, &off) == napi_ok && tt == napi_uint8_array &&
           get_u32(env, argv[2], &len) && len <= blen && len <= SLOT_DATA;
  if (ok) {
    if (in->out_count == OUT_SLOTS) { in->c.queue_full_flushes++; flush(in); }
    out_t *o = &in->out[in->out_count];
    o->id = id;
    o->len = len;
    o->has_to = 0;
    napi_valuetype pt = napi_undefined;
    if (argc >= 5) napi_typeof(env, argv[3], &pt);
    if (pt != napi_undefined) {
      ok = get_u32(env, argv[3], &port) && port > 0 && parse_addr(env, argv[4], s->family, port, &o->to, &o->tolen);
      o->has_to = 1;
    }
    if (ok) {
      memcpy(in->out_data + (size_t)in->out_count * SLOT_DATA, data, len);
      in->out_count++;
    }
  }
  if (!ok) in->c.send_dropped++;
  napi_get_boolean(env, ok, &result);
  return result;
}

static napi_value js_flush(napi_env env, napi_callback_info info) {
  (void)info;
  inst_t *in = instance(env);
  if (in->initialised) flush(in);
  return NULL;
}

/* connect(id, port, address) / connect(id) to disconnect: queued sends leave first. */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  inst_t *in = instance(env);
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t id, port;
  sock_t *s;
  napi_value r;
  int ok = argc >= 1 && get_u32(env, argv[0], &id) && (s = sock_by_id(in, id)) != NULL;
  if (ok) {
    flush(in);
    addr_t a;
    socklen_t alen;
    if (argc >= 3) {
      ok = get_u32(env, argv[1], &port) && port > 0 && parse_addr(env, argv[2], s->family, port, &a, &alen) && connect(s->fd, &a.sa, alen) == 0;
    } else {
      memset(&a, 0, sizeof a);
      a.sa.sa_family = AF_UNSPEC;
      ok = connect(s->fd, &a.sa, sizeof a.sa) == 0;
    }
  }
  napi_get_boolean(env, ok, &r);
  return r;
}

/* close(id): what was queued for it leaves first; a second close is a no-op. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  inst_t *in = instance(env);
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t id;
  sock_t *s;
  if (argc >= 1 && get_u32(env, argv[0], &id) && (s = sock_by_id(in, id)) != NULL) {
    flush(in);
    epoll_ctl(in->epfd, EPOLL_CTL_DEL, s->fd, NULL);
    close(s->fd);
    s->fd = -1;
    s->next_free = in->free_head;
    in->free_head = (int)id;
    if (--in->open == 0) uv_unref((uv_handle_t *)&in->poll);
  }
  return NULL;
}

/* localPort(id) → the bound port (0 for an unknown id). */
static napi_value js_local_port(napi_env env, napi_callback_info info) {
  inst_t *in = instance(env);
  size_t argc = 1;
  napi_value argv[1], r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t id, port = 0;
  sock_t *s;
  if (argc >= 1 && get_u32(env, argv[0], &id) && (s = sock_by_id(in, id)) != NULL) {
    addr_t a;
    socklen_t len = sizeof a;
    if (getsockname(s->fd, &a.sa, &len) == 0) port = ntohs(a.sa.sa_family == AF_INET6 ? a.v6.sin6_port : a.v4.sin_port);
  }
  napi_create_uint32(env, port, &r);
  return r;
}

static void set_num(napi_env env, napi_value o, const char *k, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, o, k, n);
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  (void)info;
  inst_t *in = instance(env);
  napi_value o;
  napi_create_object(env, &o);
  counters_t *c = &in->c;
  set_num(env, o, "received", (double)c->received);
  set_num(env, o, "truncated", (double)c->truncated);
  set_num(env, o, "recvErrors", (double)c->recv_errors);
  set_num(env, o, "drains", (double)c->drains);
  set_num(env, o, "callbacks", (double)c->callbacks);
  set_num(env, o, "callbackErrors", (double)c->callback_errors);
  set_num(env, o, "sent", (double)c->sent);
  set_num(env, o, "sendErrors", (double)c->send_errors);
  set_num(env, o, "sendDropped", (double)c->send_dropped);
  set_num(env, o, "queueFullFlushes", (double)c->queue_full_flushes);
  set_num(env, o, "openSockets", (double)in->open);
  return o;
}

static void set_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

NAPI_MODULE_INIT() {
  inst_t *in = calloc(1, sizeof(inst_t));
  if (in == NULL) return NULL;
  in->env = env;
  in->epfd = -1;
  napi_set_instance_data(env, in, free_uninitialised, NULL);
  set_fn(env, exports, "init", js_init);
  set_fn(env, exports, "bind", js_bind);
  set_fn(env, exports, "send", js_send);
  set_fn(env, exports, "flush", js_flush);
  set_fn(env, exports, "connect", js_connect);
  set_fn(env, exports, "close", js_close);
  set_fn(env, exports, "localPort", js_local_port);
  set_fn(env, exports, "stats", js_stats);
  napi_value v;
  napi_create_uint32(env, RING_SLOTS, &v);
  napi_set_named_property(env, exports, "ringSlots", v);
  napi_create_uint32(env, SLOT_SIZE, &v);
  napi_set_named_property(env, exports, "slotSize", v);
  napi_create_uint32(env, SLOT_HEADER, &v);
  napi_set_named_property(env, exports, "slotHeader", v);
  napi_create_uint32(env, SLOT_DATA, &v);
  napi_set_named_property(env, exports, "slotData", v);
  return exports;
}
