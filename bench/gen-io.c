/*
 * gen-io: the bench generator's packet I/O below JavaScript (`--gen-io native`, bench/lib/gen-native.ts),
 * a Node-API addon compiled by the bench itself (cc -O2 -shared). Not part of Tandem.
 *
 * Node's dgram costs a JavaScript call, a request object and a Buffer per datagram; here a worker's legs
 * are plain non-blocking UDP sockets in one epoll set, watched by one uv_poll on the epoll fd. On readiness
 * every ready socket is drained with recvmmsg into a slab of fixed slots (leg, length in `meta`), and
 * JavaScript is called once per slab; sends are queued by JavaScript in a slab and handed over in one call
 * per pacer tick (one send() per datagram: each leg is its own connected socket).
 *
 *   create(slab: Buffer, slotSize, meta: Int32Array, onBatch: (count) => void) -> io
 *   openLeg(io) -> [leg, port]          bound to 127.0.0.1, an ephemeral port
 *   connectLeg(io, leg, port, address)  address: dotted IPv4
 *   sendBatch(io, legs: Int32Array, lens: Int32Array, count, slab: Buffer, stride) -> datagrams sent
 *   closeLeg(io, leg); close(io); stats(io) -> [received, sendErrors, truncated]
 *
 * Bad arguments throw a TypeError/RangeError naming them; system call failures throw an Error with errno's text.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define MAX_LEGS 65536
#define RECV_BATCH 64
#define MAX_EVENTS 512

typedef struct {
  napi_env env;
  int ep;
  uv_poll_t poll;
  int open;
  int *fds;
  int nlegs;
  napi_ref on_batch, slab_ref, meta_ref, resource_ref;
  napi_async_context async;
  uint8_t *slab;
  size_t slot_size, slots;
  int32_t *meta;
  double received, send_errors, truncated;
  int poll_closed, finalized; /* the Io is freed when both happened, whichever comes second */
} Io;

#define CHECK(call)                                                      \
  do {                                                                   \
    if ((call) != napi_ok) {                                             \
      napi_throw_error(env, NULL, "gen-io: Node-API call failed: " #call); \
      return NULL;                                                       \
    }                                                                    \
  } while (0)

static napi_value throw_errno(napi_env env, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "gen-io: %s: %s", what, strerror(errno));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static Io *get_io(napi_env env, napi_value v) {
  Io *io = NULL;
  if (napi_get_value_external(env, v, (void **)&io) != napi_ok || io == NULL) {
    napi_throw_type_error(env, NULL, "gen-io: the first argument must be the io handle from create()");
    return NULL;
  }
  if (!io->open) {
    napi_throw_error(env, NULL, "gen-io: the io handle is closed");
    return NULL;
  }
  return io;
}

static int get_int(napi_env env, napi_value v, const char *name, int64_t min, int64_t max, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d != (double)(int64_t)d || d < (double)min || d > (double)max) {
    char msg[160];
    snprintf(msg, sizeof msg, "gen-io: %s must be a whole number in %lld..%lld", name, (long long)min, (long long)max);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  *out = (int64_t)d;
  return 1;
}

static void deliver(Io *io, size_t count) {
  napi_env env = io->env;
  napi_value fn, resource, arg, result;
  if (napi_get_reference_value(env, io->on_batch, &fn) != napi_ok || napi_get_reference_value(env, io->resource_ref, &resource) != napi_ok) return;
  napi_create_uint32(env, (uint32_t)count, &arg);
  if (napi_make_callback(env, io->async, resource, fn, 1, &arg, &result) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err); /* the worker's 'error' event: the pool fails the step */
  }
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  Io *io = handle->data;
  if (status < 0 || !io->open) return;
  napi_handle_scope scope;
  napi_open_handle_scope(io->env, &scope);
  struct epoll_event evs[MAX_EVENTS];
  int n = epoll_wait(io->ep, evs, MAX_EVENTS, 0);
  size_t used = 0;
  struct mmsghdr msgs[RECV_BATCH];
  struct iovec iov[RECV_BATCH];
  for (int e = 0; e < n && io->open; e++) {
    uint32_t leg = evs[e].data.u32;
    if ((int)leg >= io->nlegs || io->fds[leg] < 0) continue;
    for (;;) {
      if (used == io->slots) {
        deliver(io, used);
        used = 0;
        if (!io->open || io->fds[leg] < 0) break;
      }
      size_t room = io->slots - used;
      unsigned k = room < RECV_BATCH ? (unsigned)room : RECV_BATCH;
      for (unsigned j = 0; j < k; j++) {
        iov[j].iov_base = io->slab + (used + j) * io->slot_size;
        iov[j].iov_len = io->slot_size;
        memset(&msgs[j].msg_hdr, 0, sizeof msgs[j].msg_hdr);
        msgs[j].msg_hdr.msg_iov = &iov[j];
        msgs[j].msg_hdr.msg_iovlen = 1;
      }
      int got = recvmmsg(io->fds[leg], msgs, k, MSG_DONTWAIT, NULL);
      if (got <= 0) break; /* drained (or an ICMP error on a connected socket, consumed) */
      for (int j = 0; j < got; j++) {
        io->meta[2 * (used + j)] = (int32_t)leg;
        io->meta[2 * (used + j) + 1] = (int32_t)msgs[j].msg_len;
        if (msgs[j].msg_hdr.msg_flags & MSG_TRUNC) io->truncated++;
      }
      used += (size_t)got;
      io->received += got;
      if ((unsigned)got < k) break;
    }
  }
  if (used > 0 && io->open) deliver(io, used);
  napi_close_handle_scope(io->env, scope);
}

static void free_io(Io *io) {
  free(io->fds);
  free(io);
}

static void on_poll_closed(uv_handle_t *handle) {
  Io *io = handle->data;
  io->poll_closed = 1;
  if (io->finalized) free_io(io);
}

static void close_io(Io *io) {
  if (!io->open) return;
  io->open = 0;
  uv_poll_stop(&io->poll);
  uv_close((uv_handle_t *)&io->poll, on_poll_closed);
  for (int i = 0; i < io->nlegs; i++)
    if (io->fds[i] >= 0) close(io->fds[i]);
  close(io->ep);
}

static void cleanup_hook(void *arg) { close_io((Io *)arg); }

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  Io *io = data;
  napi_remove_env_cleanup_hook(env, cleanup_hook, io);
  close_io(io);
  io->finalized = 1;
  if (io->poll_closed) free_io(io); /* else on_poll_closed frees it once libuv is done with the handle */
}

static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool is_buffer = false, is_typed = false;
  napi_valuetype fn_type = napi_undefined;
  if (argc == 4) {
    napi_is_buffer(env, argv[0], &is_buffer);
    napi_is_typedarray(env, argv[2], &is_typed);
    napi_typeof(env, argv[3], &fn_type);
  }
  if (!is_buffer || !is_typed || fn_type != napi_function) {
    napi_throw_type_error(env, NULL, "gen-io: create(slab: Buffer, slotSize: number, meta: Int32Array, onBatch: function)");
    return NULL;
  }
  int64_t slot_size;
  if (!get_int(env, argv[1], "slotSize", 64, 65536, &slot_size)) return NULL;
  void *slab;
  size_t slab_len;
  CHECK(napi_get_buffer_info(env, argv[0], &slab, &slab_len));
  napi_typedarray_type ta_type;
  size_t meta_len;
  void *meta;
  CHECK(napi_get_typedarray_info(env, argv[2], &ta_type, &meta_len, &meta, NULL, NULL));
  size_t slots = slab_len / (size_t)slot_size;
  if (ta_type != napi_int32_array || slots == 0 || meta_len < 2 * slots) {
    napi_throw_range_error(env, NULL, "gen-io: the slab must hold at least one slot and meta (Int32Array) 2 entries per slot");
    return NULL;
  }
  Io *io = calloc(1, sizeof *io);
  if (io == NULL) return throw_errno(env, "calloc");
  io->env = env;
  io->slab = slab;
  io->slot_size = (size_t)slot_size;
  io->slots = slots;
  io->meta = meta;
  io->fds = calloc(MAX_LEGS, sizeof *io->fds);
  io->ep = epoll_create1(EPOLL_CLOEXEC);
  if (io->fds == NULL || io->ep < 0) return throw_errno(env, "epoll_create1");
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  if (uv_poll_init(loop, &io->poll, io->ep) != 0) {
    napi_throw_error(env, NULL, "gen-io: uv_poll_init failed");
    return NULL;
  }
  io->poll.data = io;
  uv_poll_start(&io->poll, UV_READABLE, on_readable);
  io->open = 1;
  napi_value resource, name;
  CHECK(napi_create_object(env, &resource));
  CHECK(napi_create_string_utf8(env, "gen-io", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, resource, name, &io->async));
  CHECK(napi_create_reference(env, resource, 1, &io->resource_ref));
  CHECK(napi_create_reference(env, argv[3], 1, &io->on_batch));
  CHECK(napi_create_reference(env, argv[0], 1, &io->slab_ref));
  CHECK(napi_create_reference(env, argv[2], 1, &io->meta_ref));
  CHECK(napi_add_env_cleanup_hook(env, cleanup_hook, io));
  napi_value ext;
  CHECK(napi_create_external(env, io, finalize, NULL, &ext));
  return ext;
}

static napi_value open_leg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Io *io = argc == 1 ? get_io(env, argv[0]) : NULL;
  if (io == NULL) return NULL;
  if (io->nlegs >= MAX_LEGS) {
    napi_throw_range_error(env, NULL, "gen-io: at most 65536 legs per io");
    return NULL;
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket");
  struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = 0};
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof local;
  if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0 || getsockname(fd, (struct sockaddr *)&local, &len) != 0) {
    close(fd);
    return throw_errno(env, "bind 127.0.0.1:0");
  }
  int leg = io->nlegs;
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)leg};
  if (epoll_ctl(io->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
    close(fd);
    return throw_errno(env, "epoll_ctl");
  }
  io->fds[leg] = fd;
  io->nlegs++;
  napi_value out, v;
  CHECK(napi_create_array_with_length(env, 2, &out));
  CHECK(napi_create_int32(env, leg, &v));
  CHECK(napi_set_element(env, out, 0, v));
  CHECK(napi_create_int32(env, ntohs(local.sin_port), &v));
  CHECK(napi_set_element(env, out, 1, v));
  return out;
}

static int get_leg(napi_env env, Io *io, napi_value v, int *leg) {
  int64_t l;
  if (!get_int(env, v, "leg", 0, io->nlegs - 1, &l)) return 0;
  if (io->fds[l] < 0) {
    napi_throw_error(env, NULL, "gen-io: that leg is closed");
    return 0;
  }
  *leg = (int)l;
  return 1;
}

static napi_value connect_leg(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 4) {
    napi_throw_type_error(env, NULL, "gen-io: connectLeg(io, leg, port, address)");
    return NULL;
  }
  Io *io = get_io(env, argv[0]);
  int leg;
  int64_t port;
  if (io == NULL || !get_leg(env, io, argv[1], &leg) || !get_int(env, argv[2], "port", 1, 65535, &port)) return NULL;
  char addr[64];
  size_t alen = 0;
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (napi_get_value_string_utf8(env, argv[3], addr, sizeof addr, &alen) != napi_ok || inet_pton(AF_INET, addr, &to.sin_addr) != 1) {
    napi_throw_type_error(env, NULL, "gen-io: address must be a dotted IPv4 address");
    return NULL;
  }
  if (connect(io->fds[leg], (struct sockaddr *)&to, sizeof to) != 0) return throw_errno(env, "connect");
  return NULL;
}

static napi_value send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 6) {
    napi_throw_type_error(env, NULL, "gen-io: sendBatch(io, legs: Int32Array, lens: Int32Array, count, slab: Buffer, stride)");
    return NULL;
  }
  Io *io = get_io(env, argv[0]);
  if (io == NULL) return NULL;
  napi_typedarray_type t1, t2;
  size_t n1, n2, slab_len;
  void *legs, *lens, *slab;
  bool ok1 = false, ok2 = false, okb = false;
  napi_is_typedarray(env, argv[1], &ok1);
  napi_is_typedarray(env, argv[2], &ok2);
  napi_is_buffer(env, argv[4], &okb);
  if (!ok1 || !ok2 || !okb) {
    napi_throw_type_error(env, NULL, "gen-io: sendBatch(io, legs: Int32Array, lens: Int32Array, count, slab: Buffer, stride)");
    return NULL;
  }
  CHECK(napi_get_typedarray_info(env, argv[1], &t1, &n1, &legs, NULL, NULL));
  CHECK(napi_get_typedarray_info(env, argv[2], &t2, &n2, &lens, NULL, NULL));
  CHECK(napi_get_buffer_info(env, argv[4], &slab, &slab_len));
  int64_t count, stride;
  if (t1 != napi_int32_array || t2 != napi_int32_array) {
    napi_throw_type_error(env, NULL, "gen-io: legs and lens must be Int32Arrays");
    return NULL;
  }
  if (!get_int(env, argv[3], "count", 0, (int64_t)(n1 < n2 ? n1 : n2), &count) || !get_int(env, argv[5], "stride", 12, 65536, &stride)) return NULL;
  if ((size_t)(count * stride) > slab_len) {
    napi_throw_range_error(env, NULL, "gen-io: count * stride exceeds the slab");
    return NULL;
  }
  int32_t *lg = legs, *ln = lens;
  uint32_t sent = 0;
  for (int64_t i = 0; i < count; i++) {
    int32_t l = lg[i];
    if (l < 0 || l >= io->nlegs || io->fds[l] < 0 || ln[i] < 0 || ln[i] > stride) {
      io->send_errors++;
      continue;
    }
    if (send(io->fds[l], (uint8_t *)slab + i * stride, (size_t)ln[i], MSG_DONTWAIT) >= 0) sent++;
    else io->send_errors++; /* a full buffer, or the server closed the port (ECONNREFUSED): dropped, counted */
  }
  napi_value out;
  CHECK(napi_create_uint32(env, sent, &out));
  return out;
}

static napi_value close_leg(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Io *io = argc == 2 ? get_io(env, argv[0]) : NULL;
  int leg;
  if (io == NULL || !get_leg(env, io, argv[1], &leg)) return NULL;
  epoll_ctl(io->ep, EPOLL_CTL_DEL, io->fds[leg], NULL);
  close(io->fds[leg]);
  io->fds[leg] = -1;
  return NULL;
}

static napi_value close_all(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Io *io = argc == 1 ? get_io(env, argv[0]) : NULL;
  if (io != NULL) close_io(io);
  return NULL;
}

static napi_value stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Io *io = NULL;
  if (argc != 1 || napi_get_value_external(env, argv[0], (void **)&io) != napi_ok || io == NULL) {
    napi_throw_type_error(env, NULL, "gen-io: stats(io)");
    return NULL;
  }
  napi_value out, v;
  CHECK(napi_create_array_with_length(env, 3, &out));
  double vals[3] = {io->received, io->send_errors, io->truncated};
  for (uint32_t i = 0; i < 3; i++) {
    CHECK(napi_create_double(env, vals[i], &v));
    CHECK(napi_set_element(env, out, i, v));
  }
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},
      {"openLeg", NULL, open_leg, NULL, NULL, NULL, napi_default, NULL},
      {"connectLeg", NULL, connect_leg, NULL, NULL, NULL, napi_default, NULL},
      {"sendBatch", NULL, send_batch, NULL, NULL, NULL, napi_default, NULL},
      {"closeLeg", NULL, close_leg, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_all, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, stats, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
