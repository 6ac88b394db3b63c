/* A lean load generator for bench/rpc.py's `compare` part: daemon.ping over N Unix-socket connections.

   Why native: on a 2-core machine the Python asyncio clients cost so much CPU and scheduling delay that even
   a bare asyncio server showed an in-step p99 of 7.6-8.4 ms. This client costs ~17 us of CPU per request,
   nearly all of it the socket calls (the asyncio clients ~75 us), and writes a tick's requests back to back,
   so the figure is the server's.

   Usage: loadgen SOCKET saturate|in_step CLIENTS SECONDS PACE START_AT [DEPTH]
     START_AT  absolute CLOCK_MONOTONIC seconds (Python's time.monotonic() on Linux), shared by processes
     saturate  each connection keeps DEPTH requests in flight and counts the replies until START_AT+SECONDS
     in_step   at every tick START_AT + k*PACE (k < SECONDS/PACE) every connection writes one ping; latency
               runs from the write of a connection's request to the read of its whole reply line; a
               connection whose reply has not come by the next tick is counted late and sends on its reply
               (the Python client, whose wake-ups jitter, counts a send late only when a whole tick behind)
   Prints {"count": int, "latencies": [seconds], "late": int} on stdout (the shape of _load in bench/rpc.py).
   Any connection error: a message on stderr, exit status 1.

   Build: cc -O2 -Wall -Wextra -std=c11 -D_GNU_SOURCE -o loadgen loadgen.c */

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PING "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.ping\"}\n"
#define PING_LEN (sizeof PING - 1)
#define BUF_SIZE 65536
#define MAX_EVENTS 64
#define QUIET_LIMIT_MS 30000 /* no reply for this long: the server is stuck, give up rather than hang */

struct conn {
    int fd;
    size_t len;         /* bytes buffered in buf, not yet a whole line */
    long in_flight;     /* requests written whose reply has not been read */
    long sent;          /* in_step: requests written, i.e. the index of its next tick */
    int64_t written_ns; /* in_step: when its request in flight was written */
    char buf[BUF_SIZE];
};

static struct conn *conns;
static long nconns;
static char *send_buf; /* saturate: PING repeated, to answer several replies with one write */

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct timespec to_timespec(int64_t ns) {
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    return ts;
}

static int64_t seconds_to_ns(double seconds) { /* seconds >= 0; no libm needed */
    return (int64_t)(seconds * 1e9 + 0.5);
}

static double parse_number(const char *text, const char *what) {
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(value) || value < 0) die("bad %s: %s", what, text);
    return value;
}

static void send_all(struct conn *c, const char *data, size_t size) {
    while (size) { /* a blocking socket: a short write only happens if a signal interrupts it */
        ssize_t n = send(c->fd, data, size, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("connection %ld: write: %s", (long)(c - conns), strerror(errno));
        }
        data += n;
        size -= (size_t)n;
    }
}

static void send_pings(struct conn *c, long count) {
    send_all(c, send_buf, PING_LEN * (size_t)count);
    c->in_flight += count;
}

/* Read what is there (the socket has data). Returns the number of whole reply lines now buffered at the front
   of c->buf, each checked to be a result; consume_lines drops them afterwards. */
static long read_replies(struct conn *c, size_t *consumed) {
    if (c->len == BUF_SIZE) die("connection %ld: a reply longer than %d bytes", (long)(c - conns), BUF_SIZE);
    ssize_t n = recv(c->fd, c->buf + c->len, BUF_SIZE - c->len, MSG_DONTWAIT);
    if (n == 0) die("connection %ld: the server closed it", (long)(c - conns));
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return *consumed = 0, 0;
        die("connection %ld: read: %s", (long)(c - conns), strerror(errno));
    }
    c->len += (size_t)n;
    long lines = 0;
    char *start = c->buf, *end = c->buf + c->len, *nl;
    while ((nl = memchr(start, '\n', (size_t)(end - start)))) {
        if (!memmem(start, (size_t)(nl - start), "\"result\"", 8))
            die("connection %ld: not a result: %.*s", (long)(c - conns), (int)(nl - start), start);
        lines++;
        start = nl + 1;
    }
    *consumed = (size_t)(start - c->buf);
    return lines;
}

static void consume(struct conn *c, size_t consumed) {
    if (!consumed) return;
    c->len -= consumed;
    memmove(c->buf, c->buf + consumed, c->len);
}

static void connect_all(const char *path) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) die("socket path too long: %s", path);
    strcpy(addr.sun_path, path);
    for (long i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0) die("socket: %s", strerror(errno));
        if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0)
            die("connection %ld: connect %s: %s", i, path, strerror(errno));
    }
    /* warm up, and check the server answers a ping at all */
    for (long i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        send_all(c, PING, PING_LEN);
        size_t consumed = 0;
        while (!consumed) {
            struct pollfd p = {.fd = c->fd, .events = POLLIN};
            int ready = poll(&p, 1, QUIET_LIMIT_MS);
            if (ready < 0 && errno != EINTR) die("poll: %s", strerror(errno));
            if (ready == 0) die("%s does not answer daemon.ping within %d ms", path, QUIET_LIMIT_MS);
            if (ready > 0 && read_replies(c, &consumed) > 1) die("connection %ld: an unasked reply", i);
        }
        consume(c, consumed);
    }
}

static int make_epoll(int timer) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1: %s", strerror(errno));
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}; /* NULL: the timer */
    if (epoll_ctl(ep, EPOLL_CTL_ADD, timer, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
    for (long i = 0; i < nconns; i++) {
        ev.data.ptr = &conns[i];
        if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
    }
    return ep;
}

static void arm(int timer, int64_t at_ns) {
    struct itimerspec when = {.it_value = to_timespec(at_ns)};
    if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0) when.it_value.tv_nsec = 1; /* 0 disarms */
    if (timerfd_settime(timer, TFD_TIMER_ABSTIME, &when, NULL) < 0) die("timerfd_settime: %s", strerror(errno));
}

static int wait_events(int ep, struct epoll_event *events) {
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, QUIET_LIMIT_MS);
        if (n > 0) return n;
        if (n == 0) die("no reply and no tick for %d ms: the server is stuck", QUIET_LIMIT_MS);
        if (errno != EINTR) die("epoll_wait: %s", strerror(errno));
    }
}

static void drain_timer(int timer) {
    uint64_t expirations;
    if (read(timer, &expirations, sizeof expirations) < 0 && errno != EAGAIN) die("timerfd read: %s", strerror(errno));
}

static long saturate(int ep, int timer, int64_t end_ns, long depth) {
    long count = 0;
    struct epoll_event events[MAX_EVENTS];
    for (long i = 0; i < nconns; i++) send_pings(&conns[i], depth);
    arm(timer, end_ns);
    for (;;) {
        int n = wait_events(ep, events);
        for (int e = 0; e < n; e++) {
            struct conn *c = events[e].data.ptr;
            if (!c) return count; /* the end timer: replies still in flight are not counted */
            size_t consumed;
            long replies = read_replies(c, &consumed);
            consume(c, consumed);
            if (replies > c->in_flight) die("connection %ld: an unasked reply", (long)(c - conns));
            c->in_flight -= replies;
            if (now_ns() >= end_ns) return count;
            count += replies;
            if (replies) send_pings(c, replies); /* closed loop: one new request per reply */
        }
    }
}

/* in_step: ticks whose time has come (at most nticks) */
static long ticks_due(int64_t now, int64_t start_ns, double pace_ns, long nticks) {
    if (now < start_ns) return 0;
    long due = (long)((double)(now - start_ns) / pace_ns) + 1; /* then mend the rounding, either way */
    while (due > 0 && start_ns + (int64_t)((double)(due - 1) * pace_ns) > now) due--;
    while (due < nticks && start_ns + (int64_t)((double)due * pace_ns) <= now) due++;
    return due < nticks ? due : nticks;
}

static void step_send(struct conn *c) {
    c->written_ns = now_ns();
    send_all(c, PING, PING_LEN);
    c->in_flight = 1;
    c->sent++;
}

static long in_step(int ep, int timer, int64_t start_ns, double pace_s, long nticks, double *latencies,
                    long *late) {
    double pace_ns = pace_s * 1e9;
    long replies_expected = nticks * nconns, replies = 0;
    struct epoll_event events[MAX_EVENTS];
    if (nticks > 0) arm(timer, start_ns);
    while (replies < replies_expected) {
        int n = wait_events(ep, events);
        for (int e = 0; e < n; e++) {
            struct conn *c = events[e].data.ptr;
            if (!c) { /* a tick: every connection whose reply is in writes now, back to back */
                drain_timer(timer);
                long due = ticks_due(now_ns(), start_ns, pace_ns, nticks);
                for (long i = 0; i < nconns; i++)
                    if (!conns[i].in_flight && conns[i].sent < due) step_send(&conns[i]);
                if (due < nticks) arm(timer, start_ns + (int64_t)((double)due * pace_ns));
                continue;
            }
            size_t consumed;
            long lines = read_replies(c, &consumed);
            int64_t read_ns = now_ns();
            consume(c, consumed);
            if (!lines) continue;
            if (lines > c->in_flight) die("connection %ld: an unasked reply", (long)(c - conns));
            latencies[replies++] = (double)(read_ns - c->written_ns) / 1e9;
            c->in_flight = 0;
            /* its next tick has passed while it waited: the server did not keep the pace */
            if (c->sent < nticks && c->sent < ticks_due(read_ns, start_ns, pace_ns, nticks)) {
                (*late)++;
                step_send(c);
            }
        }
    }
    return replies;
}

int main(int argc, char **argv) {
    if (argc < 7 || argc > 8) {
        fprintf(stderr, "usage: %s SOCKET saturate|in_step CLIENTS SECONDS PACE START_AT [DEPTH]\n", argv[0]);
        return 2;
    }
    const char *path = argv[1], *mode = argv[2];
    int saturating = strcmp(mode, "saturate") == 0;
    if (!saturating && strcmp(mode, "in_step") != 0) die("mode must be saturate or in_step: %s", mode);
    double clients = parse_number(argv[3], "CLIENTS"), seconds = parse_number(argv[4], "SECONDS");
    double pace = parse_number(argv[5], "PACE"), start_at = parse_number(argv[6], "START_AT");
    double depth = argc == 8 ? parse_number(argv[7], "DEPTH") : 1;
    if (clients < 1 || clients > 100000 || clients != (double)(long)clients) die("bad CLIENTS: %s", argv[3]);
    if (depth < 1 || depth > 1000 || depth != (double)(long)depth) die("bad DEPTH: %s", argv[7]);
    if (!saturating && pace <= 0) die("in_step needs PACE > 0");
    nconns = (long)clients;

    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL); /* wake at the tick, not up to 50 us after it */
    conns = calloc((size_t)nconns, sizeof *conns);
    send_buf = malloc(PING_LEN * (size_t)depth);
    long nticks = saturating ? 0 : (long)(seconds / pace); /* as Python's int(seconds / pace) */
    double *latencies = malloc(sizeof(double) * (size_t)(nticks * nconns + 1));
    if (!conns || !send_buf || !latencies) die("out of memory");
    for (long i = 0; i < (long)depth; i++) memcpy(send_buf + PING_LEN * (size_t)i, PING, PING_LEN);

    connect_all(path);
    int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (timer < 0) die("timerfd_create: %s", strerror(errno));
    int ep = make_epoll(timer);
    int64_t start_ns = seconds_to_ns(start_at);
    struct timespec start_ts = to_timespec(start_ns);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &start_ts, NULL) == EINTR) {
    }

    long count = 0, late = 0, measured = 0;
    if (saturating)
        count = saturate(ep, timer, start_ns + seconds_to_ns(seconds), (long)depth);
    else
        measured = in_step(ep, timer, start_ns, pace, nticks, latencies, &late);

    printf("{\"count\": %ld, \"latencies\": [", count);
    for (long i = 0; i < measured; i++) printf(i ? ", %.9g" : "%.9g", latencies[i]);
    printf("], \"late\": %ld}\n", late);
    if (fflush(stdout) != 0) die("write stdout: %s", strerror(errno));
    for (long i = 0; i < nconns; i++) close(conns[i].fd);
    return 0;
}
