/*
 * relay-limit: the smallest RTP relay that batches its system calls, the yardstick of
 * `npm run bench -- --scenario relay-limit` (bench/README.md). Not a media server: no SDP, no RTP
 * parsing, no timers. Compiled by the bench itself (bench/lib/c-relay.ts: cc -O2).
 *
 *   relay-limit ADDR BASE_PORT CALLS [connect]
 *
 * Binds 2*CALLS UDP sockets on ADDR, ports BASE_PORT .. BASE_PORT+2*CALLS-1. The pairing is fixed:
 * socket 2i (side A of call i, facing the caller) <-> socket 2i+1 (side B, facing the callee). Each
 * socket's peer is the source of the last datagram it received (symmetric RTP, as a relay learns its
 * peers); a datagram received on one side leaves through the other side's socket to that side's peer,
 * or is dropped (counted) while that peer is unknown.
 *
 * One epoll set holds every socket; each ready socket is drained with recvmmsg (up to BATCH at a time)
 * and what it read goes out with one sendmmsg on the paired socket.
 *
 * Two variants, to show where the floor is (`bench --c-relay`):
 *  - `connect`: a side connect(2)s to its peer once learnt and sends without an address, as Tandem's
 *    latched sockets do; the kernel then keeps the route instead of looking it up per packet (and
 *    filters other sources, so the first source is the peer for good).
 *  - built with -DRELAY_URING (and -luring): io_uring instead of epoll. Every socket has a multishot
 *    recvmsg into one ring of provided buffers, and every packet leaves as its own send request; one
 *    io_uring_enter submits all the sends gathered from a batch of completions, whatever their
 *    sockets, and waits for the next: the system calls are batched across sockets, as the issue's
 *    "step beyond" asks.
 *
 * SIGUSR1 makes it forget every peer (and disconnect): the bench sends it when a step's calls have all
 * ended, so that the next step's calls, on the same ports, are learnt afresh.
 *
 * Prints "ready <sockets>" on stdout once bound; on SIGTERM or SIGINT prints
 * "received <n> sent <n> unpaired <n> send_errors <n>" and exits 0. Bad arguments: a message on stderr,
 * exit 2; a socket that cannot be bound: a message naming the port, exit 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef RELAY_URING
#include <liburing.h>
#endif

#define BATCH 32
#define MAX_PACKET 2048
#define MAX_CALLS 16384
#define MAX_EVENTS 256

struct side {
  int fd;
  int has_peer;
  struct sockaddr_in peer;
};

static struct side *sides;
static volatile sig_atomic_t forget_requested = 0;
static int connect_peers = 0;
static unsigned long long received = 0, sent = 0, unpaired = 0, send_errors = 0;

static int nsides_all;

/* The calls ended: every side learns its next peer afresh. */
static void forget_peers(void) {
  forget_requested = 0;
  for (int i = 0; i < nsides_all; i++) {
    if (sides[i].has_peer && connect_peers) {
      struct sockaddr unspec = {.sa_family = AF_UNSPEC};
      connect(sides[i].fd, &unspec, sizeof unspec);
    }
    sides[i].has_peer = 0;
  }
}

/* A datagram from `from` reached side `s`: that is its peer now (for good once connected). */
static void learn_peer(struct side *me, const struct sockaddr_in *from) {
  if (connect_peers && me->has_peer) return;
  me->peer = *from;
  me->has_peer = 1;
  if (connect_peers && connect(me->fd, (const struct sockaddr *)from, sizeof *from) != 0) {
    perror("relay-limit: connect");
    exit(1);
  }
}

static volatile sig_atomic_t stop_requested = 0;
static void on_stop(int sig) {
  (void)sig;
  stop_requested = 1;
}
static void on_forget(int sig) {
  (void)sig;
  forget_requested = 1;
}

static long parse_whole(const char *what, const char *s, long min, long max) {
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
    fprintf(stderr, "relay-limit: %s '%s': expected a whole number in %ld..%ld\n", what, s, min, max);
    exit(2);
  }
  return v;
}

#ifndef RELAY_URING
static int run(int nsides) {
  int ep = epoll_create1(0);
  if (ep < 0) {
    perror("relay-limit: epoll_create1");
    return 1;
  }
  for (int i = 0; i < nsides; i++) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, sides[i].fd, &ev) != 0) {
      perror("relay-limit: epoll_ctl");
      return 1;
    }
  }
  static unsigned char bufs[BATCH][MAX_PACKET];
  static struct iovec iov[BATCH];
  static struct sockaddr_in from[BATCH];
  static struct mmsghdr in[BATCH], out[BATCH];
  for (int k = 0; k < BATCH; k++) {
    iov[k].iov_base = bufs[k];
    iov[k].iov_len = MAX_PACKET;
  }
  printf("ready %d\n", nsides);
  fflush(stdout);

  struct epoll_event events[MAX_EVENTS];
  while (!stop_requested) {
    int n = epoll_wait(ep, events, MAX_EVENTS, -1);
    if (forget_requested) forget_peers();
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("relay-limit: epoll_wait");
      return 1;
    }
    for (int e = 0; e < n; e++) {
      uint32_t s = events[e].data.u32;
      struct side *me = &sides[s];
      struct side *other = &sides[s ^ 1u];
      for (;;) {
        for (int k = 0; k < BATCH; k++) {
          iov[k].iov_len = MAX_PACKET;
          memset(&in[k].msg_hdr, 0, sizeof in[k].msg_hdr);
          in[k].msg_hdr.msg_iov = &iov[k];
          in[k].msg_hdr.msg_iovlen = 1;
          in[k].msg_hdr.msg_name = &from[k];
          in[k].msg_hdr.msg_namelen = sizeof from[k];
        }
        int got = recvmmsg(me->fd, in, BATCH, MSG_DONTWAIT, NULL);
        if (got <= 0) break; /* EAGAIN: drained (an ICMP error queued on the socket is consumed too) */
        received += (unsigned long long)got;
        learn_peer(me, &from[got - 1]);
        if (!other->has_peer) {
          unpaired += (unsigned long long)got;
        } else {
          for (int k = 0; k < got; k++) {
            iov[k].iov_len = in[k].msg_len;
            memset(&out[k].msg_hdr, 0, sizeof out[k].msg_hdr);
            out[k].msg_hdr.msg_iov = &iov[k];
            out[k].msg_hdr.msg_iovlen = 1;
            if (!connect_peers) {
              out[k].msg_hdr.msg_name = &other->peer;
              out[k].msg_hdr.msg_namelen = sizeof other->peer;
            }
          }
          int done = 0;
          while (done < got) {
            int w = sendmmsg(other->fd, out + done, (unsigned)(got - done), MSG_DONTWAIT);
            if (w <= 0) {
              /* a full buffer or the peer's port closed (ECONNREFUSED): drop the rest, as a relay must */
              send_errors += (unsigned long long)(got - done);
              break;
            }
            done += w;
          }
          sent += (unsigned long long)done;
        }
        if (got < BATCH) break;
      }
    }
  }
  return 0;
}
#else
#define NBUF 4096 /* provided receive buffers; a buffer is back in the ring once its send completed */
#define BGID 1
#define OP_SEND (1ull << 32)
static struct io_uring ring;
static struct io_uring_buf_ring *bufring;
static unsigned char *bufmem;
static struct msghdr recv_shape; /* what multishot recvmsg lays out in each buffer: the source, no control */
static struct msghdr send_msg[NBUF];
static struct iovec send_iov[NBUF];

static struct io_uring_sqe *next_sqe(void) {
  struct io_uring_sqe *q = io_uring_get_sqe(&ring);
  if (q == NULL) {
    io_uring_submit(&ring); /* the submission queue is full: send what is there, then go on */
    q = io_uring_get_sqe(&ring);
  }
  return q;
}

static void arm_receive(int i) {
  struct io_uring_sqe *q = next_sqe();
  io_uring_prep_recvmsg_multishot(q, sides[i].fd, &recv_shape, 0);
  q->flags |= IOSQE_BUFFER_SELECT;
  q->buf_group = BGID;
  io_uring_sqe_set_data64(q, (uint64_t)i);
}

static void recycle(unsigned bid) {
  io_uring_buf_ring_add(bufring, bufmem + (size_t)bid * MAX_PACKET, MAX_PACKET, (unsigned short)bid, io_uring_buf_ring_mask(NBUF), 0);
  io_uring_buf_ring_advance(bufring, 1);
}

static int run(int nsides) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  /* One thread submits, and completions are reaped only when it asks: no interrupts for task work. */
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  p.cq_entries = 4 * NBUF;
  int r = io_uring_queue_init_params(NBUF, &ring, &p);
  if (r < 0) {
    fprintf(stderr, "relay-limit: io_uring_queue_init: %s\n", strerror(-r));
    return 1;
  }
  bufring = mmap(NULL, NBUF * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  bufmem = malloc((size_t)NBUF * MAX_PACKET);
  if (bufring == MAP_FAILED || bufmem == NULL) {
    perror("relay-limit: buffers");
    return 1;
  }
  struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)bufring, .ring_entries = NBUF, .bgid = BGID};
  if ((r = io_uring_register_buf_ring(&ring, &reg, 0)) < 0) {
    fprintf(stderr, "relay-limit: io_uring_register_buf_ring: %s\n", strerror(-r));
    return 1;
  }
  io_uring_buf_ring_init(bufring);
  for (unsigned b = 0; b < NBUF; b++) recycle(b);
  recv_shape.msg_namelen = sizeof(struct sockaddr_in);
  for (int i = 0; i < nsides; i++) arm_receive(i);
  io_uring_submit(&ring);
  printf("ready %d\n", nsides);
  fflush(stdout);

  while (!stop_requested) {
    r = io_uring_submit_and_wait(&ring, 1);
    if (forget_requested) forget_peers();
    if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
      fprintf(stderr, "relay-limit: io_uring_submit_and_wait: %s\n", strerror(-r));
      return 1;
    }
    struct io_uring_cqe *c;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, c) {
      seen++;
      uint64_t ud = io_uring_cqe_get_data64(c);
      if (ud & OP_SEND) {
        if (c->res < 0) send_errors++;
        else sent++;
        recycle((unsigned)(ud & 0xffffffffu));
        continue;
      }
      int s = (int)ud;
      if (!(c->flags & IORING_CQE_F_MORE)) arm_receive(s); /* multishot ended (e.g. no buffer left) */
      if (c->res < 0 || !(c->flags & IORING_CQE_F_BUFFER)) continue;
      unsigned bid = c->flags >> IORING_CQE_BUFFER_SHIFT;
      struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(bufmem + (size_t)bid * MAX_PACKET, c->res, &recv_shape);
      if (o == NULL || (o->flags & MSG_TRUNC)) {
        recycle(bid);
        continue;
      }
      received++;
      struct side *me = &sides[s];
      struct side *other = &sides[s ^ 1];
      learn_peer(me, (const struct sockaddr_in *)io_uring_recvmsg_name(o));
      if (!other->has_peer) {
        unpaired++;
        recycle(bid);
        continue;
      }
      struct io_uring_sqe *q = next_sqe();
      void *payload = io_uring_recvmsg_payload(o, &recv_shape);
      unsigned len = io_uring_recvmsg_payload_length(o, c->res, &recv_shape);
      if (connect_peers) {
        io_uring_prep_send(q, other->fd, payload, len, MSG_DONTWAIT);
      } else {
        send_iov[bid] = (struct iovec){.iov_base = payload, .iov_len = len};
        send_msg[bid] = (struct msghdr){.msg_iov = &send_iov[bid], .msg_iovlen = 1, .msg_name = &other->peer, .msg_namelen = sizeof other->peer};
        io_uring_prep_sendmsg(q, other->fd, &send_msg[bid], MSG_DONTWAIT);
      }
      io_uring_sqe_set_data64(q, OP_SEND | bid);
    }
    io_uring_cq_advance(&ring, seen);
  }
  return 0;
}
#endif

int main(int argc, char **argv) {
  if (argc != 4 && !(argc == 5 && strcmp(argv[4], "connect") == 0)) {
    fprintf(stderr, "usage: relay-limit ADDR BASE_PORT CALLS [connect]\n");
    return 2;
  }
  connect_peers = argc == 5;
  struct in_addr addr;
  if (inet_pton(AF_INET, argv[1], &addr) != 1) {
    fprintf(stderr, "relay-limit: ADDR '%s': expected an IPv4 address\n", argv[1]);
    return 2;
  }
  long calls = parse_whole("CALLS", argv[3], 1, MAX_CALLS);
  long base = parse_whole("BASE_PORT", argv[2], 1, 65535 - 2 * calls + 1);
  int nsides = (int)(2 * calls);

  sides = calloc((size_t)nsides, sizeof *sides);
  if (sides == NULL) {
    perror("relay-limit: setup");
    return 1;
  }
  for (int i = 0; i < nsides; i++) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(base + i)), .sin_addr = addr};
    if (fd < 0 || bind(fd, (struct sockaddr *)&local, sizeof local) != 0) {
      fprintf(stderr, "relay-limit: cannot bind %s:%ld: %s\n", argv[1], base + i, strerror(errno));
      return 1;
    }
    sides[i].fd = fd;
  }

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = on_forget;
  sigaction(SIGUSR1, &sa, NULL);

  nsides_all = nsides;
  int rc = run(nsides);
  printf("received %llu sent %llu unpaired %llu send_errors %llu\n", received, sent, unpaired, send_errors);
  fflush(stdout);
  return rc;
}
