/* udp-dropper.h — a user-space lossy link for tests (tc has no netem here).
 *
 * A UDP forwarder on the caller's libev loop: datagrams sent to its front
 * address go to `to`, replies go back to the last client address seen (so a
 * client that rebinds keeps working).  Each datagram, either way, is dropped
 * with probability `loss` and otherwise delivered after `delay_ms`.
 */
#ifndef VX6_TESTS_UDP_DROPPER_H
#define VX6_TESTS_UDP_DROPPER_H

#include <stdint.h>
#include <sys/socket.h>

struct ev_loop;
struct udp_dropper;

struct udp_dropper_stats {
    uint64_t forwarded, dropped;
};

/* Listen on the loopback address of to's family, port chosen by the kernel.
 * Returns NULL (errno set) on failure. */
struct udp_dropper *udp_dropper_new(struct ev_loop *loop, const struct sockaddr *to,
                                    socklen_t tolen);
void udp_dropper_free(struct udp_dropper *d);
/* loss in [0, 1]; 1 drops everything (a dead link). */
void udp_dropper_set(struct udp_dropper *d, double loss, uint32_t delay_ms);
void udp_dropper_addr(const struct udp_dropper *d, struct sockaddr_storage *ss, socklen_t *len);
void udp_dropper_stats(const struct udp_dropper *d, struct udp_dropper_stats *st);

#endif
