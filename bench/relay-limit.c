/*
 * relay-limit: the smallest RTP relay that batches its system calls, the yardstick of
 * `npm run bench -- --scenario relay-limit` (bench/README.md). Not a media server: no SDP, no RTP
 * parsing, no timers. Compiled by the bench itself (bench/lib/c-relay.ts: cc -O2).
 *
 *   relay-limit ADDR BASE_PORT CALLS
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
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 32
#define MAX_PACKET 2048
#define MAX_CALLS 16384
#define MAX_EVENTS 256

struct side {
  int fd;
  int has_peer;
  struct sockaddr_in peer;
};

static volatile sig_atomic_t stop_requested = 0;
static void on_stop(int sig) {
  (void)sig;
  stop_requested = 1;
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

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: relay-limit ADDR BASE_PORT CALLS\n");
    return 2;
  }
  struct in_addr addr;
  if (inet_pton(AF_INET, argv[1], &addr) != 1) {
    fprintf(stderr, "relay-limit: ADDR '%s': expected an IPv4 address\n", argv[1]);
    return 2;
  }
  long calls = parse_whole("CALLS", argv[3], 1, MAX_CALLS);
  long base = parse_whole("BASE_PORT", argv[2], 1, 65535 - 2 * calls + 1);
  int nsides = (int)(2 * calls);

  struct side *sides = calloc((size_t)nsides, sizeof *sides);
  int ep = epoll_create1(0);
  if (sides == NULL || ep < 0) {
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
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
      perror("relay-limit: epoll_ctl");
      return 1;
    }
  }

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  static unsigned char bufs[BATCH][MAX_PACKET];
  static struct iovec iov[BATCH];
  static struct sockaddr_in from[BATCH];
  static struct mmsghdr in[BATCH], out[BATCH];
  for (int k = 0; k < BATCH; k++) {
    iov[k].iov_base = bufs[k];
    iov[k].iov_len = MAX_PACKET;
  }
  unsigned long long received = 0, sent = 0, unpaired = 0, send_errors = 0;

  printf("ready %d\n", nsides);
  fflush(stdout);

  struct epoll_event events[MAX_EVENTS];
  while (!stop_requested) {
    int n = epoll_wait(ep, events, MAX_EVENTS, -1);
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
        me->peer = from[got - 1];
        me->has_peer = 1;
        if (!other->has_peer) {
          unpaired += (unsigned long long)got;
        } else {
          for (int k = 0; k < got; k++) {
            iov[k].iov_len = in[k].msg_len;
            memset(&out[k].msg_hdr, 0, sizeof out[k].msg_hdr);
            out[k].msg_hdr.msg_iov = &iov[k];
            out[k].msg_hdr.msg_iovlen = 1;
            out[k].msg_hdr.msg_name = &other->peer;
            out[k].msg_hdr.msg_namelen = sizeof other->peer;
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
  printf("received %llu sent %llu unpaired %llu send_errors %llu\n", received, sent, unpaired, send_errors);
  fflush(stdout);
  return 0;
}
