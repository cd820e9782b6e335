/* tcp.h — TCP + Noise transport: internals beyond transport.h.
 *
 * These are hooks for the daemon (learnt keys), tests and benchmarks.  The
 * session protocol itself is described in frame.h and vx6-protocol(7).
 */
#ifndef VX6_TRANSPORT_TCP_H
#define VX6_TRANSPORT_TCP_H

#include <stdint.h>

#include "crypto/identity.h"
#include "transport/transport.h"

/* Remember a node's Ed25519 key (e.g. from a signed record) so later dials to
 * its node ID use the one-round-trip Noise IK pattern instead of XX.  Keys
 * proven in a completed handshake are remembered the same way.  0, or
 * VX_ERR_CRYPTO if pk is not a valid Ed25519 point. */
int vx_transport_learn_key(struct vx_transport *t, const uint8_t pk[VX_PK_LEN]);

/* Restrict the AEADs this transport offers and accepts: a mask of
 * (1u << enum vx_aead).  AES-GCM is still only used where the CPU has it.
 * VX_ERR_INVAL if nothing usable remains. */
#define VX_AEAD_MASK_ALL ((1u << 1) | (1u << 2))
int vx_transport_tcp_set_aeads(struct vx_transport *t, unsigned mask);

struct vx_tcp_counters {
    uint64_t xx_handshakes; /* completed, either role */
    uint64_t ik_handshakes; /* completed, either role */
    uint64_t rekeys_tx;     /* REKEY frames sent */
    uint64_t rekeys_rx;     /* REKEY frames received */
    uint64_t records_in;    /* records authenticated */
    uint64_t records_out;   /* records sealed */
};
void vx_transport_tcp_counters(const struct vx_transport *t, struct vx_tcp_counters *c);

/* Address of the first listener (e.g. to learn the port after binding port
 * 0).  0, VX_ERR_NOTFOUND (not listening) or VX_ERR_SYS. */
int vx_transport_tcp_local_addr(const struct vx_transport *t, struct sockaddr_storage *ss,
                                socklen_t *len);

#endif
